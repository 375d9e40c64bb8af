// How `stoa job list`, `stoa job history` and `stoa job run --wait` print the
// batch framework's jobs and runs for people: aligned tables and a progress
// bar, from Metronome's JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace stoa::cli {

// A Metronome time relative to `now` (seconds since the epoch): "42s ago",
// "in 3m", "2h ago", "5d ago"; "-" when it is null or not a time.
std::string TimeAgo(const nlohmann::json& time, double now);
// "0.4s", "12.3s", "3m04s", "2h05m".
std::string DurationText(double seconds);

// One row per job of GET /v1/jobs?embed=activeRuns&embed=historySummary: id,
// schedule and its next run, active runs, last success and failure, counts.
std::string JobListText(const nlohmann::json& jobs, double now);
// The job's counts, then one row per finished run of GET /v1/jobs/{id}?embed=history,
// newest first: id, status, created, duration, tasks ok/failed, reason.
std::string HistoryText(const nlohmann::json& job, double now);
// A run's progress (GET .../runs/{runId}), for `completions` tasks: its status,
// and with more than one task a bar of those that succeeded,
// "ACTIVE [########------------] 8/20 succeeded, 1 failed, 5 active".
std::string RunProgressText(const nlohmann::json& run, int64_t completions);

}  // namespace stoa::cli

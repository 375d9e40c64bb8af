// What `stoa job` needs to talk to the batch framework's Metronome API: where
// it is, job and run paths, Metronome's refusals with what to do about them,
// and finding a job's runs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/http_client.hpp"

namespace stoa::cli {

// Where `stoa up` starts the batch framework, and so where `stoa job` looks
// when neither --batch nor $STOA_BATCH says otherwise.
inline constexpr const char* kDefaultBatchUrl = "http://127.0.0.1:9000";

// The batch framework: --batch, $STOA_BATCH, kDefaultBatchUrl, port 9000.
extern const FrameworkApi kBatchApi;

// "/v1/jobs/ID" with the id percent-encoded; "/v1/jobs/ID/runs/RUN" with a run.
std::string JobPath(const std::string& id);
std::string RunPath(const std::string& id, const std::string& run_id);

// DescribeRefusal, and what to do about Metronome's conflicts: active runs
// (--stop-runs), dependent jobs, a job that does not exist (`stoa job list`).
std::string DescribeJobRefusal(const HttpReply& reply);

// A job's runs as GET /v1/jobs/{id}?embed=activeRuns&embed=history gives
// them, each with its "tasks" as objects (id, status, sandbox, ...): the
// active runs' "tasks", the finished ones' "taskDetails", and "status"
// (SUCCESS or FAILED) added to the finished ones. Newest first.
nlohmann::json RunsNewestFirst(const nlohmann::json& job);

// Seconds since the epoch of Metronome's "2016-07-15T13:02:59.735+0000";
// negative when `text` is not such a time.
double ParseMetronomeTime(const std::string& text);

}  // namespace stoa::cli

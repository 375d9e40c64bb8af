// The batch API's answers in Metronome's shapes: runs, history, schedules
// with their next run, the launch queue; timestamps as Metronome writes them.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "frameworks/batch/core.hpp"

namespace stoa::batch {

// "2016-07-15T13:02:59.735+0000" (Metronome's pattern, in UTC).
std::string MetronomeTime(double seconds);

// Metronome's JobRun: id, jobId, status, createdAt, completedAt, tasks (id,
// startedAt, completedAt, status), and Stoa's additions: the run's reason,
// its task counts and, per task, its agent, exit status and sandbox link.
nlohmann::json RunJson(const JobRun& run, const FrameworkId& framework_id);
nlohmann::json HistoryJson(const JobHistory& history, const FrameworkId& framework_id);
nlohmann::json HistorySummaryJson(const JobHistory& history);
nlohmann::json ScheduleJson(const ScheduleView& schedule);

// What `embed` adds to a job (its schedules come with every job, as in Metronome).
struct Embeds {
  bool active_runs = false, history = false, history_summary = false;
};
// The values of `embed` query parameters; an unknown one is an error.
Result<Embeds> ParseEmbeds(const std::vector<std::string>& values);
nlohmann::json JobJson(const JobView& job, const Embeds& embeds, const FrameworkId& framework_id);
nlohmann::json QueueJson(const std::map<std::string, std::vector<std::string>>& queue);

}  // namespace stoa::batch

// How the batch framework's records are written to Storage, as JSON: runs
// with their tasks, finished runs' summaries, a job's counts, ticks. Job and
// schedule specs are stored as the API renders them (job_json).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "common/status.hpp"
#include "frameworks/batch/run.hpp"
#include "frameworks/batch/store.hpp"

namespace stoa::batch {

// The run without the tasks in `leave_out` (those kept in records of ended tasks).
nlohmann::json StoredRunJson(const JobRun& run, const std::set<TaskId>& leave_out = {});
nlohmann::json StoredTasksJson(const std::vector<const RunTask*>& tasks);
// Throws nothing: an error says what is wrong.
Result<std::vector<RunTask>> ParseStoredTasks(const nlohmann::json& value);
Result<JobRun> ParseStoredRun(const nlohmann::json& value);
nlohmann::json StoredSummaryJson(const RunSummary& summary);
Result<RunSummary> ParseStoredSummary(const nlohmann::json& value);
nlohmann::json StoredCountsJson(const JobHistory& history);
// Fills the counts of `history` (its runs come from the summaries).
Status ParseStoredCounts(const nlohmann::json& value, JobHistory* history);
nlohmann::json StoredTickJson(const TickRecord& tick);
Result<TickRecord> ParseStoredTick(const nlohmann::json& value);

}  // namespace stoa::batch

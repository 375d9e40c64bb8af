// How the batch framework's records are written to Storage, as JSON: runs
// with their tasks, finished runs' summaries, a job's counts, ticks. Job and
// schedule specs are stored as the API renders them (job_json).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "common/status.hpp"
#include "frameworks/batch/run.hpp"
#include "frameworks/batch/store.hpp"

namespace stoa::batch {

nlohmann::json StoredRunJson(const JobRun& run);
Result<JobRun> ParseStoredRun(const nlohmann::json& value);
nlohmann::json StoredSummaryJson(const RunSummary& summary);
Result<RunSummary> ParseStoredSummary(const nlohmann::json& value);
nlohmann::json StoredCountsJson(const JobHistory& history);
// Fills the counts of `history` (its runs come from the summaries).
Status ParseStoredCounts(const nlohmann::json& value, JobHistory* history);
nlohmann::json StoredTickJson(const TickRecord& tick);
Result<TickRecord> ParseStoredTick(const nlohmann::json& value);

}  // namespace stoa::batch

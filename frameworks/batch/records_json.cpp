#include "frameworks/batch/records_json.hpp"

#include <nlohmann/json.hpp>

#include "frameworks/batch/job_json.hpp"

namespace stoa::batch {

using json = nlohmann::json;

namespace {

std::optional<TaskState> TaskStateNamed(const std::string& name) {
  for (int i = 0; i < kTaskStateCount; ++i) {
    auto state = static_cast<TaskState>(i);
    if (name == ToString(state)) return state;
  }
  return std::nullopt;
}

std::optional<RunStatus> RunStatusNamed(const std::string& name) {
  for (RunStatus status : {RunStatus::kInitial, RunStatus::kStarting, RunStatus::kActive,
                           RunStatus::kSuccess, RunStatus::kFailed}) {
    if (name == ToString(status)) return status;
  }
  return std::nullopt;
}

json OptionalNumber(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

std::optional<double> NumberOrNone(const json& value, const char* key) {
  auto it = value.find(key);
  if (it == value.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

json TaskJson(const RunTask& task) {
  json value = {{"id", task.id},
                {"agentId", task.agent_id},
                {"executorId", task.executor_id},
                {"hostname", task.hostname},
                {"agentHttp", task.agent_http},
                {"index", task.index},
                {"state", ToString(task.state)},
                {"startedAt", task.started_at},
                {"completedAt", OptionalNumber(task.completed_at)},
                {"exitStatus", task.exit_status},
                {"message", task.message}};
  if (task.kill_sent) value["killSent"] = true;
  if (task.grouped) value["grouped"] = true;
  return value;
}

// Throws json::exception on a field of the wrong type (caught by the callers).
RunTask ParseTask(const json& value) {
  RunTask task;
  task.id = value.at("id").get<std::string>();
  task.agent_id = value.value("agentId", "");
  task.executor_id = value.value("executorId", "");
  task.hostname = value.value("hostname", "");
  task.agent_http = value.value("agentHttp", "");
  task.index = value.value("index", int64_t{-1});
  auto state = TaskStateNamed(value.value("state", ""));
  if (!state) throw json::other_error::create(501, "unknown task state", &value);
  task.state = *state;
  task.started_at = value.value("startedAt", 0.0);
  task.completed_at = NumberOrNone(value, "completedAt");
  task.exit_status = value.value("exitStatus", -1);
  task.message = value.value("message", "");
  task.grouped = value.value("grouped", false);
  task.kill_sent = value.value("killSent", false);
  return task;
}

}  // namespace

json StoredRunJson(const JobRun& run, const std::set<TaskId>& leave_out) {
  JobSpec spec;
  spec.id = run.job_id;
  spec.run = run.spec;
  json tasks = json::array();
  for (const auto& [id, task] : run.tasks) {
    if (leave_out.count(id) == 0) tasks.push_back(TaskJson(task));
  }
  return {{"id", run.id},
          {"jobId", run.job_id},
          {"status", ToString(run.status)},
          {"createdAt", run.created_at},
          {"completedAt", OptionalNumber(run.completed_at)},
          {"scheduleId", run.schedule_id},
          {"startingDeadlineSeconds", OptionalNumber(run.starting_deadline_seconds)},
          {"reason", run.reason},
          {"job", RenderJobSpec(spec)},
          {"succeeded", run.succeeded},
          {"failed", run.failed},
          {"doneIndexes", run.done_indexes},
          {"nextTask", run.next_task},
          {"nextLaunchAt", run.next_launch_at},
          {"tasks", tasks}};
}

Result<JobRun> ParseStoredRun(const json& value) {
  try {
    JobRun run;
    run.id = value.at("id").get<std::string>();
    run.job_id = value.at("jobId").get<std::string>();
    auto status = RunStatusNamed(value.at("status").get<std::string>());
    if (!status) return Status::Error("run " + run.id + ": unknown status");
    run.status = *status;
    run.created_at = value.at("createdAt").get<double>();
    run.completed_at = NumberOrNone(value, "completedAt");
    run.schedule_id = value.value("scheduleId", "");
    run.starting_deadline_seconds = NumberOrNone(value, "startingDeadlineSeconds");
    run.reason = value.value("reason", "");
    auto spec = ParseJobSpec(value.at("job"));
    if (!spec.ok()) return Status::Error("run " + run.id + ": its job spec: " + spec.error());
    run.spec = spec->run;
    run.succeeded = value.value("succeeded", int64_t{0});
    run.failed = value.value("failed", int64_t{0});
    run.done_indexes = value.value("doneIndexes", std::set<int64_t>{});
    run.next_task = value.value("nextTask", int64_t{0});
    run.next_launch_at = value.value("nextLaunchAt", 0.0);
    for (const json& task : value.at("tasks")) {
      RunTask parsed = ParseTask(task);
      run.tasks.emplace(parsed.id, std::move(parsed));
    }
    return run;
  } catch (const json::exception& e) {
    return Status::Error(std::string("not a run: ") + e.what());
  }
}

json StoredTasksJson(const std::vector<const RunTask*>& tasks) {
  json records = json::array();
  for (const RunTask* task : tasks) records.push_back(TaskJson(*task));
  return records;
}

Result<std::vector<RunTask>> ParseStoredTasks(const json& value) {
  if (!value.is_array()) return Status::Error("not a list of tasks");
  try {
    std::vector<RunTask> tasks;
    for (const json& task : value) tasks.push_back(ParseTask(task));
    return tasks;
  } catch (const json::exception& e) {
    return Status::Error(std::string("not a list of tasks: ") + e.what());
  }
}

json StoredSummaryJson(const RunSummary& summary) {
  json details = json::array();
  for (const RunTask& task : summary.task_details) details.push_back(TaskJson(task));
  return {{"id", summary.id},
          {"createdAt", summary.created_at},
          {"finishedAt", summary.finished_at},
          {"status", ToString(summary.status)},
          {"reason", summary.reason},
          {"succeeded", summary.succeeded},
          {"failed", summary.failed},
          {"completions", summary.completions},
          {"parallelism", summary.parallelism},
          {"tasks", summary.tasks},
          {"taskDetails", details}};
}

Result<RunSummary> ParseStoredSummary(const json& value) {
  try {
    RunSummary summary;
    summary.id = value.at("id").get<std::string>();
    summary.created_at = value.at("createdAt").get<double>();
    summary.finished_at = value.at("finishedAt").get<double>();
    auto status = RunStatusNamed(value.at("status").get<std::string>());
    if (!status || !IsFinished(*status)) return Status::Error("summary " + summary.id + ": status");
    summary.status = *status;
    summary.reason = value.value("reason", "");
    summary.succeeded = value.value("succeeded", int64_t{0});
    summary.failed = value.value("failed", int64_t{0});
    summary.completions = value.value("completions", int64_t{1});
    summary.parallelism = value.value("parallelism", int64_t{1});
    summary.tasks = value.value("tasks", std::vector<std::string>{});
    for (const json& task : value.value("taskDetails", json::array())) {
      summary.task_details.push_back(ParseTask(task));
    }
    return summary;
  } catch (const json::exception& e) {
    return Status::Error(std::string("not a run summary: ") + e.what());
  }
}

json StoredCountsJson(const JobHistory& history) {
  return {{"successCount", history.success_count},
          {"failureCount", history.failure_count},
          {"lastSuccessAt", OptionalNumber(history.last_success_at)},
          {"lastFailureAt", OptionalNumber(history.last_failure_at)}};
}

Status ParseStoredCounts(const json& value, JobHistory* history) {
  try {
    history->success_count = value.at("successCount").get<int64_t>();
    history->failure_count = value.at("failureCount").get<int64_t>();
    history->last_success_at = NumberOrNone(value, "lastSuccessAt");
    history->last_failure_at = NumberOrNone(value, "lastFailureAt");
    return Status::Ok();
  } catch (const json::exception& e) {
    return Status::Error(std::string("not a job's counts: ") + e.what());
  }
}

json StoredTickJson(const TickRecord& tick) {
  return {{"tick", tick.tick}, {"runId", tick.run_id}};
}

Result<TickRecord> ParseStoredTick(const json& value) {
  try {
    return TickRecord{value.at("tick").get<double>(), value.value("runId", "")};
  } catch (const json::exception& e) {
    return Status::Error(std::string("not a tick: ") + e.what());
  }
}

}  // namespace stoa::batch

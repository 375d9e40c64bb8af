#include "frameworks/batch/api_json.hpp"

#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "frameworks/batch/job_json.hpp"

namespace stoa::batch {

using json = nlohmann::json;

std::string MetronomeTime(double seconds) {
  auto millis = static_cast<long long>(std::floor(seconds * 1000));
  std::time_t whole = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[40];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%03lld+0000", millis % 1000);
  return text;
}

namespace {

json TimeOrNull(const std::optional<double>& seconds) {
  return seconds ? json(MetronomeTime(*seconds)) : json(nullptr);
}

std::string SandboxLink(const RunTask& task, const FrameworkId& framework_id) {
  if (task.agent_http.empty() || task.executor_id.empty()) return "";
  return "http://" + task.agent_http + "/files/read?framework_id=" + framework_id +
         "&executor_id=" + task.executor_id +
         "&path=" + (task.grouped ? "tasks/" + task.id + "/stdout" : "stdout");
}

json TaskJson(const RunTask& task, const FrameworkId& framework_id) {
  json value = {{"id", task.id},
                {"startedAt", MetronomeTime(task.started_at)},
                {"completedAt", TimeOrNull(task.completed_at)},
                {"status", ToString(task.state)},
                {"agentId", task.agent_id},
                {"host", task.hostname}};
  if (task.index >= 0) value["index"] = task.index;
  if (task.completed_at) value["exitStatus"] = task.exit_status;
  if (!task.message.empty()) value["message"] = task.message;
  if (std::string link = SandboxLink(task, framework_id); !link.empty()) value["sandbox"] = link;
  return value;
}

json RunInfoJson(const RunSummary& summary, const FrameworkId& framework_id) {
  json details = json::array();
  for (const RunTask& task : summary.task_details) details.push_back(TaskJson(task, framework_id));
  json value = {{"id", summary.id},
                {"createdAt", MetronomeTime(summary.created_at)},
                {"finishedAt", MetronomeTime(summary.finished_at)},
                {"tasks", summary.tasks},
                {"durationSeconds", summary.finished_at - summary.created_at},
                {"tasksSucceeded", summary.succeeded},
                {"tasksFailed", summary.failed},
                {"taskDetails", details}};
  if (!summary.reason.empty()) value["reason"] = summary.reason;
  return value;
}

}  // namespace

json RunJson(const JobRun& run, const FrameworkId& framework_id) {
  json tasks = json::array();
  for (const auto& [id, task] : run.tasks) tasks.push_back(TaskJson(task, framework_id));
  json value = {{"id", run.id},
                {"jobId", run.job_id},
                {"status", ToString(run.status)},
                {"createdAt", MetronomeTime(run.created_at)},
                {"completedAt", TimeOrNull(run.completed_at)},
                {"tasks", tasks},
                {"completions", run.completions()},
                {"parallelism", run.parallelism()},
                {"tasksSucceeded", run.succeeded},
                {"tasksFailed", run.failed},
                {"tasksActive", run.active_tasks()}};
  if (!run.reason.empty()) value["reason"] = run.reason;
  if (!run.schedule_id.empty()) value["scheduleId"] = run.schedule_id;
  return value;
}

json HistorySummaryJson(const JobHistory& history) {
  return {{"successCount", history.success_count},
          {"failureCount", history.failure_count},
          {"lastSuccessAt", TimeOrNull(history.last_success_at)},
          {"lastFailureAt", TimeOrNull(history.last_failure_at)}};
}

json HistoryJson(const JobHistory& history, const FrameworkId& framework_id) {
  json value = HistorySummaryJson(history);
  json successful = json::array(), failed = json::array();
  for (const RunSummary& run : history.successful)
    successful.push_back(RunInfoJson(run, framework_id));
  for (const RunSummary& run : history.failed) failed.push_back(RunInfoJson(run, framework_id));
  value["successfulFinishedRuns"] = successful;
  value["failedFinishedRuns"] = failed;
  return value;
}

json ScheduleJson(const ScheduleView& schedule) {
  json value = RenderScheduleSpec(schedule.spec);
  if (schedule.next_run_at) value["nextRunAt"] = MetronomeTime(*schedule.next_run_at);
  return value;
}

Result<Embeds> ParseEmbeds(const std::vector<std::string>& values) {
  Embeds embeds;
  std::vector<std::string> names;  // repeated, or separated by commas
  for (const std::string& value : values) {
    size_t start = 0;
    for (size_t comma; (comma = value.find(',', start)) != std::string::npos; start = comma + 1) {
      names.push_back(value.substr(start, comma - start));
    }
    names.push_back(value.substr(start));
  }
  for (const std::string& value : names) {
    if (value == "activeRuns") {
      embeds.active_runs = true;
    } else if (value == "schedules") {
      // Deprecated in Metronome: schedules come with every job.
    } else if (value == "history") {
      embeds.history = true;
    } else if (value == "historySummary") {
      embeds.history_summary = true;
    } else {
      return Status::Error(
          "Unknown embed options. Valid options are: activeRuns, schedules, "
          "history, historySummary; not '" +
          value + "'");
    }
  }
  return embeds;
}

json JobJson(const JobView& job, const Embeds& embeds, const FrameworkId& framework_id) {
  json value = RenderJobSpec(job.spec);
  {  // with every job, as Metronome has since embed=schedules was deprecated
    json schedules = json::array();
    for (const ScheduleView& schedule : job.schedules) schedules.push_back(ScheduleJson(schedule));
    value["schedules"] = schedules;
  }
  if (embeds.active_runs) {
    json runs = json::array();
    for (const JobRun& run : job.active_runs) runs.push_back(RunJson(run, framework_id));
    value["activeRuns"] = runs;
  }
  if (embeds.history) value["history"] = HistoryJson(job.history, framework_id);
  if (embeds.history_summary) value["historySummary"] = HistorySummaryJson(job.history);
  return value;
}

json QueueJson(const std::map<std::string, std::vector<std::string>>& queue) {
  json value = json::array();
  for (const auto& [job_id, runs] : queue) {
    json entries = json::array();
    for (const std::string& run : runs) entries.push_back({{"runId", run}});
    value.push_back({{"jobId", job_id}, {"runs", entries}});
  }
  return value;
}

}  // namespace stoa::batch

#include "frameworks/batch/store.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "frameworks/batch/job_json.hpp"
#include "frameworks/batch/records_json.hpp"

namespace stoa::batch {

using json = nlohmann::json;

namespace {

constexpr const char* kFrameworkKey = "framework/id";

std::string JobKey(const std::string& id) { return "jobs/" + id; }
std::string ScheduleKey(const std::string& job, const std::string& id) {
  return "schedules/" + job + "/" + id;
}
std::string TickKey(const std::string& job, const std::string& id) {
  return "ticks/" + job + "/" + id;
}
std::string RunKey(const std::string& job, const std::string& id) {
  return "runs/" + job + "/" + id;
}
constexpr size_t kTasksPerRecord = 100;
std::string EndedTasksPrefix(const std::string& job, const std::string& run) {
  return "runtasks/" + job + "/" + run + "/";
}
std::string HistoryKey(const std::string& job, const std::string& id) {
  return "history/" + job + "/" + id;
}
std::string CountsKey(const std::string& job) { return "counts/" + job; }

// Text that is not UTF-8 (a task's message) is replaced, never thrown on.
std::string Text(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// "<prefix><job>/<rest>": the job and the rest.
std::pair<std::string, std::string> Split(const std::string& key, const std::string& prefix) {
  std::string tail = key.substr(prefix.size());
  size_t slash = tail.find('/');
  if (slash == std::string::npos) return {tail, ""};
  return {tail.substr(0, slash), tail.substr(slash + 1)};
}

}  // namespace

BatchStore::BatchStore(std::unique_ptr<Storage> storage) : state_(std::move(storage)) {}

Result<BatchStore::Contents> BatchStore::Load() {
  Contents contents;
  auto framework = state_.Get(kFrameworkKey);
  if (!framework.ok()) return framework.status();
  if (framework->has_value()) contents.framework_id = **framework;

  // Each record under `prefix`, parsed as JSON and handed to `take` (which
  // says why it skips one).
  auto each = [&](const std::string& prefix, auto take) -> Status {
    auto stored = state_.Scan(prefix);
    if (!stored.ok()) return stored.status();
    for (const auto& [key, text] : *stored) {
      if (text.empty()) continue;  // a directory left empty (ZooKeeper), not a record
      json value = json::parse(text, nullptr, false);
      std::string why = value.is_discarded() ? "not JSON" : take(key, value);
      if (!why.empty()) contents.skipped.push_back(key + ": " + why);
    }
    return Status::Ok();
  };
  std::map<std::string, StoredJob> jobs;
  Status s = each("jobs/", [&](const std::string& key, const json& value) -> std::string {
    auto spec = ParseJobSpec(value);
    if (!spec.ok()) return spec.error();
    if (JobKey(spec->id) != key) return "its id is " + spec->id;
    jobs[spec->id].spec = std::move(*spec);
    return "";
  });
  if (!s.ok()) return s;
  // The records of a job that is gone are left out (a delete cut short).
  auto job_of = [&](const std::string& key, const std::string& prefix) -> StoredJob* {
    auto found = jobs.find(Split(key, prefix).first);
    return found == jobs.end() ? nullptr : &found->second;
  };
  s = each("schedules/", [&](const std::string& key, const json& value) -> std::string {
    StoredJob* job = job_of(key, "schedules/");
    if (job == nullptr) return "no such job";
    auto schedule = ParseScheduleSpec(value);
    if (!schedule.ok()) return schedule.error();
    job->schedules.push_back(std::move(*schedule));
    return "";
  });
  if (!s.ok()) return s;
  s = each("ticks/", [&](const std::string& key, const json& value) -> std::string {
    StoredJob* job = job_of(key, "ticks/");
    if (job == nullptr) return "no such job";
    auto tick = ParseStoredTick(value);
    if (!tick.ok()) return tick.error();
    job->ticks[Split(key, "ticks/").second] = *tick;
    return "";
  });
  if (!s.ok()) return s;
  s = each("runs/", [&](const std::string& key, const json& value) -> std::string {
    StoredJob* job = job_of(key, "runs/");
    if (job == nullptr) return "no such job";
    auto run = ParseStoredRun(value);
    if (!run.ok()) return run.error();
    if (RunKey(run->job_id, run->id) != key) return "it is run " + run->id + " of " + run->job_id;
    job->runs.push_back(std::move(*run));
    return "";
  });
  if (!s.ok()) return s;
  // Ended tasks, into their runs, record by record in order.
  std::map<std::string, std::map<size_t, std::vector<RunTask>>> ended;  // run key -> n -> tasks
  s = each("runtasks/", [&](const std::string& key, const json& value) -> std::string {
    auto [job_id, rest] = Split(key, "runtasks/");
    size_t slash = rest.find('/');
    if (slash == std::string::npos) return "not runtasks/<job>/<run>/<n>";
    size_t n = 0;
    try {
      n = std::stoul(rest.substr(slash + 1));
    } catch (const std::exception&) {
      return "not runtasks/<job>/<run>/<n>";
    }
    auto tasks = ParseStoredTasks(value);
    if (!tasks.ok()) return tasks.error();
    ended[RunKey(job_id, rest.substr(0, slash))][n] = std::move(*tasks);
    return "";
  });
  if (!s.ok()) return s;
  for (auto& [job_id, job] : jobs) {
    for (JobRun& run : job.runs) {
      auto found = ended.find(RunKey(job_id, run.id));
      if (found == ended.end()) continue;
      EndedTasks& kept = ended_[found->first];
      for (auto& [n, tasks] : found->second) {
        for (RunTask& task : tasks) {
          // A run record that still holds the task was written before the
          // ended copy, in a write cut short by a crash: its counts do not
          // have the task's end yet, so the task stays as the record has it
          // (and is not taken as written: it is the tail of the last records,
          // which the next PutRun writes again) and counts when the agent
          // sends its unacknowledged update again.
          if (run.tasks.count(task.id) > 0) continue;
          kept.order.push_back(task.id);
          kept.written.insert(task.id);
          run.tasks.emplace(task.id, std::move(task));
        }
      }
    }
  }
  s = each("counts/", [&](const std::string& key, const json& value) -> std::string {
    StoredJob* job = job_of(key, "counts/");
    if (job == nullptr) return "no such job";
    Status parsed = ParseStoredCounts(value, &job->history);
    return parsed.ok() ? "" : parsed.message();
  });
  if (!s.ok()) return s;
  s = each("history/", [&](const std::string& key, const json& value) -> std::string {
    StoredJob* job = job_of(key, "history/");
    if (job == nullptr) return "no such job";
    auto summary = ParseStoredSummary(value);
    if (!summary.ok()) return summary.error();
    // Counts written with a summary and not (yet) in the counts' own record.
    JobHistory after;
    if (value.contains("countsAfter") && ParseStoredCounts(value["countsAfter"], &after).ok() &&
        after.success_count + after.failure_count >
            job->history.success_count + job->history.failure_count) {
      job->history.success_count = after.success_count;
      job->history.failure_count = after.failure_count;
      job->history.last_success_at = after.last_success_at;
      job->history.last_failure_at = after.last_failure_at;
    }
    auto& kept =
        summary->status == RunStatus::kSuccess ? job->history.successful : job->history.failed;
    kept.push_back(std::move(*summary));
    return "";
  });
  if (!s.ok()) return s;
  for (auto& [id, job] : jobs) {
    std::set<std::string> finished;
    for (auto* kept : {&job.history.successful, &job.history.failed}) {
      std::sort(kept->begin(), kept->end(), [](const RunSummary& a, const RunSummary& b) {
        return a.finished_at > b.finished_at;
      });
      for (const RunSummary& summary : *kept) finished.insert(summary.id);
    }
    // A run that finished but whose active record outlived it (a crash in
    // FinishRun) is finished.
    for (auto run = job.runs.begin(); run != job.runs.end();) {
      if (finished.count(run->id) == 0) {
        ++run;
        continue;
      }
      if (Status removed = RemoveEndedTasks(id, run->id); !removed.ok()) return removed;
      if (Status removed = state_.Remove(RunKey(id, run->id)); !removed.ok()) return removed;
      run = job.runs.erase(run);
    }
    contents.jobs.push_back(std::move(job));
  }
  return contents;
}

Status BatchStore::PutFrameworkId(const FrameworkId& id) { return state_.Put(kFrameworkKey, id); }

Status BatchStore::PutJob(const JobSpec& spec) {
  return state_.Put(JobKey(spec.id), Text(RenderJobSpec(spec)));
}

Status BatchStore::DeleteJob(const std::string& id) {
  // The spec goes last: a delete cut short leaves the job, to be deleted
  // again, never records that a new job of that id would take up.
  for (const char* prefix : {"schedules/", "ticks/", "runtasks/", "runs/", "history/"}) {
    auto stored = state_.Scan(std::string(prefix) + id + "/");
    if (!stored.ok()) return stored.status();
    for (const auto& [key, value] : *stored) {
      if (Status s = state_.Remove(key); !s.ok()) return s;
    }
  }
  if (Status s = state_.Remove(CountsKey(id)); !s.ok()) return s;
  return state_.Remove(JobKey(id));
}

Status BatchStore::PutSchedule(const std::string& job_id, const ScheduleSpec& spec) {
  return state_.Put(ScheduleKey(job_id, spec.id), Text(RenderScheduleSpec(spec)));
}

Status BatchStore::DeleteSchedule(const std::string& job_id, const std::string& schedule_id) {
  if (Status s = state_.Remove(ScheduleKey(job_id, schedule_id)); !s.ok()) return s;
  return state_.Remove(TickKey(job_id, schedule_id));
}

Status BatchStore::PutTick(const std::string& job_id, const std::string& schedule_id,
                           const TickRecord& tick) {
  return state_.Put(TickKey(job_id, schedule_id), Text(StoredTickJson(tick)));
}

Status BatchStore::PutRun(const JobRun& run) {
  std::string key = RunKey(run.job_id, run.id);
  EndedTasks& ended = ended_[key];
  std::vector<TaskId> order = ended.order;
  for (const auto& [id, task] : run.tasks) {
    if (IsTerminal(task.state) && ended.written.count(id) == 0) order.push_back(id);
  }
  // The records the new ones fall in: the last one written, and any after it.
  for (size_t n = ended.order.size() / kTasksPerRecord;
       order.size() > ended.order.size() && n * kTasksPerRecord < order.size(); ++n) {
    std::vector<const RunTask*> tasks;
    for (size_t i = n * kTasksPerRecord; i < std::min(order.size(), (n + 1) * kTasksPerRecord);
         ++i) {
      tasks.push_back(&run.tasks.at(order[i]));
    }
    std::string record = EndedTasksPrefix(run.job_id, run.id) + std::to_string(n);
    if (Status s = state_.Put(record, Text(StoredTasksJson(tasks))); !s.ok()) return s;
  }
  for (size_t i = ended.order.size(); i < order.size(); ++i) ended.written.insert(order[i]);
  ended.order = std::move(order);
  return state_.Put(key, Text(StoredRunJson(run, ended.written)));
}

Status BatchStore::RemoveEndedTasks(const std::string& job_id, const std::string& run_id) {
  ended_.erase(RunKey(job_id, run_id));
  std::string prefix = EndedTasksPrefix(job_id, run_id);
  auto stored = state_.Scan(prefix);
  if (!stored.ok()) return stored.status();
  for (const auto& [key, value] : *stored) {
    if (Status s = state_.Remove(key); !s.ok()) return s;
  }
  // And their directory, which ZooKeeper would otherwise keep for every run.
  return state_.Remove(prefix.substr(0, prefix.size() - 1));
}

Status BatchStore::FinishRun(const std::string& job_id, const RunSummary& summary,
                             const JobHistory& counts, const std::vector<std::string>& dropped) {
  // The summary carries the counts as they are with it: a crash before the
  // counts' own record or the run's removal loses nothing and counts nothing
  // twice (see Load).
  json record = StoredSummaryJson(summary);
  record["countsAfter"] = StoredCountsJson(counts);
  if (Status s = state_.Put(HistoryKey(job_id, summary.id), Text(record)); !s.ok()) return s;
  if (Status s = state_.Put(CountsKey(job_id), Text(StoredCountsJson(counts))); !s.ok()) return s;
  if (Status s = RemoveEndedTasks(job_id, summary.id); !s.ok()) return s;
  if (Status s = state_.Remove(RunKey(job_id, summary.id)); !s.ok()) return s;
  for (const std::string& id : dropped) {
    if (Status s = state_.Remove(HistoryKey(job_id, id)); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace stoa::batch

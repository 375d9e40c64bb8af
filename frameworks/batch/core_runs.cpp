// Runs: matching their tasks to offers, following their tasks' updates, and
// ending them (success, failure, deadlines, stop).
#include <algorithm>
#include <cmath>
#include <regex>

#include "common/logging.hpp"
#include "frameworks/batch/core.hpp"

namespace stoa::batch {
namespace {

std::string Seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

bool Keeps(const JobConstraint& constraint, const Offer& offer) {
  std::optional<std::string> value;
  if (constraint.attribute == "hostname") {
    value = offer.hostname;
  } else {
    for (const auto& [name, v] : offer.attributes) {
      if (name == constraint.attribute) value = v;
    }
  }
  if (constraint.op == "IS" || constraint.op == "EQ") return value && *value == constraint.value;
  bool like = false;
  if (value) {
    try {
      like = std::regex_match(*value, std::regex(constraint.value));
    } catch (const std::regex_error&) {
      like = false;  // validated at submission; a bad pattern matches nothing
    }
  }
  return constraint.op == "LIKE" ? like : !like;
}

bool KeepsAll(const RunSpec& spec, const Offer& offer) {
  return std::all_of(spec.constraints.begin(), spec.constraints.end(),
                     [&](const JobConstraint& c) { return Keeps(c, offer); });
}

Resources TaskResources(const RunSpec& spec) {
  Resources resources = Resources::Scalar("cpus", spec.cpus) + Resources::Scalar("mem", spec.mem);
  if (spec.disk > 0) resources += Resources::Scalar("disk", spec.disk);
  return resources;
}

TaskInfo BuildTask(const JobRun& run, const RunTask& task, const Offer& offer,
                   const Resources& resources, const std::string& default_user) {
  const RunSpec& spec = run.spec;
  TaskInfo info;
  info.task_id = task.id;
  info.name = run.job_id;
  info.agent_id = offer.agent_id;
  info.resources = resources;
  if (spec.cmd.empty() && !spec.args.empty()) {
    info.command.shell = false;
    info.command.value = spec.args.front();
    info.command.arguments = spec.args;
  } else {
    info.command.value = spec.cmd;
  }
  info.command.user = spec.user.empty() ? default_user : spec.user;
  Labels& env = info.command.environment;
  env.emplace_back("MESOS_TASK_ID", task.id);
  env.emplace_back("STOA_JOB_ID", run.job_id);
  env.emplace_back("STOA_RUN_ID", run.id);
  if (task.index >= 0) env.emplace_back("STOA_TASK_INDEX", std::to_string(task.index));
  for (const auto& [name, value] : spec.env) env.emplace_back(name, value);
  info.labels.emplace_back("STOA_JOB_ID", run.job_id);
  info.labels.emplace_back("STOA_RUN_ID", run.id);
  if (spec.task_kill_grace_period_seconds) {
    info.kill_grace_period_ms = std::llround(*spec.task_kill_grace_period_seconds * 1000);
  }
  info.container.rootfs = spec.rootfs;
  for (const auto& volume : spec.volumes) {
    info.container.volumes.push_back(
        Volume{volume.host_path, volume.container_path, volume.mode != "RW"});
  }
  return info;
}

// Whether a task that ended had never started because its launch did not
// reach an executor (an offer gone, an executor that had just shut down): it
// is launched again, and is not a failure of the run.
bool NeverLaunched(const RunTask& task, TaskState before, const TaskStatus& status) {
  if (before != TaskState::kStaging || task.kill_sent) return false;
  return status.state == TaskState::kLost || status.state == TaskState::kDropped ||
         status.reason == Reason::kExecutorTerminated ||
         status.reason == Reason::kTaskKilledDuringLaunch;
}

// The indexes of an indexed run that neither succeeded nor run now, lowest first.
std::vector<int64_t> FreeIndexes(const JobRun& run, int64_t want) {
  std::set<int64_t> busy = run.done_indexes;
  for (const auto& [id, task] : run.tasks) {
    if (!IsTerminal(task.state)) busy.insert(task.index);
  }
  std::vector<int64_t> free;
  for (int64_t i = 0; i < run.completions() && static_cast<int64_t>(free.size()) < want; ++i) {
    if (busy.count(i) == 0) free.push_back(i);
  }
  return free;
}

// Tasks the run would launch now.
int64_t Wanted(const JobRun& run, double now) {
  if (IsFinished(run.status) || now < run.next_launch_at) return 0;
  int64_t left = run.completions() - run.succeeded;
  int64_t active = run.active_tasks();
  return std::max<int64_t>(0, std::min(run.parallelism(), left) - active);
}

}  // namespace

std::optional<int64_t> JobRun::failure_limit() const {
  if (spec.backoff_limit) return spec.backoff_limit;
  if (spec.restart_policy == RestartPolicy::kNever) return 0;
  return std::nullopt;
}

ExecutorId BatchCore::ExecutorFor(JobRun& run, const AgentId& agent_id, double now) {
  JobRun::GroupExecutor& executor = run.executors[agent_id];
  // The agent keeps an idle executor for executor_idle_timeout after the last
  // update it sent was acknowledged; half of that is left for what is on the
  // way. Beyond it, a new executor (named after its first task, so unique).
  // Its sandbox keeps each task's: after kTasksPerExecutor a new one starts,
  // and the old one's sandbox goes to the agent's collector once it ends.
  constexpr int64_t kTasksPerExecutor = 1000;
  if (executor.id.empty() || options_.executor_idle_timeout <= 0 ||
      now - executor.last_used > options_.executor_idle_timeout / 2 ||
      executor.tasks >= kTasksPerExecutor) {
    executor = {run.job_id + "_" + run.id + ".group-" + std::to_string(run.next_task), now, 0};
  }
  executor.last_used = now;
  return executor.id;
}

int64_t JobRun::active_tasks() const {
  return std::count_if(tasks.begin(), tasks.end(),
                       [](const auto& entry) { return !IsTerminal(entry.second.state); });
}

void BatchCore::Offers(const std::vector<Offer>& offers) {
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.offers_received += static_cast<int64_t>(offers.size());
  double now = clock_();
  struct Pending {
    JobRun* run;
    int64_t want;
    Resources need;
  };
  std::vector<Pending> pending;
  for (auto& [job_id, job] : jobs_) {
    for (auto& [run_id, run] : job.runs) {
      if (int64_t want = Wanted(run, now); want > 0) {
        pending.push_back({&run, want, TaskResources(run.spec)});
      }
    }
  }
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    return a.run->created_at < b.run->created_at;
  });
  for (const Offer& offer : offers) {
    Resources remaining = offer.resources;
    // A task group per run: one executor forks them all, instead of an
    // executor and a container for each task.
    std::vector<Operation> groups;
    size_t launching = 0;
    std::set<JobRun*> changed;
    for (Pending& p : pending) {
      if (p.want == 0 || !KeepsAll(p.run->spec, offer)) continue;
      int64_t fit = 0;
      Resources left = remaining;
      while (fit < p.want && left.Contains(p.need)) {
        left -= p.need;
        ++fit;
      }
      if (fit == 0) continue;
      std::vector<int64_t> indexes;
      if (p.run->spec.indexed) indexes = FreeIndexes(*p.run, fit);
      if (p.run->spec.indexed) fit = static_cast<int64_t>(indexes.size());
      if (fit == 0) continue;
      Operation& group = groups.emplace_back();
      group.type = Operation::Type::kLaunchGroup;
      group.executor.executor_id = ExecutorFor(*p.run, offer.agent_id, now);
      p.run->executors[offer.agent_id].tasks += fit;
      group.executor.idle_timeout_seconds = options_.executor_idle_timeout;
      for (int64_t i = 0; i < fit; ++i) {
        RunTask task;
        task.id = p.run->job_id + "_" + p.run->id + "." + std::to_string(p.run->next_task++);
        task.agent_id = offer.agent_id;
        task.hostname = offer.hostname;
        task.agent_http = offer.agent_http_address;
        task.index = p.run->spec.indexed ? indexes[static_cast<size_t>(i)] : -1;
        task.started_at = now;
        task.executor_id = group.executor.executor_id;
        task.grouped = true;
        group.tasks.push_back(BuildTask(*p.run, task, offer, p.need, options_.user));
        task_runs_[task.id] = {p.run->job_id, p.run->id};
        p.run->tasks.emplace(task.id, std::move(task));
        remaining -= p.need;
      }
      p.want -= fit;
      launching += static_cast<size_t>(fit);
      changed.insert(p.run);
    }
    if (groups.empty()) {
      ++counters_.offers_declined;
      actions_->Decline(offer.id, options_.decline_seconds);
      continue;
    }
    // Recorded before they are launched, so that no task runs unknown to the state.
    bool saved = true;
    for (JobRun* run : changed) saved = saved && SaveRun(*run).ok();
    if (!saved) {  // SaveRun called on_fatal
      actions_->Decline(offer.id, options_.decline_seconds);
      continue;
    }
    counters_.tasks_launched += static_cast<int64_t>(launching);
    actions_->Accept(offer, std::move(groups), options_.decline_seconds);
  }
  if (!WantsOffers()) {
    suppressed_ = true;
    actions_->Suppress();
  }
}

JobRun* BatchCore::FindRunOfTask(const TaskId& task_id, JobState** job) {
  auto where = task_runs_.find(task_id);
  if (where == task_runs_.end()) return nullptr;
  auto j = jobs_.find(where->second.first);
  if (j == jobs_.end()) return nullptr;
  auto r = j->second.runs.find(where->second.second);
  if (r == j->second.runs.end()) return nullptr;
  *job = &j->second;
  return &r->second;
}

void BatchCore::Update(const TaskStatus& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  JobState* job = nullptr;
  JobRun* run = FindRunOfTask(status.task_id, &job);
  bool write = false;
  if (run == nullptr) {
    // A task of no active run: one of a run that ended, or left from before
    // a loss of state. Nothing of ours should run it.
    if (!IsTerminal(status.state)) actions_->Kill(status.task_id, status.agent_id);
  } else if (RunTask& task = run->tasks.at(status.task_id); !IsTerminal(task.state)) {
    TaskState before = task.state;
    task.state = status.state;
    if (!status.agent_id.empty()) task.agent_id = status.agent_id;
    if (!status.executor_id.empty()) task.executor_id = status.executor_id;
    // Word from the executor itself: it is there (not an update the agent or
    // master made for a task that never reached it).
    if (auto executor = run->executors.find(task.agent_id);
        status.source == Source::kExecutor && executor != run->executors.end() &&
        executor->second.id == task.executor_id) {
      executor->second.last_used = clock_();
    }
    if (status.state == TaskState::kRunning) run->launch_losses = 0;
    dirty_runs_.emplace(run->job_id, run->id);
    write = true;
    if (IsTerminal(status.state)) {
      OnTaskEnded(*job, *run, task, status, NeverLaunched(task, before, status));
      // `run` may be gone now (it ended)
      ReviveIfNeeded();  // its place may go to another task
    } else if (run->status == RunStatus::kStarting &&
               (status.state == TaskState::kRunning || status.state == TaskState::kStarting)) {
      run->status = RunStatus::kActive;
    } else {
      write = false;  // a running task's news changes nothing the state keeps
    }
  }
  if (status.uuid.empty()) return;
  if (!write && unacknowledged_.empty()) {
    actions_->Acknowledge(status);
    return;
  }
  unacknowledged_.push_back(status);
  if (!options_.on_pending) {
    FlushLocked();
  } else if (unacknowledged_.size() == 1) {
    options_.on_pending();
  }
}

void BatchCore::Flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  FlushLocked();
}

void BatchCore::FlushLocked() {
  for (const auto& [job_id, run_id] : dirty_runs_) {
    auto job = jobs_.find(job_id);
    if (job == jobs_.end()) continue;
    auto run = job->second.runs.find(run_id);
    // A run that ended was written when it did.
    if (run != job->second.runs.end() && !SaveRun(run->second).ok()) return;
  }
  dirty_runs_.clear();
  for (const TaskStatus& status : unacknowledged_) actions_->Acknowledge(status);
  unacknowledged_.clear();
}

void BatchCore::OnTaskEnded(JobState& job, JobRun& run, RunTask& task, const TaskStatus& status,
                            bool never_launched) {
  double now = clock_();
  task.completed_at = now;
  task.exit_status = status.exit_status;
  task.message = status.message;
  // A few in a row are the executor shutting down as its group came, or an
  // offer gone; more mean the executor cannot start, and count as failures.
  constexpr int64_t kLaunchLossesForgiven = 3;
  if (never_launched && ++run.launch_losses <= kLaunchLossesForgiven) {
    Logger("batch")->info(
        "run {} of {}: task {} did not reach an executor ({}: {}); launching "
        "another, with a new executor",
        run.id, run.job_id, task.id, ToString(status.state), status.message);
    auto executor = run.executors.find(task.agent_id);
    if (executor != run.executors.end() && executor->second.id == task.executor_id) {
      run.executors.erase(executor);
    }
    return;
  }
  if (status.state == TaskState::kFinished) {
    ++counters_.tasks_finished;
    if (task.index < 0 || run.done_indexes.insert(task.index).second) ++run.succeeded;
    if (run.succeeded >= run.completions()) Finish(job, run, RunStatus::kSuccess, "");
    return;
  }
  ++counters_.tasks_failed;
  ++run.failed;
  std::string what = std::string("task ") + task.id + " ended " + ToString(status.state) +
                     (status.message.empty() ? "" : ": " + status.message);
  if (std::optional<int64_t> limit = run.failure_limit(); limit && run.failed > *limit) {
    std::string reason = *limit == 0 ? what
                                     : std::to_string(run.failed) + " tasks failed, more than " +
                                           "its backoffLimit of " + std::to_string(*limit) +
                                           "; the last: " + what;
    Finish(job, run, RunStatus::kFailed, reason);
    return;
  }
  // Retried after a delay that doubles with each failure.
  double delay = options_.retry_delay_seconds * std::pow(2.0, static_cast<double>(run.failed - 1));
  delay = std::min(delay, static_cast<double>(run.spec.max_launch_delay_seconds));
  run.next_launch_at = now + delay;
  Logger("batch")->info("run {} of {}: {}; retrying in {} s", run.id, run.job_id, what,
                        Seconds(delay));
}

void BatchCore::KillTasks(JobRun& run) {
  for (auto& [id, task] : run.tasks) {
    if (IsTerminal(task.state) || task.kill_sent) continue;
    task.kill_sent = true;
    actions_->Kill(id, task.agent_id);
  }
}

void BatchCore::Finish(JobState& job, JobRun& run, RunStatus status, const std::string& reason) {
  double now = clock_();
  run.status = status;
  run.completed_at = now;
  run.reason = reason;
  KillTasks(run);
  RunSummary summary;
  summary.id = run.id;
  summary.created_at = run.created_at;
  summary.finished_at = now;
  summary.status = status;
  summary.reason = reason;
  summary.succeeded = run.succeeded;
  summary.failed = run.failed;
  summary.completions = run.completions();
  summary.parallelism = run.parallelism();
  for (const auto& [id, task] : run.tasks) {
    summary.tasks.push_back(id);
    task_runs_.erase(id);
  }
  // Details of the failures first, then of the others, at most kTaskDetails.
  constexpr size_t kTaskDetails = 100;
  for (bool failures : {true, false}) {
    for (const auto& [id, task] : run.tasks) {
      bool failure = task.state != TaskState::kFinished;
      if (failure == failures && summary.task_details.size() < kTaskDetails) {
        summary.task_details.push_back(task);
      }
    }
  }
  JobHistory& history = job.history;
  std::vector<RunSummary>& kept =
      status == RunStatus::kSuccess ? history.successful : history.failed;
  if (status == RunStatus::kSuccess) {
    ++history.success_count;
    history.last_success_at = now;
    ++counters_.runs_succeeded;
  } else {
    ++history.failure_count;
    history.last_failure_at = now;
    ++counters_.runs_failed;
  }
  kept.insert(kept.begin(), summary);
  std::vector<std::string> dropped;
  while (kept.size() > options_.history_count) {
    dropped.push_back(kept.back().id);
    kept.pop_back();
  }
  Persist(store_->FinishRun(job.spec.id, summary, history, dropped));
  Logger("batch")->info("run {} of {} {}{}", run.id, run.job_id, ToString(status),
                        reason.empty() ? "" : ": " + reason);
  std::string job_id = job.spec.id;
  std::string run_id = run.id;
  job.runs.erase(run_id);  // `run` is gone from here on
  std::set<std::string> skipped;
  TriggerDependents(job_id, status == RunStatus::kSuccess, reason, &skipped);
}

void BatchCore::TriggerDependents(const std::string& job_id, bool succeeded,
                                  const std::string& reason, std::set<std::string>* skipped_jobs) {
  for (auto& [id, dependent] : jobs_) {
    const auto& deps = dependent.spec.dependencies;
    if (std::find(deps.begin(), deps.end(), job_id) == deps.end()) continue;
    if (!succeeded) {
      // Skipped (once, however many paths lead to it), and so are the jobs after it.
      if (!skipped_jobs->insert(id).second) continue;
      double now = clock_();
      dependent.last_run_created_at = now;  // as Recover counts it
      RunSummary skipped;
      skipped.id = NewRunId(dependent);
      skipped.created_at = now;
      skipped.finished_at = now;
      skipped.status = RunStatus::kFailed;
      skipped.reason = "skipped: its dependency " + job_id + " failed" +
                       (reason.empty() ? "" : " (" + reason + ")");
      JobHistory& history = dependent.history;
      ++history.failure_count;
      history.last_failure_at = now;
      history.failed.insert(history.failed.begin(), skipped);
      std::vector<std::string> dropped;
      while (history.failed.size() > options_.history_count) {
        dropped.push_back(history.failed.back().id);
        history.failed.pop_back();
      }
      Persist(store_->FinishRun(id, skipped, history, dropped));
      Logger("batch")->info("job {} {}", id, skipped.reason);
      TriggerDependents(id, false, skipped.reason, skipped_jobs);
      continue;
    }
    // Runs once every job it depends on has succeeded since its last run.
    bool ready = std::all_of(deps.begin(), deps.end(), [&](const std::string& dep) {
      auto d = jobs_.find(dep);
      return d != jobs_.end() && d->second.history.last_success_at &&
             *d->second.history.last_success_at > dependent.last_run_created_at &&
             (!d->second.history.last_failure_at ||
              *d->second.history.last_failure_at < *d->second.history.last_success_at);
    });
    if (ready) StartRunLocked(dependent, "", NewRunId(dependent), nullptr);
  }
}

void BatchCore::CheckDeadlines(double now) {
  struct Due {
    std::string job, run, reason;
  };
  std::vector<Due> due;
  for (auto& [job_id, job] : jobs_) {
    for (auto& [run_id, run] : job.runs) {
      if (run.spec.active_deadline_seconds &&
          now >= run.created_at + static_cast<double>(*run.spec.active_deadline_seconds)) {
        due.push_back({job_id, run_id,
                       "the run took longer than its activeDeadlineSeconds of " +
                           std::to_string(*run.spec.active_deadline_seconds) + " s"});
      } else if (run.starting_deadline_seconds && run.status == RunStatus::kStarting &&
                 now >= run.created_at + *run.starting_deadline_seconds) {
        due.push_back({job_id, run_id,
                       "no task started within the schedule's startingDeadlineSeconds of " +
                           Seconds(*run.starting_deadline_seconds) + " s"});
      }
    }
  }
  for (const Due& d : due) {
    JobState& job = jobs_.at(d.job);
    auto run = job.runs.find(d.run);
    if (run != job.runs.end()) Finish(job, run->second, RunStatus::kFailed, d.reason);
  }
}

bool BatchCore::WantsOffers() const {
  double now = clock_();
  for (const auto& [job_id, job] : jobs_) {
    for (const auto& [run_id, run] : job.runs) {
      if (Wanted(run, now) > 0) return true;
    }
  }
  return false;
}

void BatchCore::ReviveIfNeeded() {
  if (suppressed_ && WantsOffers()) {
    suppressed_ = false;
    actions_->Revive();
  }
}

}  // namespace stoa::batch

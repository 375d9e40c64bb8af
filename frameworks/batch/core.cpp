#include "frameworks/batch/core.hpp"

#include <algorithm>
#include <ctime>
#include <random>

#include "common/logging.hpp"

namespace stoa::batch {

const char* ToString(RunStatus status) {
  switch (status) {
    case RunStatus::kInitial:
      return "INITIAL";
    case RunStatus::kStarting:
      return "STARTING";
    case RunStatus::kActive:
      return "ACTIVE";
    case RunStatus::kSuccess:
      return "SUCCESS";
    case RunStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

namespace {

std::string RandomLetters() {
  static const char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kLetters) - 2);
  std::string letters;
  for (int i = 0; i < 5; ++i) letters += kLetters[pick(random)];
  return letters;
}

}  // namespace

BatchCore::BatchCore(BatchStore* store, sdk::SchedulerActions* actions, BatchOptions options,
                     std::function<double()> clock)
    : store_(store), actions_(actions), options_(std::move(options)), clock_(std::move(clock)) {
  if (!options_.run_suffix) options_.run_suffix = RandomLetters;
  if (!options_.on_fatal) options_.on_fatal = [](const std::string&) {};
}

Status BatchCore::Recover() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto contents = store_->Load();
  if (!contents.ok()) return contents.status();
  auto log = Logger("batch");
  for (const std::string& skipped : contents->skipped) log->error("skipped a record: {}", skipped);
  framework_id_ = contents->framework_id;
  jobs_.clear();
  task_runs_.clear();
  for (BatchStore::StoredJob& stored : contents->jobs) {
    JobState job;
    job.spec = std::move(stored.spec);
    for (ScheduleSpec& schedule : stored.schedules) {
      Outcome error;
      if (auto cron = ParseCronSchedule(schedule, &error)) {
        job.crons.emplace(schedule.id, std::move(*cron));
      } else {
        log->error("job {}: schedule {} is kept but not run: {}", job.spec.id, schedule.id,
                   error.message);
      }
      job.schedules.emplace(schedule.id, std::move(schedule));
    }
    job.ticks = std::move(stored.ticks);
    job.history = std::move(stored.history);
    for (JobRun& run : stored.runs) {
      job.last_run_created_at = std::max(job.last_run_created_at, run.created_at);
      for (const auto& [task_id, task] : run.tasks) {
        if (!IsTerminal(task.state)) task_runs_[task_id] = {run.job_id, run.id};
      }
      job.runs.emplace(run.id, std::move(run));
    }
    for (const auto* kept : {&job.history.successful, &job.history.failed}) {
      for (const RunSummary& summary : *kept) {
        job.last_run_created_at = std::max(job.last_run_created_at, summary.created_at);
      }
    }
    std::string id = job.spec.id;
    jobs_.emplace(id, std::move(job));
  }
  log->info("recovered {} jobs and {} tasks of active runs", jobs_.size(), task_runs_.size());
  return Status::Ok();
}

FrameworkId BatchCore::framework_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return framework_id_;
}

void BatchCore::Subscribed(const FrameworkId& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (framework_id_ != id) {
    framework_id_ = id;
    Persist(store_->PutFrameworkId(id));
  }
  // The master may still hold this framework suppressed (a failover to the
  // same master): ask again for offers when work waits.
  suppressed_ = true;
  ReviveIfNeeded();
  // What became of the tasks we know, and (implicitly) of any we do not.
  std::vector<std::pair<TaskId, AgentId>> known;
  for (const auto& [task_id, where] : task_runs_) {
    JobState* job = nullptr;
    if (JobRun* run = FindRunOfTask(task_id, &job)) {
      known.emplace_back(task_id, run->tasks.at(task_id).agent_id);
    }
  }
  if (!known.empty()) actions_->Reconcile(known);
  actions_->Reconcile({});
}

void BatchCore::Disconnected() {}

void BatchCore::Tick() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fatal_) return;
  double now = clock_();
  RunSchedules(now);
  CheckDeadlines(now);
  ReviveIfNeeded();  // retries whose delay is over
}

Outcome BatchCore::Persist(Status s) {
  if (s.ok()) return {};
  if (!fatal_) {
    fatal_ = true;
    options_.on_fatal("cannot write the batch state: " + s.message());
  }
  return {503, "cannot write the state: " + s.message()};
}

Status BatchCore::SaveRun(const JobRun& run) {
  Status s = store_->PutRun(run);
  Persist(s);
  return s;
}

std::string BatchCore::NewRunId(const JobState& job) {
  std::time_t seconds = static_cast<std::time_t>(clock_());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[16];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &utc);
  auto taken = [&](const std::string& id) {
    if (job.runs.count(id) > 0) return true;
    for (const auto* kept : {&job.history.successful, &job.history.failed}) {
      for (const RunSummary& summary : *kept) {
        if (summary.id == id) return true;
      }
    }
    return false;
  };
  std::string id;
  do {
    id = stamp + options_.run_suffix();
  } while (taken(id));
  return id;
}

Status BatchCore::StartRunLocked(JobState& job, const std::string& schedule_id,
                                 const std::string& run_id, JobRun* started) {
  JobRun run;
  run.id = run_id;
  run.job_id = job.spec.id;
  run.status = RunStatus::kStarting;
  run.created_at = clock_();
  run.schedule_id = schedule_id;
  if (auto schedule = job.schedules.find(schedule_id); schedule != job.schedules.end()) {
    run.starting_deadline_seconds = static_cast<double>(schedule->second.starting_deadline_seconds);
  }
  run.spec = job.spec.run;
  if (Status s = SaveRun(run); !s.ok()) return s;
  ++counters_.runs_started;
  job.last_run_created_at = run.created_at;
  Logger("batch")->info("run {} of {} starts ({} tasks, {} at once){}", run.id, run.job_id,
                        run.completions(), run.parallelism(),
                        schedule_id.empty() ? "" : " for schedule " + schedule_id);
  if (started != nullptr) *started = run;
  job.runs.emplace(run.id, std::move(run));
  ReviveIfNeeded();
  return Status::Ok();
}

JobView BatchCore::ViewOf(const JobState& job) const {
  JobView view;
  view.spec = job.spec;
  for (const auto& [id, schedule] : job.schedules) {
    view.schedules.push_back({schedule, NextRunAt(job, id)});
  }
  for (const auto& [id, run] : job.runs) view.active_runs.push_back(run);
  view.history = job.history;
  return view;
}

std::vector<JobView> BatchCore::Jobs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<JobView> views;
  for (const auto& [id, job] : jobs_) views.push_back(ViewOf(job));
  return views;
}

std::optional<JobView> BatchCore::Job(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto job = jobs_.find(id);
  if (job == jobs_.end()) return std::nullopt;
  return ViewOf(job->second);
}

namespace {

Outcome NoJob(const std::string& id) { return {404, "Job '" + id + "' does not exist"}; }

// Whether adding `spec` makes a job depend on itself, through any chain.
bool MakesCycle(const std::map<std::string, std::vector<std::string>>& graph,
                const std::string& start, std::string* path) {
  std::vector<std::string> stack{start};
  std::map<std::string, std::string> came_from;
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string at = stack.back();
    stack.pop_back();
    auto edges = graph.find(at);
    if (edges == graph.end()) continue;
    for (const std::string& next : edges->second) {
      if (next == start) {
        std::string chain = start;
        for (std::string step = at; step != start; step = came_from[step]) chain += " -> " + step;
        *path = chain + " -> " + start;
        return true;
      }
      if (seen.insert(next).second) {
        came_from[next] = at;
        stack.push_back(next);
      }
    }
  }
  return false;
}

}  // namespace

Outcome BatchCore::CheckDependencies(const JobSpec& spec) const {
  std::map<std::string, std::vector<std::string>> graph;
  for (const auto& [id, job] : jobs_) graph[id] = job.spec.dependencies;
  std::string unknown;
  for (const std::string& dependency : spec.dependencies) {
    if (dependency != spec.id && jobs_.count(dependency) == 0) {
      unknown += (unknown.empty() ? "" : ", ") + dependency;
    }
  }
  if (!unknown.empty())
    return {422, "Dependencies contain unknown jobs. unknown=[" + unknown + "]"};
  graph[spec.id] = spec.dependencies;
  if (std::string cycle; MakesCycle(graph, spec.id, &cycle)) {
    return {422, "Dependencies have a cycle. (" + cycle + ")"};
  }
  return {};
}

Outcome BatchCore::CreateJob(const JobSpec& spec, const std::vector<ScheduleSpec>& schedules) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (jobs_.count(spec.id) > 0) {
    return {409, "Job with this id already exists"};
  }
  if (Outcome o = CheckDependencies(spec); !o.ok()) return o;
  JobState job;
  job.spec = spec;
  for (const ScheduleSpec& schedule : schedules) {
    Outcome error;
    auto cron = ParseCronSchedule(schedule, &error);
    if (!cron) return error;
    job.crons.emplace(schedule.id, std::move(*cron));
    job.schedules.emplace(schedule.id, schedule);
    job.ticks[schedule.id] = TickRecord{clock_(), ""};
  }
  if (Outcome o = Persist(store_->PutJob(spec)); !o.ok()) return o;
  for (const auto& [id, schedule] : job.schedules) {
    if (Outcome o = Persist(store_->PutTick(spec.id, id, job.ticks[id])); !o.ok()) return o;
    if (Outcome o = Persist(store_->PutSchedule(spec.id, schedule)); !o.ok()) return o;
  }
  jobs_.emplace(spec.id, std::move(job));
  return {201, ""};
}

Outcome BatchCore::UpdateJob(const JobSpec& spec,
                             const std::optional<std::vector<ScheduleSpec>>& schedules) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto found = jobs_.find(spec.id);
  if (found == jobs_.end()) return NoJob(spec.id);
  if (Outcome o = CheckDependencies(spec); !o.ok()) return o;
  JobState& job = found->second;
  if (schedules) {
    std::map<std::string, CronSchedule> crons;
    for (const ScheduleSpec& schedule : *schedules) {
      Outcome error;
      auto cron = ParseCronSchedule(schedule, &error);
      if (!cron) return error;
      crons.emplace(schedule.id, std::move(*cron));
    }
    for (const auto& [id, schedule] : job.schedules) {
      if (crons.count(id) == 0) {
        if (Outcome o = Persist(store_->DeleteSchedule(spec.id, id)); !o.ok()) return o;
        job.ticks.erase(id);
      }
    }
    std::map<std::string, ScheduleSpec> kept;
    for (const ScheduleSpec& schedule : *schedules) {
      // As a schedule put on its own: its ticks count from now.
      TickRecord from_now{clock_(), ""};
      if (Outcome o = Persist(store_->PutTick(spec.id, schedule.id, from_now)); !o.ok()) return o;
      if (Outcome o = Persist(store_->PutSchedule(spec.id, schedule)); !o.ok()) return o;
      job.ticks[schedule.id] = from_now;
      kept.emplace(schedule.id, schedule);
    }
    job.schedules = std::move(kept);
    job.crons = std::move(crons);
  }
  if (Outcome o = Persist(store_->PutJob(spec)); !o.ok()) return o;
  job.spec = spec;  // runs under way keep the spec they started with
  return {200, ""};
}

Outcome BatchCore::DeleteJob(const std::string& id, bool stop_current_runs) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(id);
  if (found == jobs_.end()) return NoJob(id);
  JobState& job = found->second;
  if (!job.runs.empty() && !stop_current_runs) {
    return {409, "There are active job runs. Override with stopCurrentJobRuns=true"};
  }
  std::string children;
  for (const auto& [other_id, other] : jobs_) {
    const auto& deps = other.spec.dependencies;
    if (other_id != id && std::find(deps.begin(), deps.end(), id) != deps.end()) {
      children += (children.empty() ? "" : ", ") + other_id;
    }
  }
  if (!children.empty()) {
    return {409, "There are jobs with a dependency on " + id + ". children=[" + children + "]"};
  }
  for (auto& [run_id, run] : job.runs) {
    KillTasks(run);
    for (const auto& [task_id, task] : run.tasks) task_runs_.erase(task_id);
  }
  if (Outcome o = Persist(store_->DeleteJob(id)); !o.ok()) return o;
  jobs_.erase(found);
  return {200, ""};
}

Outcome BatchCore::StartRun(const std::string& job_id, JobRun* started) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return NoJob(job_id);
  Status s = StartRunLocked(found->second, "", NewRunId(found->second), started);
  if (!s.ok()) return {503, "cannot write the state: " + s.message()};
  return {201, ""};
}

std::optional<std::vector<JobRun>> BatchCore::ActiveRuns(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return std::nullopt;
  std::vector<JobRun> runs;
  for (const auto& [id, run] : found->second.runs) runs.push_back(run);
  return runs;
}

std::optional<JobRun> BatchCore::Run(const std::string& job_id, const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return std::nullopt;
  const JobState& job = found->second;
  if (auto run = job.runs.find(run_id); run != job.runs.end()) return run->second;
  for (const auto* kept : {&job.history.successful, &job.history.failed}) {
    for (const RunSummary& summary : *kept) {
      if (summary.id != run_id) continue;
      JobRun run;
      run.id = summary.id;
      run.job_id = job_id;
      run.status = summary.status;
      run.created_at = summary.created_at;
      run.completed_at = summary.finished_at;
      run.reason = summary.reason;
      run.succeeded = summary.succeeded;
      run.failed = summary.failed;
      run.spec.completions = summary.completions;
      run.spec.parallelism = summary.parallelism;
      for (const RunTask& task : summary.task_details) run.tasks.emplace(task.id, task);
      return run;
    }
  }
  return std::nullopt;
}

Outcome BatchCore::StopRun(const std::string& job_id, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return NoJob(job_id);
  auto run = found->second.runs.find(run_id);
  if (run == found->second.runs.end()) {
    return {404, "JobRun '" + run_id + "' does not exist"};
  }
  Finish(found->second, run->second, RunStatus::kFailed, "stopped through the API");
  return {200, ""};
}

std::map<std::string, std::vector<std::string>> BatchCore::Queue() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, std::vector<std::string>> queue;
  for (const auto& [job_id, job] : jobs_) {
    for (const auto& [run_id, run] : job.runs) {
      int64_t left = run.completions() - run.succeeded;
      if (std::min(run.parallelism(), left) > run.active_tasks()) queue[job_id].push_back(run_id);
    }
  }
  return queue;
}

BatchCore::Counters BatchCore::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

}  // namespace stoa::batch

// The batch framework's core: jobs, their schedules and runs, under one lock.
// The SDK driver's thread (offers, updates), the HTTP threads (the API) and a
// ticker (schedules, deadlines, backoffs) call it; it acts on the master only
// through sdk::SchedulerActions and keeps its state in a BatchStore. Time comes
// from an injected clock, so tests drive schedules and deadlines.
//
// A run is N tasks (Metronome's one, or `completions`), at most P at once
// (`parallelism`); it succeeds once N have succeeded and fails when more
// tasks failed than it allows, its active deadline passed, its starting
// deadline passed before a task started, or it was stopped.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frameworks/batch/cron.hpp"
#include "frameworks/batch/job.hpp"
#include "frameworks/batch/run.hpp"
#include "frameworks/batch/store.hpp"
#include "frameworks/sdk/actions.hpp"

namespace stoa::batch {

struct BatchOptions {
  std::string role = "*";
  std::string user;  // tasks' user when a job names none
  double decline_seconds = 5;
  // Finished runs kept per job, of successes and of failures each.
  size_t history_count = 10;
  // The first retry's delay after a failed task (ON_FAILURE); it doubles
  // with each failure, up to the job's maxLaunchDelay.
  double retry_delay_seconds = 1;
  // A run's tasks on an agent go to one executor, which stays this long after
  // its last task for the next ones (a new one is started when it may be gone).
  double executor_idle_timeout = 5;
  // A run id's five letters (random by default; fixed in tests).
  std::function<std::string()> run_suffix;
  // Called when task updates wait to be written and acknowledged, so that the
  // caller calls Flush soon (many updates then cost one write per run). Unset:
  // each update is written and acknowledged as it comes.
  std::function<void()> on_pending;
  // Called when the state can no longer be written: this instance stops.
  std::function<void(const std::string&)> on_fatal;
};

// What the API says back: an HTTP status and, for errors, Metronome's message.
struct Outcome {
  Outcome() = default;
  Outcome(int status_code, std::string text, std::string field = "")
      : status(status_code), message(std::move(text)), path(std::move(field)) {}
  int status = 200;
  std::string message;
  std::string path;  // 422: the field at fault ("/cron"), for Metronome's details
  bool ok() const { return status < 300; }
};

struct ScheduleView {
  ScheduleSpec spec;
  std::optional<double> next_run_at;  // none when disabled or no tick ahead
};

struct JobView {
  JobSpec spec;
  std::vector<ScheduleView> schedules;
  std::vector<JobRun> active_runs;
  JobHistory history;
};

// A schedule's cron expression and time zone, parsed.
struct CronSchedule {
  CronExpression expression;
  TimeZone zone;
};
// The schedule's cron and time zone, or what is wrong with them (422, with the path).
std::optional<CronSchedule> ParseCronSchedule(const ScheduleSpec& spec, Outcome* error);

class BatchCore {
 public:
  BatchCore(BatchStore* store, sdk::SchedulerActions* actions, BatchOptions options,
            std::function<double()> clock);

  // Loads the state; REQUIRES: before the driver starts.
  Status Recover();
  FrameworkId framework_id() const;

  // The SDK's callbacks.
  void Subscribed(const FrameworkId& id);
  void Offers(const std::vector<Offer>& offers);
  void Update(const TaskStatus& status);
  void Disconnected();
  // Schedules' ticks, deadlines, retries whose delay is over.
  void Tick();
  // Writes the runs that task updates changed, then acknowledges the updates.
  void Flush();

  // The API. Specs are valid (parsed and checked by job_json).
  std::vector<JobView> Jobs() const;
  std::optional<JobView> Job(const std::string& id) const;
  Outcome CreateJob(const JobSpec& spec, const std::vector<ScheduleSpec>& schedules = {});
  // Replaces the spec; its schedules stay unless `schedules` is given.
  Outcome UpdateJob(const JobSpec& spec,
                    const std::optional<std::vector<ScheduleSpec>>& schedules = std::nullopt);
  Outcome DeleteJob(const std::string& id, bool stop_current_runs);
  Outcome StartRun(const std::string& job_id, JobRun* started);
  std::optional<std::vector<JobRun>> ActiveRuns(const std::string& job_id) const;
  // An active run, or a finished one from the history (with its tasks).
  std::optional<JobRun> Run(const std::string& job_id, const std::string& run_id) const;
  Outcome StopRun(const std::string& job_id, const std::string& run_id);
  std::optional<std::vector<ScheduleView>> Schedules(const std::string& job_id) const;
  Outcome PutSchedule(const std::string& job_id, const ScheduleSpec& spec, bool create);
  Outcome DeleteSchedule(const std::string& job_id, const std::string& schedule_id);
  // Runs with tasks waiting for offers, by job.
  std::map<std::string, std::vector<std::string>> Queue() const;

  struct Counters {
    int64_t runs_started = 0, runs_succeeded = 0, runs_failed = 0;
    int64_t tasks_launched = 0, tasks_finished = 0, tasks_failed = 0;
    int64_t ticks_run = 0, ticks_skipped = 0;  // schedules' ticks: run, or past their deadline
    int64_t offers_received = 0, offers_declined = 0;
  };
  Counters counters() const;

 private:
  struct JobState {
    JobSpec spec;
    std::map<std::string, ScheduleSpec> schedules;
    std::map<std::string, CronSchedule> crons;  // each schedule's, parsed
    std::map<std::string, TickRecord> ticks;    // by schedule id
    std::map<std::string, JobRun> runs;         // active, by run id
    JobHistory history;
    double last_run_created_at = 0;  // for dependencies: runs since
  };

  // REQUIRES: mutex_ held, for everything below.
  JobView ViewOf(const JobState& job) const;
  // 422 when a dependency is not a job or the dependencies make a cycle.
  Outcome CheckDependencies(const JobSpec& spec) const;
  std::optional<double> NextRunAt(const JobState& job, const std::string& schedule_id) const;
  Outcome Persist(Status s);  // 503 and on_fatal when the state cannot be written
  Status StartRunLocked(JobState& job, const std::string& schedule_id, const std::string& run_id,
                        JobRun* started);
  std::string NewRunId(const JobState& job);
  Status SaveRun(const JobRun& run);
  // Ends the run: kills what still runs, records it in the history and starts
  // (or skips) the jobs that depend on it.
  void Finish(JobState& job, JobRun& run, RunStatus status, const std::string& reason);
  // Starts the jobs that wait for `job_id` (when it succeeded), or records them
  // skipped, with the jobs after them (when it failed; `skipped_jobs` collects
  // them, so that a job reached by several paths is skipped once).
  void TriggerDependents(const std::string& job_id, bool succeeded, const std::string& reason,
                         std::set<std::string>* skipped_jobs);
  void KillTasks(JobRun& run);
  // `never_launched`: the task is replaced, and does not count as a failure.
  void OnTaskEnded(JobState& job, JobRun& run, RunTask& task, const TaskStatus& status,
                   bool never_launched);
  // The executor for the run's next task group on the agent.
  ExecutorId ExecutorFor(JobRun& run, const AgentId& agent_id, double now);
  void CheckDeadlines(double now);
  void RunSchedules(double now);
  // Starts the run of a tick that is written, as the schedule's concurrency
  // policy says, then marks the tick done. False: the state cannot be written.
  bool StartTick(JobState& job, const ScheduleSpec& schedule, const TickRecord& record);
  void FlushLocked();
  bool WantsOffers() const;
  void ReviveIfNeeded();
  JobRun* FindRunOfTask(const TaskId& task_id, JobState** job);

  BatchStore* store_;
  sdk::SchedulerActions* actions_;
  BatchOptions options_;
  std::function<double()> clock_;
  mutable std::mutex mutex_;
  FrameworkId framework_id_;
  std::map<std::string, JobState> jobs_;
  std::map<TaskId, std::pair<std::string, std::string>> task_runs_;  // task -> (job, run)
  // Task updates applied but not yet written (their runs) or acknowledged.
  std::set<std::pair<std::string, std::string>> dirty_runs_;  // (job, run)
  std::vector<TaskStatus> unacknowledged_;
  bool suppressed_ = false;
  bool fatal_ = false;
  Counters counters_;
};

}  // namespace stoa::batch

// A job's runs as the batch framework keeps them: an active run with its
// tasks, and the summary each finished run leaves in the job's history.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frameworks/batch/job.hpp"
#include "protocols/messages.hpp"

namespace stoa::batch {

// One task of a run (Metronome's JobRunTask, plus what Stoa reports of it).
struct RunTask {
  TaskId id;
  AgentId agent_id;
  ExecutorId executor_id;  // for the sandbox link
  bool grouped = false;    // in a task group: its sandbox is tasks/<id> in the executor's
  std::string hostname;
  std::string agent_http;  // the agent's HTTP address, for the sandbox link
  int64_t index = -1;      // indexed runs: its $STOA_TASK_INDEX
  TaskState state = TaskState::kStaging;
  double started_at = 0;  // when it was launched
  std::optional<double> completed_at;
  int32_t exit_status = -1;
  std::string message;  // the last status's message, for a failure's reason
  bool kill_sent = false;
};

// A run of a job: its spec as it was when the run started (a later PUT of the
// job does not change a run under way), its tasks and its progress.
struct JobRun {
  std::string id;  // Metronome's: yyyyMMddHHmmss and five random letters
  std::string job_id;
  RunStatus status = RunStatus::kInitial;
  double created_at = 0;
  std::optional<double> completed_at;
  std::string schedule_id;                          // the schedule that started it; empty: by hand
  std::optional<double> starting_deadline_seconds;  // from its schedule
  std::string reason;                               // why it failed
  RunSpec spec;

  int64_t succeeded = 0;           // tasks that finished with exit status 0
  int64_t failed = 0;              // tasks that failed, were killed or lost
  std::set<int64_t> done_indexes;  // indexed runs: the indexes that succeeded
  int64_t next_task = 0;           // the sequence number of its next task's id
  double next_launch_at = 0;       // after a failure: not before (the backoff)
  // Every task it launched that has not ended, and the ended ones (kept so
  // that history lists each task once and a late update is recognised).
  std::map<TaskId, RunTask> tasks;
  // Not kept in the state: the executor its tasks go to on each agent, and
  // when the run last launched there or heard from it.
  struct GroupExecutor {
    ExecutorId id;
    double last_used = 0;
    int64_t tasks = 0;  // given to it so far
  };
  std::map<AgentId, GroupExecutor> executors;
  // Tasks in a row whose launch reached no executor (see NeverLaunched).
  int64_t launch_losses = 0;

  int64_t completions() const { return spec.completions.value_or(1); }
  int64_t parallelism() const { return spec.parallelism.value_or(completions()); }
  // Failed tasks after which the run fails: backoffLimit, else none more with
  // NEVER and no limit with ON_FAILURE (until the deadline), as Metronome.
  std::optional<int64_t> failure_limit() const;
  int64_t active_tasks() const;  // launched and not ended
};

// The job's history, as Metronome keeps it: counts and the last runs.
struct RunSummary {
  std::string id;
  double created_at = 0;
  double finished_at = 0;
  RunStatus status = RunStatus::kSuccess;
  std::string reason;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t completions = 1;
  int64_t parallelism = 1;
  std::vector<TaskId> tasks;
  // Stoa's additions: each task's exit status and sandbox.
  std::vector<RunTask> task_details;
};

struct JobHistory {
  int64_t success_count = 0;
  int64_t failure_count = 0;
  std::optional<double> last_success_at;
  std::optional<double> last_failure_at;
  std::vector<RunSummary> successful;  // newest first
  std::vector<RunSummary> failed;      // newest first
};

}  // namespace stoa::batch

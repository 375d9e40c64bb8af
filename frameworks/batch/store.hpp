// The batch framework's state in Storage (LevelDB under the work directory,
// or ZooKeeper). Keys:
//   framework/id                 the framework id to fail over to
//   jobs/<job>                   a job spec
//   schedules/<job>/<schedule>   a schedule
//   ticks/<job>/<schedule>       the last tick of the schedule that was handled
//   runs/<job>/<run>             an active run, with its tasks that have not ended
//   runtasks/<job>/<run>/<n>     its ended tasks, 100 to a record (the n-th hundred
//                                to end), so that a write costs what changed, not
//                                what the run ran so far
//   history/<job>/<run>          a finished run's summary (the last N per job)
//   counts/<job>                 the job's success and failure counts
// No key is a prefix directory of another, as ZooKeeper storage requires.
// Not thread-safe: its one user holds a lock around every call.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "frameworks/batch/job.hpp"
#include "frameworks/batch/run.hpp"
#include "frameworks/sdk/state_store.hpp"

namespace stoa::batch {

// A schedule's last handled tick: written before the tick's run starts, with
// the id that run gets, so that a leader that fails over in between starts
// exactly that run and never a second one.
struct TickRecord {
  double tick = 0;  // seconds since the epoch
  std::string run_id;
};

class BatchStore {
 public:
  explicit BatchStore(std::unique_ptr<Storage> storage);

  struct StoredJob {
    JobSpec spec;
    std::vector<ScheduleSpec> schedules;
    std::map<std::string, TickRecord> ticks;
    std::vector<JobRun> runs;
    JobHistory history;  // counts and the kept summaries, newest first
  };
  struct Contents {
    FrameworkId framework_id;
    std::vector<StoredJob> jobs;
    std::vector<std::string> skipped;  // records that could not be read, with why
  };
  // Reads everything; an error only when the storage itself fails.
  Result<Contents> Load();

  Status PutFrameworkId(const FrameworkId& id);
  Status PutJob(const JobSpec& spec);
  // The job and everything of it.
  Status DeleteJob(const std::string& id);
  Status PutSchedule(const std::string& job_id, const ScheduleSpec& spec);
  Status DeleteSchedule(const std::string& job_id, const std::string& schedule_id);
  Status PutTick(const std::string& job_id, const std::string& schedule_id, const TickRecord& tick);
  // The run, and its tasks that ended since the last PutRun.
  Status PutRun(const JobRun& run);
  // Moves a finished run to the history: its summary and the job's counts
  // are written first, then the active run goes, then the `dropped` summaries
  // (those beyond what the job keeps).
  Status FinishRun(const std::string& job_id, const RunSummary& summary, const JobHistory& counts,
                   const std::vector<std::string>& dropped);

 private:
  // An active run's ended tasks as they are in runtasks/: in the order they
  // were written (record n holds order[100n, 100n + 100)).
  struct EndedTasks {
    std::vector<TaskId> order;
    std::set<TaskId> written;
  };
  Status RemoveEndedTasks(const std::string& job_id, const std::string& run_id);

  sdk::StateStore state_;
  std::map<std::string, EndedTasks> ended_;  // by run key
};

}  // namespace stoa::batch

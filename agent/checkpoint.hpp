// The agent's checkpoint: what it needs to find its executors and tasks again
// after a restart (kill -9, upgrade): its id and the boot it ran in, each
// executor (with its container and pid) and each task with its unacknowledged
// status updates (also those of tasks it never knew but reported on). Kept in
// LevelDB under <work_dir>/meta. What a Set or Put writes is fsynced before it
// returns, so that after a host crash the agent reports what its tasks last
// said (a FINISHED stays FINISHED, not LOST). Removals of finished tasks and
// executors are not: one lost brings back a finished record, removed again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa::agent {

struct RecoveredState {
  AgentId agent_id;     // empty: never registered
  std::string boot_id;  // the boot the checkpoint was written in
  uint64_t epoch = 0;   // of the last registration cycle begun (see MasterLink)
  std::vector<ExecutorRecord> executors;
  std::vector<TaskRecord> tasks;
  // Tasks the agent never knew that it reported terminal (a kill of an
  // unknown task), with their unacknowledged updates.
  std::vector<TaskRecord> unknown_tasks;
};

class Checkpoint {
 public:
  // Opens (or creates) the checkpoint under `work_dir`.
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& work_dir);
  ~Checkpoint();

  Result<RecoveredState> Recover();
  Status SetAgentId(const AgentId& agent_id);
  Status SetEpoch(uint64_t epoch);
  // The executor's record with those of `tasks`, in one write (one fsync).
  Status PutExecutor(const ExecutorRecord& record, const std::vector<TaskRecord>& tasks = {});
  Status RemoveExecutor(const FrameworkId& framework_id, const ExecutorId& executor_id);
  Status PutTask(const TaskRecord& record);
  Status RemoveTask(const FrameworkId& framework_id, const TaskId& task_id);
  Status PutUnknownTask(const TaskRecord& record);
  Status RemoveUnknownTask(const FrameworkId& framework_id, const TaskId& task_id);

 private:
  struct Impl;
  explicit Checkpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// This boot's id (/proc/sys/kernel/random/boot_id, or the file named by
// STOA_BOOT_ID_FILE for tests): a new one means the host rebooted.
std::string BootId();

// True when `pid` is alive and is the stoa-executor for `executor_id`.
bool IsExecutorProcess(int pid, const ExecutorId& executor_id);

}  // namespace stoa::agent

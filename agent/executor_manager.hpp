// The executors and tasks of this agent: it starts each executor's container,
// hands the executor its tasks, relays their status updates (through the
// StatusUpdateManager), kills and shuts down, keeps the container's limits at
// the executor's resources plus those of its live tasks, checkpoints every
// change and recovers after a restart. A plain class: the agent actor feeds it
// messages and timers and carries out what it asks through AgentEffects, so it
// is tested without actors.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/checkpoint.hpp"
#include "agent/containerizer.hpp"
#include "agent/status_update_manager.hpp"
#include "protocols/messages.hpp"

namespace spdlog {
class logger;
}

namespace stoa::agent {

// What the executor manager asks of the world.
class AgentEffects {
 public:
  virtual ~AgentEffects() = default;
  // A status update for the master (the caller drops it while unregistered:
  // the update is resent after registering).
  virtual void SendStatusUpdate(const agentmsg::StatusUpdate& update) = 0;
  virtual void SendToExecutor(const std::string& peer, ExecutorMessage message) = 0;
  // Starts a container; the answer comes back through ExecutorManager::OnLaunched.
  virtual void LaunchContainer(const ContainerConfig& config) = 0;
  // New limits for a container, applied after a launch of it in flight.
  virtual void UpdateContainer(const ContainerId& container_id, const Resources& resources) = 0;
  // Kills a container; false when the containerizer does not know it.
  virtual bool DestroyContainer(const ContainerId& container_id) = 0;
  // SIGKILLs `pid` only if it is still the process that started at `start_time`.
  virtual void KillProcess(pid_t pid, uint64_t start_time) = 0;
  // Calls ExecutorManager::Escalate with these ids after `seconds`.
  virtual void ScheduleEscalation(const FrameworkId& framework_id, const ExecutorId& executor_id,
                                  const ContainerId& container_id, double seconds) = 0;
  // Calls ExecutorManager::CheckIdle with these ids after `seconds`.
  virtual void ScheduleIdleCheck(const FrameworkId& framework_id, const ExecutorId& executor_id,
                                 const ContainerId& container_id, double seconds) = 0;
  // The executor is done and forgotten: its sandbox may be garbage-collected.
  virtual void SandboxDone(const std::string& sandbox) = 0;
};

struct ExecutorManagerOptions {
  std::string work_dir;           // canonical
  std::string executor_path;      // the stoa-executor binary
  std::string executor_endpoint;  // where executors reach the agent
  std::string default_user;       // tasks without command.user; empty: the agent's user
  std::string task_capabilities;  // STOA_TASK_CAPABILITIES; empty: not limited
  double executor_shutdown_grace = 5;
  StatusUpdateRetryPolicy retry;
};

struct ExecutorEntry {
  ExecutorInfo info;
  std::string container_id;
  std::string sandbox;
  std::string container_user;  // the user the container was launched for (STOA_TASK_USER)
  std::string secret;          // its executor subscribes with it (STOA_EXECUTOR_SECRET)
  pid_t pid = 0;
  uint64_t start_time = 0;  // of pid (see process.hpp): guards kills against reuse
  std::string peer;         // the executor's identity on our ROUTER, once subscribed
  bool subscribed = false;
  bool shutting_down = false;
  bool launching = false;        // the launcher has not answered yet
  bool exited = false;           // its container ended
  std::vector<TaskInfo> queued;  // waiting for the executor to subscribe
  std::map<TaskId, Task> tasks;
  std::set<TaskId> killing;
  Resources limits;  // what the container was last given
  // A group executor that stays for more groups (idle_timeout_seconds > 0):
  // since when it has had no task (monotonic seconds), if it has none.
  std::optional<double> idle_since;

  bool stays() const { return info.group && info.idle_timeout_seconds > 0; }

  // The executor's resources and those of every task that has not ended.
  Resources Needed() const;
};

// Counts since the agent started, for /metrics.
struct ExecutorCounters {
  int64_t tasks_launched = 0;      // tasks given to executors (RunTask)
  int64_t executors_launched = 0;  // containers launched for executors
  int64_t launch_failures = 0;     // executors whose container could not be launched
  int64_t status_updates = 0;      // task updates received (from executors and our own)
  int64_t idle_shutdowns = 0;      // staying executors shut down after their idle timeout
};

struct FrameworkEntry {
  FrameworkInfo info;
  std::map<ExecutorId, ExecutorEntry> executors;
};

class ExecutorManager {
 public:
  ExecutorManager(ExecutorManagerOptions options, AgentEffects* effects,
                  std::shared_ptr<Checkpoint> checkpoint);

  void set_agent_id(const AgentId& agent_id) { agent_id_ = agent_id; }
  // Lets go of the checkpoint (its LevelDB lock) once the agent stops.
  void ReleaseCheckpoint() { checkpoint_.reset(); }
  const AgentId& agent_id() const { return agent_id_; }

  // Rebuilds frameworks, executors, tasks and pending updates from the
  // checkpoint, reattaches to executors that still run and reports the tasks
  // of those that do not (after a reboot, as TASK_GONE).
  void Recover(const RecoveredState& state, double now);

  // ---- from the master ----
  void RunTask(agentmsg::RunTask run, double now);
  // A kill of a task this agent does not know gets a terminal update (Mesos:
  // TASK_DROPPED for partition-aware frameworks, else TASK_LOST), checkpointed
  // and retried until acknowledged like any other.
  void KillTask(const FrameworkId& framework_id, const TaskId& task_id, double now);
  void Acknowledge(const agentmsg::StatusUpdateAck& ack, double now);
  void ShutdownFramework(const FrameworkId& framework_id, double now);
  // The agent was marked gone: no master will acknowledge anything again;
  // every executor is stopped.
  void ShutdownAllAsGone(double now);

  // ---- from executors and containers ----
  // `peer` sent `message` (decoded). False when the peer is not a known executor.
  void OnExecutorMessage(const std::string& peer, ExecutorMessage& message, double now);
  // The launcher's answer: the pid (error empty) or why the launch failed.
  void OnLaunched(const FrameworkId& framework_id, const ExecutorId& executor_id,
                  const ContainerId& container_id, pid_t pid, const std::string& error, double now);
  // Whether a container whose launch was asked for is still wanted: its
  // executor was not shut down (e.g. its tasks killed) while it was provisioned.
  bool LaunchWanted(const FrameworkId& framework_id, const ExecutorId& executor_id,
                    const ContainerId& container_id) const;
  // The container was not launched after all (not wanted once provisioned).
  void OnLaunchAbandoned(const FrameworkId& framework_id, const ExecutorId& executor_id,
                         const ContainerId& container_id, double now);
  // The container ended; `limitation` (kNone: none) is the limit it reached.
  void OnExecutorExited(const FrameworkId& framework_id, const ExecutorId& executor_id,
                        const ContainerId& container_id, int wait_status, Reason limitation,
                        const std::string& limitation_message, double now);
  // An executor that was told to shut down did not stop in time.
  // A group executor that has stayed idle for its idle timeout is shut down.
  void CheckIdle(const FrameworkId& framework_id, const ExecutorId& executor_id,
                 const ContainerId& container_id, double now);
  void Escalate(const FrameworkId& framework_id, const ExecutorId& executor_id,
                const ContainerId& container_id);

  // ---- status updates ----
  std::vector<agentmsg::StatusUpdate> DueUpdates(double now) { return updates_.Due(now); }
  std::vector<agentmsg::StatusUpdate> PendingHeads() const { return updates_.Heads(); }
  size_t PendingUpdateCount() const { return updates_.PendingCount(); }
  const ExecutorCounters& counters() const { return counters_; }

  // ---- views ----
  // What a (re)registration reports: every framework and task.
  void FillRegister(agentmsg::Register& reg) const;
  const std::map<FrameworkId, FrameworkEntry>& frameworks() const { return frameworks_; }
  // Finished tasks (the last 1000) and the sandboxes they ran in.
  const std::vector<std::pair<Task, std::string>>& completed_tasks() const {
    return completed_tasks_;
  }
  // The sandboxes of executors the agent still knows (not to be collected).
  std::set<std::string> LiveSandboxes() const;
  const ExecutorEntry* FindExecutor(const FrameworkId& framework_id,
                                    const ExecutorId& executor_id) const;

 private:
  ExecutorEntry* Find(const FrameworkId& framework_id, const ExecutorId& executor_id);
  ExecutorEntry* FindTaskExecutor(const FrameworkId& framework_id, const TaskId& task_id);
  void AgentUpdate(const FrameworkId& framework_id, ExecutorEntry& executor, const TaskId& task_id,
                   TaskState state, Reason reason, const std::string& message, double now);
  void OnUpdate(const FrameworkId& framework_id, ExecutorEntry& executor, TaskStatus status,
                double now);
  void Launch(const FrameworkId& framework_id, ExecutorEntry& executor,
              const std::vector<TaskInfo>& tasks, double now);
  void LaunchFailed(ExecutorEntry& executor, const std::string& error, double now);
  void ResizeIfNeeded(ExecutorEntry& executor);
  void ShutdownExecutor(ExecutorEntry& executor);
  void Subscribe(const std::string& peer, const execmsg::Subscribe& subscribe, double now);
  void SendToExecutor(const ExecutorEntry& executor, ExecutorMessage message);
  void SendKill(const ExecutorEntry& executor, const Task& task);
  void ForgetExecutorIfDone(const FrameworkId& framework_id, const ExecutorId& executor_id);
  // An executor that stays: forgets `task_id` once it ended and its updates
  // are acknowledged (true then), and starts the idle clock when no task is left.
  bool SettleStayingExecutor(ExecutorEntry& executor, const TaskId& task_id, double now);
  void StartIdleClock(ExecutorEntry& executor, double now);
  void CheckpointTask(const Task& task);
  // The updates of a task the agent never knew (see KillTask), until acknowledged.
  void CheckpointUnknownTask(const FrameworkId& framework_id, const TaskId& task_id);
  void CheckpointExecutor(const FrameworkId& framework_id, const ExecutorId& executor_id);
  void OnRecoveredExecutorGone(const FrameworkId& framework_id, const ExecutorId& executor_id,
                               const ContainerId& container_id, bool rebooted, double now);
  // The user a task runs as when it names none (per task, not the group's first).
  std::string DefaultTaskUser(const FrameworkInfo& framework) const;

  ExecutorManagerOptions options_;
  AgentEffects* effects_;
  std::shared_ptr<Checkpoint> checkpoint_;
  ExecutorCounters counters_;
  std::shared_ptr<spdlog::logger> log_;
  AgentId agent_id_;
  bool gone_ = false;  // marked gone: updates are recorded, never sent
  StatusUpdateManager updates_;
  std::map<FrameworkId, FrameworkEntry> frameworks_;
  std::map<std::string, std::pair<FrameworkId, ExecutorId>> executor_peers_;
  std::vector<std::pair<Task, std::string>> completed_tasks_;
  // Tasks the agent never knew with a terminal update not acknowledged yet.
  std::set<std::pair<FrameworkId, TaskId>> unknown_tasks_;
};

}  // namespace stoa::agent

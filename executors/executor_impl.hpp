// Inside stoa-executor: the state its event loop works on, shared by the
// files that implement it (executor.cpp: the event loop and the agent
// channel; task_process.cpp: launching, killing and reaping tasks;
// task_checks.cpp: running tasks' health checks and checks).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/logging.hpp"
#include "common/safe_fs.hpp"
#include "common/transport.hpp"
#include "executors/executor.hpp"
#include "executors/health_checker.hpp"
#include "executors/probes.hpp"
#include "executors/task_sandbox.hpp"
#include "isolators/launcher.hpp"
#include "protocols/messages.hpp"

namespace stoa::executors {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

// "SIGTERM", or "signal 64" for one without a name.
std::string SignalName(int signal);

// Messages decoded on the endpoint's I/O thread, handed to the main loop with
// their tickets (released once handled); the eventfd becomes readable
// whenever messages are waiting.
class MessageQueue {
 public:
  using Item = std::pair<Message, FrameTicket>;
  MessageQueue();
  int fd() const { return wake_.get(); }

  // Called on the endpoint's I/O thread.
  void Push(Message message, FrameTicket ticket);
  // Every message waiting, in order; called on the main loop.
  std::deque<Item> TakeAll();

 private:
  UniqueFd wake_;
  std::mutex mutex_;
  std::deque<Item> items_;
};

struct Executor::Impl {
  struct Task {
    TaskInfo info;
    std::string sandbox;
    pid_t pid = 0;  // the command's pid and process group; 0 before it starts
    TaskState state = TaskState::kStaging;
    bool kill_requested = false;
    double sigkill_at = kNever;           // monotonic seconds
    UniqueFd directory;                   // its sandbox, where its check commands run
    std::optional<HealthChecker> health;  // once it runs, if it has a health check
    std::optional<HealthChecker> check;   // once it runs, if it has a check
    // The last results, carried by every update of the task.
    std::optional<bool> healthy;
    std::optional<CheckStatus> check_status;
    std::string unhealthy_cause;  // set when its health check had it killed
  };

  // Which checker of which task a probe in flight belongs to.
  struct ProbeOwner {
    TaskId task_id;
    bool health = false;
  };

  struct SpawnError {
    std::string message;
    int32_t exit_status = -1;
  };

  explicit Impl(ExecutorConfig executor_config)
      : config(std::move(executor_config)),
        log(Logger("executor")),
        ids("framework=" + config.framework_id + " executor=" + config.executor_id),
        endpoint("executor") {}

  ExecutorConfig config;
  std::shared_ptr<spdlog::logger> log;
  std::string ids;  // "framework=... executor=..." for log lines
  MessageQueue inbound;
  ZmqEndpoint endpoint;  // declared after `inbound`: stopped before the queue goes
  UniqueFd signal_fd;
  UniqueFd sandbox_fd;         // the executor sandbox, where task groups' sandboxes are made
  ProbeThreads probe_threads;  // HTTP and TCP probes

  std::vector<TaskId> launch_order;
  std::map<TaskId, Task> tasks;
  // An executor that stays: the tasks it forgot once they ended and their
  // updates were acknowledged (their ids are not taken again).
  std::set<TaskId> forgotten;
  std::map<pid_t, TaskId> task_of_pid;
  std::deque<TaskStatus> unacknowledged;  // in the order they were first sent
  uint64_t last_probe_id = 0;
  std::map<uint64_t, ProbeOwner> probes;   // probes in flight, by id
  std::map<pid_t, uint64_t> probe_of_pid;  // check commands not reaped yet

  bool agent_answered = false;
  bool launch_received = false;
  bool shutting_down = false;
  std::optional<int> forced_exit;
  double start_time = 0;
  double next_subscribe_at = kNever;
  double next_resend_at = kNever;
  double shutdown_deadline = kNever;

  int Run();
  Status Setup();
  double NextDeadline() const;
  std::optional<int> ExitStatus() const;
  void RunTimers(double now);

  void HandleSignals();
  void Reap();
  void DrainInbound();
  void HandleMessage(const Message& message);
  void HandleLaunch(const execmsg::Launch& launch);
  void HandleKill(const execmsg::Kill& kill);
  void HandleAck(const execmsg::Ack& ack);
  void ForgetIfDone(const TaskId& task_id);
  void BeginShutdown(int64_t grace_period_ms, const std::string& why);

  Task& Record(const TaskInfo& info, std::string sandbox);
  void LaunchTask(const TaskInfo& info);
  std::optional<SpawnError> Spawn(Task& task);
  std::vector<std::string> TaskEnvironment(const Task& task) const;
  // The task's sandbox as its command sees it (under STOA_ROOTFS_SANDBOX in a root filesystem).
  std::string SandboxSeenByTask(const Task& task) const {
    if (config.rootfs.empty()) return task.sandbox;
    return config.rootfs_sandbox + task.sandbox.substr(config.sandbox.size());
  }
  int64_t KillGrace(const Task& task, int64_t requested_ms) const;
  // `why` (with `reason`) says who wanted the kill; empty: the agent.
  void KillTask(Task& task, int64_t grace_period_ms, Reason reason = Reason::kNone,
                const std::string& why = "");
  void SignalTask(const Task& task, int signal);

  // Checks (task_checks.cpp).
  Status CheckChecks(const TaskInfo& info) const;
  void StartChecks(Task& task);
  double NextCheckDeadline() const;
  void RunChecks(double now);
  void StartProbe(Task& task, HealthChecker& checker, double now);
  void TakeProbeResults();
  // Whether `pid` was a check command; its result is then taken.
  bool ReapedProbe(pid_t pid, int wait_status);
  void ProbeEnded(uint64_t id, const ProbeResult& result);
  void Judge(Task& task, HealthChecker& checker, const CheckVerdict& verdict);
  void StopChecks(Task& task);
  Result<pid_t> SpawnCheckCommand(const Task& task, const std::string& command);
  // The launch plan of a process that runs as `task` does: its user, its
  // environment, its root filesystem and capabilities.
  std::optional<SpawnError> PlanAsTask(const Task& task, isolators::ProcessPlan& plan,
                                       std::optional<SandboxOwner>* owner) const;

  void Send(ExecutorMessage message);
  void SendSubscribe();
  void SendUpdate(Task& task, TaskState state, Reason reason, std::string message,
                  int32_t exit_status = -1);
  void ResendUpdates();
};

}  // namespace stoa::executors

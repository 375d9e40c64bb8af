// stoa-executor: the process the agent starts once per executor inside a
// container. It runs one task (command executor) or a task group, reaps every
// child (it is a child subreaper, and the init of a pid namespace when the agent
// isolates it), and reports each task's status to its agent, re-sending every
// update until the agent acknowledges it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/ids.hpp"
#include "common/status.hpp"
#include "isolators/capabilities.hpp"
#include "protocols/messages.hpp"

namespace stoa::executors {

// What the agent tells an executor through its environment, and the timings.
struct ExecutorConfig {
  std::string agent_endpoint;  // STOA_AGENT_ENDPOINT: ipc://PATH or tcp://HOST:PORT
  FrameworkId framework_id;    // STOA_FRAMEWORK_ID
  ExecutorId executor_id;      // STOA_EXECUTOR_ID
  AgentId agent_id;            // STOA_AGENT_ID
  std::string secret;          // STOA_EXECUTOR_SECRET: sent with Subscribe
  std::string sandbox;         // STOA_SANDBOX: absolute path of an existing directory
  bool group = false;          // STOA_EXECUTOR_GROUP=1: a task group, one sandbox per task
  // STOA_EXECUTOR_STAYS=1: with no task left it waits for more groups, and
  // exits only when the agent shuts it down.
  bool stays = false;
  std::string task_user;       // STOA_TASK_USER: tasks without command.user run as this user
  std::string rootfs;          // STOA_ROOTFS: a prepared root each task is pivoted into
  std::string rootfs_sandbox;  // STOA_ROOTFS_SANDBOX: where the sandbox is inside that root
  // STOA_TASK_CAPABILITIES: what tasks may ever hold; none: not limited.
  std::optional<isolators::CapabilitySet> task_capabilities;

  // Interval between re-sends of Subscribe (until the agent answers) and of
  // unacknowledged updates.
  double retry_interval_seconds = 1;
  // Once subscribed, Subscribe is re-sent this often so that a restarted agent
  // finds its executors again.
  double heartbeat_interval_seconds = 2;
  // Without a Launch (or Shutdown) by then, the executor exits with status 1.
  double launch_timeout_seconds = 60;
  // Grace period between SIGTERM and SIGKILL when neither the Kill/Shutdown nor
  // the task names one.
  int64_t default_kill_grace_ms = 3000;
  // After a Shutdown, the executor exits at the latest after the grace period
  // plus this, even with tasks alive or updates unacknowledged.
  double shutdown_slack_seconds = 5;
};

// Reads the configuration through `lookup` (which returns nullptr for an unset
// variable, like std::getenv). An error names each missing or invalid variable.
Result<ExecutorConfig> ConfigFromEnvironment(const std::function<const char*(const char*)>& lookup);

// The terminal update that reports how a task's command ended.
struct Termination {
  TaskState state = TaskState::kFailed;
  Reason reason = Reason::kNone;
  std::string message;       // e.g. "Command exited with status 3"
  int32_t exit_status = -1;  // the exit code, or the raw wait status after a signal
};

// `wait_status` as waitpid returns it (exited or signalled); `kill_requested`
// when a Kill or Shutdown asked for the task to end, which makes it KILLED.
Termination DescribeTermination(int wait_status, bool kill_requested);

// Whether `task_id` can name a directory under <sandbox>/tasks/: not empty, no
// '/' or NUL, not "." or "..".
Status ValidateTaskIdForPath(const TaskId& task_id);

// The executor's event loop: one thread, driven by the agent's messages, the
// children's exits (SIGCHLD through a signalfd) and timers. SIGTERM or SIGINT
// to the executor act as a Shutdown with the default grace period.
//
// A task's command runs in a process group of its own, in the executor's
// session (where the containerizer finds whatever is left of a container); a
// task ends when its command does, and whatever it left in its process group
// is killed. Task sandboxes are made without following symlinks (see
// task_sandbox.hpp); the command is looked up in the task's own PATH.
class Executor {
 public:
  explicit Executor(ExecutorConfig config);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Subscribes to the agent, runs what it launches and returns the process's
  // exit status: 0 once every launched task is terminal and every update
  // acknowledged (or once a Shutdown is done), 1 when no Launch came in time or
  // the agent's endpoint cannot be used.
  // REQUIRES: called once, on the main thread, before the process starts any
  // other thread (it blocks SIGCHLD, SIGTERM and SIGINT in the calling thread,
  // which every later thread inherits).
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::executors

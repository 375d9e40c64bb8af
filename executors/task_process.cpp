// stoa-executor's task processes: launching a task's command in its sandbox
// through the shared launcher, killing it (SIGTERM, then SIGKILL after its
// grace period) and reaping it and whatever it leaves behind.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <string_view>

#include "common/duration.hpp"
#include "executors/executor_impl.hpp"
#include "executors/task_sandbox.hpp"
#include "isolators/launcher.hpp"

extern char** environ;

namespace stoa::executors {
namespace {

// Environment variables of the executor that its tasks do not inherit.
constexpr const char* kPrivateVariables[] = {
    "STOA_AGENT_ENDPOINT", "STOA_EXECUTOR_GROUP",  "STOA_TASK_USER",        "STOA_ROOTFS",
    "STOA_ROOTFS_SANDBOX", "STOA_EXECUTOR_SECRET", "STOA_TASK_CAPABILITIES"};

}  // namespace

void Executor::Impl::Reap() {
  while (true) {
    int wait_status = 0;
    pid_t pid = waitpid(-1, &wait_status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (ReapedProbe(pid, wait_status)) continue;
    auto found = task_of_pid.find(pid);
    if (found == task_of_pid.end()) {
      log->debug("{}: reaped pid {}, which is not a task's command", ids, pid);
      continue;
    }
    Task& task = tasks.at(found->second);
    task_of_pid.erase(found);
    // Whatever the command left behind in its process group ends with it.
    killpg(pid, SIGKILL);
    if (IsTerminal(task.state)) continue;
    StopChecks(task);
    Termination termination = DescribeTermination(wait_status, task.kill_requested);
    task.sigkill_at = kNever;
    if (!task.unhealthy_cause.empty() && termination.state == TaskState::kKilled) {
      // As Mesos's executors report it: killed, and unhealthy when it ended.
      termination.reason = Reason::kTaskHealthCheckStatusUpdated;
      termination.message =
          "Task killed because it failed its health check " + task.unhealthy_cause;
    }
    SendUpdate(task, termination.state, termination.reason, std::move(termination.message),
               termination.exit_status);
  }
}

void Executor::Impl::LaunchTask(const TaskInfo& info) {
  std::string sandbox = config.group ? config.sandbox + "/tasks/" + info.task_id : config.sandbox;
  Task& task = Record(info, sandbox);
  // An executor that stays runs many short tasks one after another: its first
  // word of a task is TASK_RUNNING once the command runs (TASK_STARTING is
  // optional in Mesos), a third fewer updates through agent, master and
  // framework for each task.
  if (!config.stays) SendUpdate(task, TaskState::kStarting, Reason::kNone, "Starting command");
  std::optional<SpawnError> error = Spawn(task);
  if (error) {
    log->error("{} task={}: {}", ids, info.task_id, error->message);
    SendUpdate(task, TaskState::kFailed, Reason::kCommandExecutorFailed, error->message,
               error->exit_status);
    return;
  }
  task_of_pid[task.pid] = info.task_id;
  SendUpdate(task, TaskState::kRunning, Reason::kNone,
             "Command started (pid " + std::to_string(task.pid) + ")");
  StartChecks(task);
}

std::vector<std::string> Executor::Impl::TaskEnvironment(const Task& task) const {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    variables[std::string(text.substr(0, equals))] = std::string(text.substr(equals + 1));
  }
  for (const char* name : kPrivateVariables) variables.erase(name);
  for (const auto& [name, value] : task.info.command.environment) {
    if (name.empty() || name.find('=') != std::string::npos) {
      log->warn("{} task={}: ignored environment variable '{}': not a valid name", ids,
                task.info.task_id, name);
      continue;
    }
    variables[name] = value;
  }
  variables["STOA_SANDBOX"] = SandboxSeenByTask(task);
  variables["MESOS_SANDBOX"] = SandboxSeenByTask(task);  // what Marathon's apps expect
  variables["STOA_TASK_ID"] = task.info.task_id;
  std::vector<std::string> environment;
  environment.reserve(variables.size());
  for (const auto& [name, value] : variables) environment.push_back(name + "=" + value);
  return environment;
}

std::optional<Executor::Impl::SpawnError> Executor::Impl::PlanAsTask(
    const Task& task, isolators::ProcessPlan& plan, std::optional<SandboxOwner>* owner) const {
  const CommandInfo& command = task.info.command;
  std::string user = command.user.empty() ? config.task_user : command.user;
  if (!user.empty()) {
    Result<isolators::UserIdentity> identity = isolators::LookUpUser(user);
    if (!identity.ok()) return SpawnError{identity.error()};
    if (identity->uid != geteuid()) {
      if (geteuid() != 0) {
        return SpawnError{"cannot run the command as user '" + user +
                          "': the executor does not run as root"};
      }
      if (owner != nullptr) *owner = SandboxOwner{identity->uid, identity->gid};
      plan.user = std::move(*identity);
    }
  }
  plan.environment = TaskEnvironment(task);
  plan.capabilities = config.task_capabilities;
  if (!config.rootfs.empty()) {
    // A mount namespace of its own, so that the executor keeps the host's root.
    plan.clone_flags = CLONE_NEWNS;
    plan.root = config.rootfs;
    plan.working_directory = SandboxSeenByTask(task);
  }
  return std::nullopt;
}

std::optional<Executor::Impl::SpawnError> Executor::Impl::Spawn(Task& task) {
  const CommandInfo& command = task.info.command;
  if (command.value.empty()) return SpawnError{"the task's command is empty"};

  isolators::ProcessPlan plan;
  std::optional<SandboxOwner> owner;
  if (std::optional<SpawnError> error = PlanAsTask(task, plan, &owner)) return error;
  // The task writes its sandbox (the agent gave it the executor's already).
  Result<TaskSandbox> sandbox =
      PrepareTaskSandbox(sandbox_fd.get(), config.group ? task.info.task_id : "", owner);
  if (!sandbox.ok()) {
    return SpawnError{"Cannot prepare the task sandbox '" + task.sandbox + "': " + sandbox.error()};
  }

  if (command.shell) {
    plan.program = "/bin/sh";
    plan.arguments = {"sh", "-c", command.value};
  } else {
    plan.program = command.value;
    plan.arguments = command.arguments;
  }
  if (config.rootfs.empty()) plan.working_directory_fd = sandbox->directory.get();
  plan.stdout_fd = sandbox->stdout_fd.get();
  plan.stderr_fd = sandbox->stderr_fd.get();
  // Its own process group, to signal it as a whole, in the executor's session,
  // where the containerizer finds whatever is left of a container.
  plan.new_process_group = true;
  plan.die_with_parent = true;

  Result<isolators::ChildProcess> child = isolators::Launch(std::move(plan));
  if (!child.ok()) {
    std::string message = child.error();
    if (!message.empty()) message[0] = static_cast<char>(std::toupper(message[0]));
    return SpawnError{message, 127};
  }
  task.pid = child->pid();
  task.directory = std::move(sandbox->directory);
  log->info("{} task={}: started pid {} in {}", ids, task.info.task_id, task.pid, task.sandbox);
  return std::nullopt;
}

int64_t Executor::Impl::KillGrace(const Task& task, int64_t requested_ms) const {
  if (requested_ms > 0) return requested_ms;
  if (task.info.kill_grace_period_ms > 0) return task.info.kill_grace_period_ms;
  return config.default_kill_grace_ms;
}

void Executor::Impl::HandleKill(const execmsg::Kill& kill) {
  auto found = tasks.find(kill.task_id);
  if (found == tasks.end()) {
    log->warn("{} task={}: ignored a Kill for a task this executor never launched", ids,
              kill.task_id);
    return;
  }
  if (IsTerminal(found->second.state)) {
    log->info("{} task={}: ignored a Kill: the task is already {}", ids, kill.task_id,
              ToString(found->second.state));
    return;
  }
  KillTask(found->second, KillGrace(found->second, kill.grace_period_ms));
}

void Executor::Impl::KillTask(Task& task, int64_t grace_period_ms, Reason reason,
                              const std::string& why) {
  if (IsTerminal(task.state)) return;
  double sigkill_at = MonotonicSeconds() + static_cast<double>(grace_period_ms) / 1000.0;
  if (!task.kill_requested) {
    task.kill_requested = true;
    StopChecks(task);
    SendUpdate(task, TaskState::kKilling, reason,
               (why.empty() ? "" : why + "; ") + "Killing command: SIGTERM, then SIGKILL after " +
                   std::to_string(grace_period_ms) + " ms");
    SignalTask(task, SIGTERM);
  }
  task.sigkill_at = std::min(task.sigkill_at, sigkill_at);
}

void Executor::Impl::SignalTask(const Task& task, int signal) {
  if (task.pid <= 0) return;
  if (killpg(task.pid, signal) != 0 && errno == ESRCH) kill(task.pid, signal);
}

void Executor::Impl::BeginShutdown(int64_t grace_period_ms, const std::string& why) {
  log->info("{}: shutting down on {}", ids, why);
  shutting_down = true;
  int64_t longest_grace = 0;
  for (auto& [id, task] : tasks) {
    if (IsTerminal(task.state)) continue;
    int64_t grace = KillGrace(task, grace_period_ms);
    longest_grace = std::max(longest_grace, grace);
    KillTask(task, grace);
  }
  double deadline = MonotonicSeconds() + static_cast<double>(longest_grace) / 1000.0 +
                    config.shutdown_slack_seconds;
  shutdown_deadline = std::min(shutdown_deadline, deadline);
}

}  // namespace stoa::executors

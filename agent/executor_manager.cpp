#include "agent/executor_manager.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "agent/process.hpp"
#include "agent/sandbox.hpp"
#include "common/duration.hpp"
#include "common/logging.hpp"

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDefaultKillGraceMs = 3000;

std::string AgentUserName() {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found);
  return found != nullptr ? found->pw_name : "";
}

}  // namespace

Resources ExecutorEntry::Needed() const {
  Resources needed = info.resources;
  for (const auto& [id, task] : tasks) {
    if (!IsTerminal(task.state)) needed += task.info.resources;
  }
  return needed;
}

ExecutorManager::ExecutorManager(ExecutorManagerOptions options, AgentEffects* effects,
                                 std::shared_ptr<Checkpoint> checkpoint)
    : options_(std::move(options)),
      effects_(effects),
      checkpoint_(std::move(checkpoint)),
      log_(Logger("agent")),
      updates_(options_.retry) {}

// ---- lookups ----

ExecutorEntry* ExecutorManager::Find(const FrameworkId& framework_id,
                                     const ExecutorId& executor_id) {
  auto fit = frameworks_.find(framework_id);
  if (fit == frameworks_.end()) return nullptr;
  auto eit = fit->second.executors.find(executor_id);
  return eit == fit->second.executors.end() ? nullptr : &eit->second;
}

const ExecutorEntry* ExecutorManager::FindExecutor(const FrameworkId& framework_id,
                                                   const ExecutorId& executor_id) const {
  return const_cast<ExecutorManager*>(this)->Find(framework_id, executor_id);
}

ExecutorEntry* ExecutorManager::FindTaskExecutor(const FrameworkId& framework_id,
                                                 const TaskId& task_id) {
  auto fit = frameworks_.find(framework_id);
  if (fit == frameworks_.end()) return nullptr;
  for (auto& [id, executor] : fit->second.executors) {
    if (executor.tasks.count(task_id) > 0) return &executor;
  }
  return nullptr;
}

std::set<std::string> ExecutorManager::LiveSandboxes() const {
  std::set<std::string> live;
  for (const auto& [framework_id, framework] : frameworks_) {
    for (const auto& [executor_id, executor] : framework.executors) live.insert(executor.sandbox);
  }
  return live;
}

void ExecutorManager::FillRegister(agentmsg::Register& reg) const {
  for (const auto& [framework_id, framework] : frameworks_) {
    reg.frameworks.push_back(framework.info);
    for (const auto& [executor_id, executor] : framework.executors) {
      for (const auto& [task_id, task] : executor.tasks) reg.tasks.push_back(task);
      if (executor.info.group) reg.executors.push_back(executor.info);
    }
  }
}

// As Mesos runs tasks: as the task's own user, else the framework's user,
// else the agent's --default_user, else the agent's own user.
std::string ExecutorManager::DefaultTaskUser(const FrameworkInfo& framework) const {
  if (!framework.user.empty()) return framework.user;
  return options_.default_user.empty() ? AgentUserName() : options_.default_user;
}

// ---- status updates ----

void ExecutorManager::AgentUpdate(const FrameworkId& framework_id, ExecutorEntry& executor,
                                  const TaskId& task_id, TaskState state, Reason reason,
                                  const std::string& message, double now) {
  TaskStatus status;
  status.task_id = task_id;
  status.state = state;
  status.reason = reason;
  status.source = Source::kAgent;
  status.message = message;
  status.agent_id = agent_id_;
  status.executor_id = executor.info.executor_id;
  status.timestamp = WallSeconds();
  status.uuid = NewUuid();
  OnUpdate(framework_id, executor, status, now);
}

void ExecutorManager::OnUpdate(const FrameworkId& framework_id, ExecutorEntry& executor,
                               TaskStatus status, double now) {
  auto it = executor.tasks.find(status.task_id);
  if (it == executor.tasks.end()) return;
  Task& task = it->second;
  status.agent_id = agent_id_;
  for (const auto& seen : task.statuses) {
    if (seen.uuid == status.uuid) return;  // a resend of one we already have
  }
  bool was_terminal = IsTerminal(task.state);
  if (gone_) {  // no master will ever acknowledge it: record, queue nothing
    task.statuses.push_back(status);
    if (IsValidTransition(task.state, status.state)) task.state = status.state;
    return;
  }
  auto added = updates_.Add(framework_id, status, now);
  if (added == StatusUpdateManager::AddResult::kDuplicate) return;
  ++counters_.status_updates;
  task.statuses.push_back(status);
  if (task.statuses.size() > 16) task.statuses.erase(task.statuses.begin());
  if (IsValidTransition(task.state, status.state)) task.state = status.state;
  CheckpointTask(task);
  if (added == StatusUpdateManager::AddResult::kSendNow) {
    effects_->SendStatusUpdate(agentmsg::StatusUpdate{framework_id, status});
  }
  if (!was_terminal && IsTerminal(task.state)) {
    ResizeIfNeeded(executor);
    // Idle from its last task's end, whether or not the framework is there
    // to acknowledge it.
    StartIdleClock(executor, now);
  }
}

void ExecutorManager::Acknowledge(const agentmsg::StatusUpdateAck& ack, double now) {
  if (auto next = updates_.Acknowledge(ack.framework_id, ack.task_id, ack.uuid, now)) {
    effects_->SendStatusUpdate(*next);
  }
  ExecutorEntry* executor = FindTaskExecutor(ack.framework_id, ack.task_id);
  if (executor == nullptr) {
    if (unknown_tasks_.count({ack.framework_id, ack.task_id}) > 0) {
      CheckpointUnknownTask(ack.framework_id, ack.task_id);
    }
    return;
  }
  // A staying executor's task whose outcome is now with the framework is
  // forgotten rather than checkpointed once more.
  if (!executor->stays() || !SettleStayingExecutor(*executor, ack.task_id, now)) {
    CheckpointTask(executor->tasks.at(ack.task_id));
  }
  ForgetExecutorIfDone(ack.framework_id, executor->info.executor_id);
}

bool ExecutorManager::SettleStayingExecutor(ExecutorEntry& executor, const TaskId& task_id,
                                            double now) {
  const FrameworkId& framework_id = executor.info.framework_id;
  auto it = executor.tasks.find(task_id);
  bool forget = it != executor.tasks.end() && IsTerminal(it->second.state) &&
                updates_.Drained(framework_id, task_id) && executor.pid > 0;
  if (forget) {
    // Its outcome is with the framework: nothing here needs it any more, and
    // an executor that runs thousands of tasks must not carry them all.
    executor.tasks.erase(it);
    executor.killing.erase(task_id);
    if (checkpoint_ != nullptr) {
      if (Status s = checkpoint_->RemoveTask(framework_id, task_id); !s.ok()) {
        log_->error("{}", s.message());
      }
    }
  }
  StartIdleClock(executor, now);
  return forget;
}

void ExecutorManager::StartIdleClock(ExecutorEntry& executor, double now) {
  if (!executor.stays() || executor.shutting_down || executor.idle_since ||
      !executor.queued.empty()) {
    return;
  }
  for (const auto& [id, task] : executor.tasks) {
    if (!IsTerminal(task.state)) return;
  }
  executor.idle_since = now;
  effects_->ScheduleIdleCheck(executor.info.framework_id, executor.info.executor_id,
                              executor.container_id, executor.info.idle_timeout_seconds);
}

void ExecutorManager::CheckIdle(const FrameworkId& framework_id, const ExecutorId& executor_id,
                                const ContainerId& container_id, double now) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || executor->container_id != container_id || !executor->idle_since) {
    return;
  }
  double idle = now - *executor->idle_since;
  double timeout = executor->info.idle_timeout_seconds;
  if (idle + 1e-3 < timeout) {  // idle again since a later group: its own check comes
    return;
  }
  log_->info("framework={} executor={} has had no task for {:.1f} s; shutting it down",
             framework_id, executor_id, idle);
  executor->idle_since.reset();
  ++counters_.idle_shutdowns;
  ShutdownExecutor(*executor);
}

// ---- launching ----

void ExecutorManager::RunTask(agentmsg::RunTask run, double now) {
  const FrameworkId framework_id = run.framework.id;
  FrameworkEntry& framework = frameworks_[framework_id];
  framework.info = run.framework;
  auto [it, created] = framework.executors.try_emplace(run.executor.executor_id);
  ExecutorEntry& executor = it->second;
  if (created) {
    executor.info = run.executor;
    executor.info.framework_id = framework_id;
    executor.container_id = NewUuid();
    executor.secret = NewSecret();
    // The first task says whom the container is for (its sandbox's owner).
    executor.container_user = !run.tasks.empty() && !run.tasks.front().command.user.empty()
                                  ? run.tasks.front().command.user
                              : !run.framework.user.empty() ? run.framework.user
                                                            : options_.default_user;
  }
  // Each task without a user of its own runs as the default user, not as
  // whoever the group's first task named.
  for (auto& info : run.tasks) {
    if (info.command.user.empty()) info.command.user = DefaultTaskUser(run.framework);
  }
  counters_.tasks_launched += static_cast<int64_t>(run.tasks.size());
  for (auto& info : run.tasks) {
    Task task;
    task.info = info;
    task.framework_id = framework_id;
    task.executor_id = executor.info.executor_id;
    task.state = TaskState::kStaging;
    task.role = run.role;
    executor.tasks[info.task_id] = std::move(task);
  }
  if (executor.shutting_down) {
    for (auto& info : run.tasks) {
      AgentUpdate(framework_id, executor, info.task_id, TaskState::kLost,
                  Reason::kExecutorTerminated, "the executor is shutting down", now);
    }
    CheckpointExecutor(framework_id, executor.info.executor_id);
    return;
  }
  if (!created) ResizeIfNeeded(executor);  // more tasks in a running container
  executor.idle_since.reset();
  if (executor.subscribed) {
    SendToExecutor(executor, execmsg::Launch{run.tasks});
  } else {
    executor.queued.insert(executor.queued.end(), run.tasks.begin(), run.tasks.end());
  }
  if (created) {
    Launch(framework_id, executor, run.tasks, now);
    return;  // Launch checkpointed (or the executor is gone already)
  }
  CheckpointExecutor(framework_id, executor.info.executor_id);
}

void ExecutorManager::Launch(const FrameworkId& framework_id, ExecutorEntry& executor,
                             const std::vector<TaskInfo>& tasks, double now) {
  const ExecutorId executor_id = executor.info.executor_id;
  executor.sandbox =
      SandboxPath(options_.work_dir, framework_id, executor_id, executor.container_id);
  // Checkpointed before the launch: an agent killed mid-launch must find the
  // tasks (and the container to clean up) when it comes back.
  CheckpointExecutor(framework_id, executor_id);
  std::error_code error;
  // The sandbox collector removes empty parents: if it just took one, again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    error.clear();
    fs::create_directories(executor.sandbox, error);
    if (!error) break;
  }
  if (error) {
    LaunchFailed(executor,
                 "sandbox '" + executor.sandbox + "' cannot be created: " + error.message(), now);
    return;
  }
  ContainerConfig config;
  config.container_id = executor.container_id;
  config.program = options_.executor_path;
  config.sandbox = executor.sandbox;
  config.environment = {{"STOA_AGENT_ENDPOINT", options_.executor_endpoint},
                        {"STOA_FRAMEWORK_ID", framework_id},
                        {"STOA_EXECUTOR_ID", executor_id},
                        {"STOA_AGENT_ID", agent_id_},
                        {"STOA_SANDBOX", executor.sandbox},
                        {"STOA_EXECUTOR_GROUP", executor.info.group ? "1" : "0"},
                        {"STOA_EXECUTOR_STAYS", executor.stays() ? "1" : "0"},
                        {"STOA_EXECUTOR_SECRET", executor.secret}};
  if (!options_.task_capabilities.empty()) {
    config.environment.emplace_back("STOA_TASK_CAPABILITIES", options_.task_capabilities);
  }
  // The container holds the executor and every task it was launched with;
  // the first task says how the container is set up.
  config.resources = executor.Needed();
  executor.limits = config.resources;
  if (!tasks.empty()) config.container = tasks.front().container;
  config.user = executor.container_user;
  config.framework_id = framework_id;
  config.executor_id = executor_id;
  executor.launching = true;
  ++counters_.executors_launched;
  effects_->LaunchContainer(config);
}

void ExecutorManager::OnLaunched(const FrameworkId& framework_id, const ExecutorId& executor_id,
                                 const ContainerId& container_id, pid_t pid,
                                 const std::string& error, double now) {
  ExecutorEntry* found = Find(framework_id, executor_id);
  if (found == nullptr || found->container_id != container_id) {
    if (error.empty()) effects_->DestroyContainer(container_id);  // nobody wants it now
    return;
  }
  ExecutorEntry& executor = *found;
  executor.launching = false;
  if (!error.empty()) {
    LaunchFailed(executor, error, now);
    return;
  }
  if (executor.exited) {  // it ended before the launcher answered
    ForgetExecutorIfDone(framework_id, executor_id);
    return;
  }
  executor.pid = pid;
  executor.start_time = ProcessStartTime(pid);
  log_->info("framework={} executor={} container={} started as pid {} in {}", framework_id,
             executor_id, executor.container_id, executor.pid, executor.sandbox);
  CheckpointExecutor(framework_id, executor_id);
  if (executor.shutting_down && !executor.subscribed) {
    effects_->DestroyContainer(executor.container_id);  // shut down while it was launching
  }
}

bool ExecutorManager::LaunchWanted(const FrameworkId& framework_id, const ExecutorId& executor_id,
                                   const ContainerId& container_id) const {
  const ExecutorEntry* executor = FindExecutor(framework_id, executor_id);
  return executor != nullptr && executor->container_id == container_id && executor->launching &&
         !executor->shutting_down;
}

void ExecutorManager::OnLaunchAbandoned(const FrameworkId& framework_id,
                                        const ExecutorId& executor_id,
                                        const ContainerId& container_id, double now) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || executor->container_id != container_id) return;
  log_->info(
      "framework={} executor={} container={}: not launched: the executor was shut down "
      "while its container was provisioned",
      framework_id, executor_id, container_id);
  executor->launching = false;
  executor->exited = true;
  auto queued = executor->queued;
  executor->queued.clear();
  for (auto& info : queued) {
    AgentUpdate(framework_id, *executor, info.task_id, TaskState::kKilled,
                Reason::kTaskKilledDuringLaunch, "the executor was shut down before it started",
                now);
  }
  ForgetExecutorIfDone(framework_id, executor_id);
}

void ExecutorManager::LaunchFailed(ExecutorEntry& executor, const std::string& error, double now) {
  const FrameworkId framework_id = executor.info.framework_id;
  ++counters_.launch_failures;
  log_->error("framework={} executor={}: launch failed: {}", framework_id,
              executor.info.executor_id, error);
  auto tasks = executor.queued;
  executor.queued.clear();
  executor.shutting_down = true;  // later tasks for it fail at once instead of waiting
  for (auto& info : tasks) {
    AgentUpdate(framework_id, executor, info.task_id, TaskState::kFailed,
                Reason::kContainerLaunchFailed, error, now);
  }
  ForgetExecutorIfDone(framework_id, executor.info.executor_id);
}

// The container's limits follow the executor's live task set (Mesos calls
// containerizer->update on every change of it).
void ExecutorManager::ResizeIfNeeded(ExecutorEntry& executor) {
  if (executor.exited || executor.shutting_down || executor.container_id.empty()) return;
  bool any_live = std::any_of(executor.tasks.begin(), executor.tasks.end(),
                              [](const auto& entry) { return !IsTerminal(entry.second.state); });
  if (!any_live) return;  // the executor ends next: leave it the room it has
  Resources needed = executor.Needed();
  if (needed == executor.limits || (!executor.launching && executor.pid == 0)) return;
  log_->info("framework={} executor={} container={}: resources now {}", executor.info.framework_id,
             executor.info.executor_id, executor.container_id, needed.ToString());
  executor.limits = needed;
  effects_->UpdateContainer(executor.container_id, needed);
}

// ---- killing ----

void ExecutorManager::SendKill(const ExecutorEntry& executor, const Task& task) {
  int64_t grace =
      task.info.kill_grace_period_ms > 0 ? task.info.kill_grace_period_ms : kDefaultKillGraceMs;
  SendToExecutor(executor, execmsg::Kill{task.info.task_id, grace});
}

void ExecutorManager::KillTask(const FrameworkId& framework_id, const TaskId& task_id, double now) {
  ExecutorEntry* executor = FindTaskExecutor(framework_id, task_id);
  if (executor == nullptr) {
    // As Mesos's agent does: the task never reached this agent (a launch lost
    // on the way, or one the agent ignored while unregistered), so say so with
    // a terminal update instead of leaving the framework waiting.
    auto framework = frameworks_.find(framework_id);
    bool partition_aware = framework != frameworks_.end() && framework->second.info.partition_aware;
    TaskStatus status;
    status.task_id = task_id;
    status.state = partition_aware ? TaskState::kDropped : TaskState::kLost;
    status.reason = Reason::kExecutorTerminated;
    status.source = Source::kAgent;
    status.message = "the agent does not know this task (it never received its launch)";
    status.agent_id = agent_id_;
    status.timestamp = WallSeconds();
    status.uuid = NewUuid();
    log_->warn("framework={} task={}: kill of a task this agent does not know; reporting {}",
               framework_id, task_id, ToString(status.state));
    if (gone_) return;
    auto added = updates_.Add(framework_id, status, now);
    unknown_tasks_.insert({framework_id, task_id});
    CheckpointUnknownTask(framework_id, task_id);
    if (added == StatusUpdateManager::AddResult::kSendNow) {
      effects_->SendStatusUpdate(agentmsg::StatusUpdate{framework_id, status});
    }
    return;
  }
  Task& task = executor->tasks.at(task_id);
  if (IsTerminal(task.state)) return;
  auto queued = std::find_if(executor->queued.begin(), executor->queued.end(),
                             [&](const TaskInfo& t) { return t.task_id == task_id; });
  if (queued != executor->queued.end()) {
    executor->queued.erase(queued);
    AgentUpdate(framework_id, *executor, task_id, TaskState::kKilled,
                Reason::kTaskKilledDuringLaunch, "killed before the executor started it", now);
    if (executor->queued.empty() && !executor->subscribed) ShutdownExecutor(*executor);
    return;
  }
  executor->killing.insert(task_id);
  SendKill(*executor, task);
}

void ExecutorManager::ShutdownExecutor(ExecutorEntry& executor) {
  if (executor.shutting_down) return;
  executor.shutting_down = true;
  int64_t grace_ms = static_cast<int64_t>(options_.executor_shutdown_grace * 1000);
  if (executor.subscribed) {
    SendToExecutor(executor, execmsg::Shutdown{grace_ms});
    effects_->ScheduleEscalation(executor.info.framework_id, executor.info.executor_id,
                                 executor.container_id, options_.executor_shutdown_grace + 5);
  } else if (executor.pid > 0) {
    if (!effects_->DestroyContainer(executor.container_id)) {
      effects_->KillProcess(executor.pid, executor.start_time);
    }
  }
}

void ExecutorManager::Escalate(const FrameworkId& framework_id, const ExecutorId& executor_id,
                               const ContainerId& container_id) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || executor->container_id != container_id || executor->pid <= 0) return;
  log_->warn("executor {} of framework {} did not stop in time; killing it", executor_id,
             framework_id);
  if (!effects_->DestroyContainer(container_id)) {
    effects_->KillProcess(executor->pid, executor->start_time);
  }
}

void ExecutorManager::ShutdownFramework(const FrameworkId& framework_id, double now) {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) return;
  log_->info("shutting down framework {}", framework_id);
  for (auto& [id, executor] : it->second.executors) {
    auto queued = executor.queued;
    executor.queued.clear();
    for (auto& info : queued) {
      AgentUpdate(framework_id, executor, info.task_id, TaskState::kKilled,
                  Reason::kFrameworkRemoved, "the framework was removed", now);
    }
    ShutdownExecutor(executor);
  }
}

void ExecutorManager::ShutdownAllAsGone(double now) {
  gone_ = true;
  std::vector<FrameworkId> ids;
  for (const auto& [id, framework] : frameworks_) ids.push_back(id);
  for (const auto& [framework_id, task_id] : unknown_tasks_) {  // never to be acknowledged
    updates_.RemoveFramework(framework_id);
    if (checkpoint_ != nullptr) checkpoint_->RemoveUnknownTask(framework_id, task_id);
  }
  unknown_tasks_.clear();
  for (const auto& id : ids) {
    updates_.RemoveFramework(id);
    ShutdownFramework(id, now);
  }
}

// ---- executors ----

void ExecutorManager::SendToExecutor(const ExecutorEntry& executor, ExecutorMessage message) {
  if (executor.peer.empty()) return;
  effects_->SendToExecutor(executor.peer, std::move(message));
}

void ExecutorManager::OnExecutorMessage(const std::string& peer, ExecutorMessage& message,
                                        double now) {
  if (auto* subscribe = std::get_if<execmsg::Subscribe>(&message)) {
    Subscribe(peer, *subscribe, now);
    return;
  }
  auto pit = executor_peers_.find(peer);
  ExecutorEntry* executor =
      pit == executor_peers_.end() ? nullptr : Find(pit->second.first, pit->second.second);
  if (executor == nullptr) {
    log_->warn("a message from executor peer '{}' that has not subscribed; ignored", peer);
    return;
  }
  if (auto* update = std::get_if<execmsg::Update>(&message)) {
    const FrameworkId framework_id = executor->info.framework_id;
    OnUpdate(framework_id, *executor, update->status, now);
    // The agent now owns the update: acknowledge it to the executor.
    SendToExecutor(*executor, execmsg::Ack{update->status.task_id, update->status.uuid});
  }
}

void ExecutorManager::Subscribe(const std::string& peer, const execmsg::Subscribe& subscribe,
                                double now) {
  ExecutorEntry* executor = Find(subscribe.framework_id, subscribe.executor_id);
  if (executor == nullptr || (executor->pid == 0 && !executor->launching)) {
    log_->warn("executor {} of framework {} is unknown; telling it to shut down",
               subscribe.executor_id, subscribe.framework_id);
    effects_->SendToExecutor(peer, execmsg::Shutdown{0});
    return;
  }
  // Anyone who can reach the socket could claim an executor's ids: only the
  // process given its secret speaks for it. (A checkpoint written before
  // secrets existed has none.)
  if (!executor->secret.empty() && subscribe.secret != executor->secret) {
    log_->warn("a subscription for executor {} of framework {} did not carry its secret; ignored",
               subscribe.executor_id, subscribe.framework_id);
    return;
  }
  if (!executor->peer.empty()) executor_peers_.erase(executor->peer);
  executor->peer = peer;
  executor->subscribed = true;
  executor_peers_[peer] = {subscribe.framework_id, subscribe.executor_id};
  for (const auto& status : subscribe.unacknowledged) {
    OnUpdate(subscribe.framework_id, *executor, status, now);
    SendToExecutor(*executor, execmsg::Ack{status.task_id, status.uuid});
  }
  if (executor->shutting_down) {
    SendToExecutor(*executor, execmsg::Shutdown{
                                  static_cast<int64_t>(options_.executor_shutdown_grace * 1000)});
  } else if (!executor->queued.empty()) {
    SendToExecutor(*executor, execmsg::Launch{executor->queued});
    executor->queued.clear();
  }
  // Kills asked for while the executor was out of reach (agent restart).
  for (const auto& task_id : executor->killing) {
    auto it = executor->tasks.find(task_id);
    if (it == executor->tasks.end() || IsTerminal(it->second.state)) continue;
    SendKill(*executor, it->second);
  }
  StartIdleClock(*executor, now);  // one found idle after an agent restart
}

void ExecutorManager::OnExecutorExited(const FrameworkId& framework_id,
                                       const ExecutorId& executor_id,
                                       const ContainerId& container_id, int wait_status,
                                       Reason limitation, const std::string& limitation_message,
                                       double now) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || executor->container_id != container_id) return;
  std::string how = DescribeWaitStatus(wait_status);
  log_->info("framework={} executor={} {}{}", framework_id, executor_id, how,
             limitation == Reason::kNone ? "" : ": " + limitation_message);
  executor->exited = true;  // no resizing of a container that is gone
  std::vector<TaskId> live;
  for (const auto& [task_id, task] : executor->tasks) {
    if (!IsTerminal(task.state)) live.push_back(task_id);
  }
  for (const auto& task_id : live) {
    if (limitation != Reason::kNone) {
      AgentUpdate(framework_id, *executor, task_id, TaskState::kFailed, limitation,
                  limitation_message, now);
      continue;
    }
    bool killed = executor->killing.count(task_id) > 0 || executor->shutting_down;
    AgentUpdate(framework_id, *executor, task_id, killed ? TaskState::kKilled : TaskState::kFailed,
                Reason::kExecutorTerminated,
                "the executor " + how + " (see executor.log in the sandbox)", now);
  }
  if (!executor->peer.empty()) executor_peers_.erase(executor->peer);
  executor->pid = 0;
  executor->subscribed = false;
  executor->shutting_down = true;  // no new tasks into a dead executor
  ForgetExecutorIfDone(framework_id, executor_id);
}

// Drops the books of an executor whose container ended once every update of
// its tasks is acknowledged; its sandbox is then left to the collector.
void ExecutorManager::ForgetExecutorIfDone(const FrameworkId& framework_id,
                                           const ExecutorId& executor_id) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || executor->pid != 0 || executor->launching) return;
  for (const auto& [task_id, task] : executor->tasks) {
    if (!IsTerminal(task.state) || !updates_.Drained(framework_id, task_id)) return;
  }
  for (const auto& [task_id, task] : executor->tasks) {
    completed_tasks_.push_back({task, executor->sandbox});
    if (completed_tasks_.size() > 1000) completed_tasks_.erase(completed_tasks_.begin());
  }
  for (const auto& [task_id, task] : executor->tasks) {
    if (checkpoint_ == nullptr) break;
    if (Status s = checkpoint_->RemoveTask(framework_id, task_id); !s.ok()) {
      log_->error("{}", s.message());
    }
  }
  if (checkpoint_ == nullptr) {
  } else if (Status s = checkpoint_->RemoveExecutor(framework_id, executor_id); !s.ok()) {
    log_->error("{}", s.message());
  }
  std::string sandbox = executor->sandbox;
  auto& executors = frameworks_[framework_id].executors;
  executors.erase(executor_id);
  if (executors.empty()) frameworks_.erase(framework_id);
  if (!sandbox.empty()) effects_->SandboxDone(sandbox);
}

// ---- checkpoint and recovery ----

void ExecutorManager::CheckpointTask(const Task& task) {
  if (checkpoint_ == nullptr) return;
  TaskRecord record{task, updates_.Pending(task.framework_id, task.info.task_id)};
  if (Status s = checkpoint_->PutTask(record); !s.ok()) log_->error("{}", s.message());
}

void ExecutorManager::CheckpointUnknownTask(const FrameworkId& framework_id,
                                            const TaskId& task_id) {
  std::vector<TaskStatus> pending = updates_.Pending(framework_id, task_id);
  if (pending.empty()) unknown_tasks_.erase({framework_id, task_id});
  if (checkpoint_ == nullptr) return;
  Status s = Status::Ok();
  if (pending.empty()) {
    s = checkpoint_->RemoveUnknownTask(framework_id, task_id);
  } else {
    Task task;
    task.info.task_id = task_id;
    task.framework_id = framework_id;
    task.state = pending.back().state;
    s = checkpoint_->PutUnknownTask(TaskRecord{task, pending});
  }
  if (!s.ok()) log_->error("{}", s.message());
}

void ExecutorManager::CheckpointExecutor(const FrameworkId& framework_id,
                                         const ExecutorId& executor_id) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || checkpoint_ == nullptr) return;
  ExecutorRecord record{executor->info,         frameworks_[framework_id].info,
                        executor->container_id, static_cast<int32_t>(executor->pid),
                        executor->sandbox,      executor->secret};
  std::vector<TaskRecord> tasks;
  for (const auto& [task_id, task] : executor->tasks) {
    tasks.push_back({task, updates_.Pending(framework_id, task_id)});
  }
  if (Status s = checkpoint_->PutExecutor(record, tasks); !s.ok()) log_->error("{}", s.message());
}

void ExecutorManager::Recover(const RecoveredState& state, double now) {
  bool rebooted = !state.boot_id.empty() && state.boot_id != BootId();
  agent_id_ = state.agent_id;
  for (const auto& record : state.executors) {
    FrameworkEntry& framework = frameworks_[record.info.framework_id];
    framework.info = record.framework;
    ExecutorEntry& executor = framework.executors[record.info.executor_id];
    executor.info = record.info;
    executor.container_id = record.container_id;
    executor.sandbox = record.sandbox;
    executor.pid = record.pid;
    executor.secret = record.secret;
    if (record.secret.empty()) {
      log_->warn(
          "executor {} of framework {} was launched before executors had secrets: any "
          "process that reaches the agent's socket may speak for it until it ends",
          record.info.executor_id, record.info.framework_id);
    }
  }
  for (const auto& record : state.tasks) {
    ExecutorEntry* executor = Find(record.task.framework_id, record.task.executor_id);
    if (executor == nullptr) {
      checkpoint_->RemoveTask(record.task.framework_id, record.task.info.task_id);
      continue;
    }
    executor->tasks[record.task.info.task_id] = record.task;
    for (const auto& status : record.pending) updates_.Add(record.task.framework_id, status, now);
  }
  for (const auto& record : state.unknown_tasks) {
    for (const auto& status : record.pending) updates_.Add(record.task.framework_id, status, now);
    unknown_tasks_.insert({record.task.framework_id, record.task.info.task_id});
  }
  size_t reattached = 0, lost = 0;
  std::vector<std::tuple<FrameworkId, ExecutorId, ContainerId>> gone;
  for (auto& [framework_id, framework] : frameworks_) {
    for (auto& [executor_id, executor] : framework.executors) {
      if (!rebooted && IsExecutorProcess(executor.pid, executor_id)) {
        ++reattached;  // the containerizer watches it and reports its end
        executor.start_time = ProcessStartTime(executor.pid);
        executor.limits = executor.Needed();
      } else {
        ++lost;
        gone.emplace_back(framework_id, executor_id, executor.container_id);
      }
    }
  }
  for (const auto& [framework_id, executor_id, container_id] : gone) {
    OnRecoveredExecutorGone(framework_id, executor_id, container_id, rebooted, now);
  }
  if (!agent_id_.empty()) {
    log_->info("recovered agent {}: reattached to {} executors, {} gone{}", agent_id_, reattached,
               lost, rebooted ? " (the host rebooted)" : "");
  }
}

void ExecutorManager::OnRecoveredExecutorGone(const FrameworkId& framework_id,
                                              const ExecutorId& executor_id,
                                              const ContainerId& container_id, bool rebooted,
                                              double now) {
  ExecutorEntry* executor = Find(framework_id, executor_id);
  if (executor == nullptr || executor->container_id != container_id) return;
  executor->exited = true;
  std::vector<TaskId> live;
  for (const auto& [task_id, task] : executor->tasks) {
    if (!IsTerminal(task.state)) live.push_back(task_id);
  }
  for (const auto& task_id : live) {
    if (rebooted) {
      AgentUpdate(framework_id, *executor, task_id, TaskState::kGone, Reason::kAgentRestarted,
                  "the host rebooted: the task is gone", now);
    } else {
      AgentUpdate(framework_id, *executor, task_id, TaskState::kFailed, Reason::kExecutorTerminated,
                  "the executor ended while the agent was restarting", now);
    }
  }
  if (!executor->peer.empty()) executor_peers_.erase(executor->peer);
  executor->pid = 0;
  executor->subscribed = false;
  executor->shutting_down = true;
  ForgetExecutorIfDone(framework_id, executor_id);
}

}  // namespace stoa::agent

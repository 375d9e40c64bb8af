// stoa-executor's event loop and its channel to the agent.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <utility>

#include "common/duration.hpp"
#include "executors/executor_impl.hpp"
#include "protocols/codec.hpp"

namespace stoa::executors {
namespace {

constexpr char kAgentConnection[] = "agent";

// Makes sure descriptors 0, 1 and 2 are open, so that no file we open later
// lands on them.
void EnsureStandardDescriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int opened = open("/dev/null", O_RDWR);
      if (opened >= 0 && opened != fd) close(opened);
    }
  }
}

int TimeoutMillis(double seconds) {
  if (std::isinf(seconds)) return -1;
  if (seconds <= 0) return 0;
  return static_cast<int>(std::min(std::ceil(seconds * 1000), 3600.0 * 1000));
}

}  // namespace

MessageQueue::MessageQueue() : wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

void MessageQueue::Push(Message message, FrameTicket ticket) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    items_.emplace_back(std::move(message), std::move(ticket));
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_.get(), &one, sizeof(one));
  (void)ignored;
}

std::deque<MessageQueue::Item> MessageQueue::TakeAll() {
  uint64_t count;
  ssize_t ignored = read(wake_.get(), &count, sizeof(count));
  (void)ignored;
  std::deque<Item> items;
  std::lock_guard<std::mutex> lock(mutex_);
  items.swap(items_);
  return items;
}

int Executor::Impl::Run() {
  start_time = MonotonicSeconds();
  if (Status status = Setup(); !status.ok()) {
    log->error("{}: {}", ids, status.message());
    return 1;
  }
  // Frames that do not decode are dropped (and logged) on the endpoint's I/O thread.
  endpoint.Start(Decoding(Decode, [this](const FrameOrigin&, Message message, FrameTicket ticket) {
    inbound.Push(std::move(message), std::move(ticket));
  }));
  log->info("{}: subscribing to the agent at {} (pid {}, {})", ids, config.agent_endpoint, getpid(),
            config.group ? "task group" : "command executor");
  SendSubscribe();
  next_subscribe_at = start_time + config.retry_interval_seconds;

  while (true) {
    if (std::optional<int> status = ExitStatus()) {
      endpoint.Stop();
      return *status;
    }
    pollfd fds[3] = {
        {signal_fd.get(), POLLIN, 0}, {inbound.fd(), POLLIN, 0}, {probe_threads.fd(), POLLIN, 0}};
    int ready = poll(fds, 3, TimeoutMillis(NextDeadline() - MonotonicSeconds()));
    if (ready < 0 && errno != EINTR) {
      log->error("{}: poll failed: {}; exiting", ids, ErrnoText(errno));
      endpoint.Stop();
      return 1;
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) HandleSignals();
    if (ready > 0 && (fds[1].revents & POLLIN)) DrainInbound();
    if (ready > 0 && (fds[2].revents & POLLIN)) TakeProbeResults();
    RunTimers(MonotonicSeconds());
  }
}

Status Executor::Impl::Setup() {
  EnsureStandardDescriptors();
  if (inbound.fd() < 0) return Status::Error("cannot create an eventfd: " + ErrnoText(errno));
  // Blocked before any thread starts (ZeroMQ's and the endpoint's inherit the
  // mask), then read through a signalfd by the main loop.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGCHLD);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr); error != 0) {
    return Status::Error("cannot block SIGCHLD: " + ErrnoText(error));
  }
  signal_fd = UniqueFd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd.valid()) return Status::Error("cannot create a signalfd: " + ErrnoText(errno));
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    log->warn("{}: cannot become a child subreaper ({}): orphans of tasks will not be reaped here",
              ids, ErrnoText(errno));
  }
  Result<UniqueFd> sandbox = OpenDirectory(config.sandbox);
  if (!sandbox.ok()) return Status::Error("STOA_SANDBOX: " + sandbox.error());
  sandbox_fd = std::move(*sandbox);
  // Unique even where every executor is pid 1 (the init of its own pid namespace).
  std::string identity = "executor-" + config.executor_id + "-" + std::to_string(getpid()) + "-" +
                         NewUuid().substr(0, 8);
  return endpoint.Connect(kAgentConnection, config.agent_endpoint, identity);
}

double Executor::Impl::NextDeadline() const {
  double deadline = std::min(next_resend_at, shutdown_deadline);
  deadline = std::min(deadline, next_subscribe_at);
  if (!launch_received && !shutting_down) {
    deadline = std::min(deadline, start_time + config.launch_timeout_seconds);
  }
  for (const auto& [id, task] : tasks) {
    if (!IsTerminal(task.state)) deadline = std::min(deadline, task.sigkill_at);
  }
  return std::min(deadline, NextCheckDeadline());
}

std::optional<int> Executor::Impl::ExitStatus() const {
  if (forced_exit) return forced_exit;
  if (!launch_received && !shutting_down) return std::nullopt;
  if (config.stays && !shutting_down) return std::nullopt;
  for (const auto& [id, task] : tasks) {
    if (!IsTerminal(task.state)) return std::nullopt;
  }
  if (!unacknowledged.empty()) return std::nullopt;
  log->info("{}: no task is running and every update is acknowledged; exiting", ids);
  return 0;
}

void Executor::Impl::RunTimers(double now) {
  // Until the agent answers, Subscribe is retried; after that it doubles as a
  // heartbeat, so that an agent restarted meanwhile learns where we are.
  if (now >= next_subscribe_at) {
    SendSubscribe();
    next_subscribe_at =
        now + (agent_answered ? config.heartbeat_interval_seconds : config.retry_interval_seconds);
  }
  if (!launch_received && !shutting_down && now >= start_time + config.launch_timeout_seconds) {
    log->error("{}: no task was launched within {} of start (agent at {}); exiting", ids,
               FormatDuration(config.launch_timeout_seconds), config.agent_endpoint);
    forced_exit = 1;
    return;
  }
  if (now >= next_resend_at) {
    ResendUpdates();
    next_resend_at = now + config.retry_interval_seconds;
  }
  RunChecks(now);
  for (auto& [id, task] : tasks) {
    if (IsTerminal(task.state) || now < task.sigkill_at) continue;
    log->warn("{} task={}: still running after its grace period; sending SIGKILL", ids, id);
    SignalTask(task, SIGKILL);
    task.sigkill_at = kNever;
  }
  if (now >= shutdown_deadline) {
    size_t alive = 0;
    for (auto& [id, task] : tasks) {
      if (IsTerminal(task.state)) continue;
      ++alive;
      SignalTask(task, SIGKILL);
    }
    log->warn(
        "{}: shutdown deadline passed with {} task(s) alive and {} update(s) "
        "unacknowledged; exiting",
        ids, alive, unacknowledged.size());
    forced_exit = 0;
  }
}

void Executor::Impl::HandleSignals() {
  bool shutdown_requested = false;
  while (true) {
    signalfd_siginfo info;
    ssize_t size = read(signal_fd.get(), &info, sizeof(info));
    if (size != static_cast<ssize_t>(sizeof(info))) break;
    if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
      log->info("{}: received {} from pid {}", ids, SignalName(static_cast<int>(info.ssi_signo)),
                info.ssi_pid);
      shutdown_requested = true;
    }
  }
  // SIGCHLD coalesces, and orphans reparented to us exit too: always reap everything.
  Reap();
  if (shutdown_requested) BeginShutdown(0, "a termination signal");
}

void Executor::Impl::DrainInbound() {
  std::deque<MessageQueue::Item> items = inbound.TakeAll();
  while (!items.empty()) {
    HandleMessage(items.front().first);
    items.pop_front();
  }
}

void Executor::Impl::HandleMessage(const Message& decoded) {
  if (const auto* error = std::get_if<ProtocolError>(&decoded)) {
    log->warn("{}: the agent reported a protocol error: {}", ids, error->message);
    return;
  }
  if (std::holds_alternative<Keepalive>(decoded)) return;
  const auto* message = std::get_if<ExecutorMessage>(&decoded);
  if (message == nullptr) {
    log->warn("{}: ignored a message from the agent that is not on the executor channel", ids);
    return;
  }
  auto wrong_direction = [&](const char* name) {
    log->warn("{}: ignored a {} from the agent: only executors send it", ids, name);
  };
  std::visit(Overloaded{
                 [&](const execmsg::Launch& launch) {
                   agent_answered = true;
                   HandleLaunch(launch);
                 },
                 [&](const execmsg::Kill& kill) {
                   agent_answered = true;
                   HandleKill(kill);
                 },
                 [&](const execmsg::Shutdown& shutdown) {
                   agent_answered = true;
                   BeginShutdown(shutdown.grace_period_ms, "a Shutdown from the agent");
                 },
                 [&](const execmsg::Ack& ack) {
                   agent_answered = true;
                   HandleAck(ack);
                 },
                 [&](const execmsg::Subscribe&) { wrong_direction("Subscribe"); },
                 [&](const execmsg::Update&) { wrong_direction("Update"); },
             },
             *message);
}

void Executor::Impl::HandleLaunch(const execmsg::Launch& launch) {
  if (launch.tasks.empty()) {
    log->warn("{}: ignored a Launch without tasks", ids);
    return;
  }
  for (const TaskInfo& info : launch.tasks) {
    auto known = tasks.find(info.task_id);
    bool ended_here = known != tasks.end() || forgotten.count(info.task_id) > 0;
    if (known != tasks.end() && !IsTerminal(known->second.state)) {
      log->info("{} task={}: already launched; ignoring the repeated Launch", ids, info.task_id);
      continue;
    }
    if (ended_here) {
      // A new task under the id of one that ended here: its sandbox and its
      // updates would be mistaken for the old one's. Refused, not left STAGING.
      // The old task's record (and outcome) stays as it was.
      Task refused;
      refused.info = info;
      SendUpdate(refused, TaskState::kError, Reason::kTaskInvalid,
                 "task id '" + info.task_id +
                     "' was used by a task that ended in this executor; relaunch it under a "
                     "new id");
      continue;
    }
    if (info.task_id.empty()) {
      log->warn("{}: ignored a task without an id in a Launch", ids);
      continue;
    }
    launch_received = true;
    Status valid = config.group ? ValidateTaskIdForPath(info.task_id) : Status::Ok();
    if (valid.ok()) valid = CheckChecks(info);
    if (!valid.ok()) {
      SendUpdate(Record(info, ""), TaskState::kError, Reason::kTaskInvalid, valid.message());
    } else if (!config.group && !tasks.empty()) {
      SendUpdate(Record(info, ""), TaskState::kError, Reason::kTaskInvalid,
                 "a command executor runs one task, and it already runs task '" +
                     launch_order.front() + "'");
    } else if (shutting_down) {
      SendUpdate(Record(info, ""), TaskState::kKilled, Reason::kTaskKilledDuringLaunch,
                 "the executor is shutting down");
    } else {
      LaunchTask(info);
    }
  }
}

Executor::Impl::Task& Executor::Impl::Record(const TaskInfo& info, std::string sandbox) {
  Task& task = tasks[info.task_id];
  task.info = info;
  task.sandbox = std::move(sandbox);
  launch_order.push_back(info.task_id);
  return task;
}

void Executor::Impl::HandleAck(const execmsg::Ack& ack) {
  auto found =
      std::find_if(unacknowledged.begin(), unacknowledged.end(), [&](const TaskStatus& status) {
        return status.uuid == ack.uuid && status.task_id == ack.task_id;
      });
  if (found == unacknowledged.end()) {
    log->debug("{} task={}: ignored an acknowledgement of unknown update {}", ids, ack.task_id,
               ack.uuid);
    return;
  }
  unacknowledged.erase(found);
  if (unacknowledged.empty()) next_resend_at = kNever;
  if (config.stays) ForgetIfDone(ack.task_id);
}

// An executor that stays runs task after task: one whose outcome the agent
// has is dropped, with its sandbox's descriptor, instead of piling up.
void Executor::Impl::ForgetIfDone(const TaskId& task_id) {
  auto it = tasks.find(task_id);
  if (it == tasks.end() || !IsTerminal(it->second.state)) return;
  if (it->second.pid > 0 && task_of_pid.count(it->second.pid) > 0) return;  // not reaped yet
  for (const TaskStatus& status : unacknowledged) {
    if (status.task_id == task_id) return;
  }
  forgotten.insert(task_id);
  launch_order.erase(std::remove(launch_order.begin(), launch_order.end(), task_id),
                     launch_order.end());
  tasks.erase(it);
}

void Executor::Impl::Send(ExecutorMessage message) {
  endpoint.SendOn(kAgentConnection, Encode(Message(std::move(message))));
}

void Executor::Impl::SendSubscribe() {
  execmsg::Subscribe subscribe;
  subscribe.framework_id = config.framework_id;
  subscribe.executor_id = config.executor_id;
  subscribe.pid = static_cast<int32_t>(getpid());
  subscribe.secret = config.secret;
  subscribe.unacknowledged.assign(unacknowledged.begin(), unacknowledged.end());
  // The tasks still running: an executor that stays may have ended thousands.
  for (const TaskId& id : launch_order) {
    if (!IsTerminal(tasks.at(id).state)) subscribe.launched.push_back(tasks.at(id).info);
  }
  Send(std::move(subscribe));
}

void Executor::Impl::SendUpdate(Task& task, TaskState state, Reason reason, std::string message,
                                int32_t exit_status) {
  TaskStatus status;
  status.task_id = task.info.task_id;
  status.state = state;
  status.reason = reason;
  status.source = Source::kExecutor;
  status.message = std::move(message);
  status.agent_id = config.agent_id;
  status.executor_id = config.executor_id;
  status.timestamp = WallSeconds();
  status.uuid = NewUuid();
  status.exit_status = exit_status;
  // Every update carries the task's last results; an ended task only that it
  // was unhealthy when it ended (as Mesos's executors report it).
  if (!IsTerminal(state) || task.healthy == false) status.healthy = task.healthy;
  status.check_status = task.check_status;
  task.state = state;
  auto level = state == TaskState::kFailed || state == TaskState::kError ? spdlog::level::warn
                                                                         : spdlog::level::info;
  log->log(level, "{} task={}: {} ({})", ids, status.task_id, ToString(state), status.message);
  if (unacknowledged.empty()) {
    next_resend_at = MonotonicSeconds() + config.retry_interval_seconds;
  }
  unacknowledged.push_back(status);
  Send(execmsg::Update{std::move(status)});
}

void Executor::Impl::ResendUpdates() {
  log->debug("{}: re-sending {} unacknowledged update(s)", ids, unacknowledged.size());
  for (const TaskStatus& status : unacknowledged) Send(execmsg::Update{status});
}

Executor::Executor(ExecutorConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Executor::~Executor() = default;

int Executor::Run() { return impl_->Run(); }

}  // namespace stoa::executors

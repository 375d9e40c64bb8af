#include "executors/executor.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/duration.hpp"
#include "common/logging.hpp"
#include "common/transport.hpp"
#include "protocols/codec.hpp"

extern char** environ;

namespace stoa::executors {
namespace {

constexpr char kAgentConnection[] = "agent";
constexpr double kNever = std::numeric_limits<double>::infinity();
// ZeroMQ routing ids are at most 255 bytes; "executor-<id>-<pid>-<nonce>" must fit.
constexpr size_t kMaxExecutorIdBytes = 200;
// Environment variables of the executor that its tasks do not inherit.
constexpr const char* kPrivateVariables[] = {"STOA_AGENT_ENDPOINT", "STOA_EXECUTOR_GROUP",
                                             "STOA_TASK_USER", "STOA_ROOTFS",
                                             "STOA_ROOTFS_SANDBOX"};

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string ErrnoText(int error) { return strerrordesc_np(error) ? strerrordesc_np(error) : "?"; }

std::string SignalName(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  return abbreviation != nullptr ? std::string("SIG") + abbreviation
                                 : "signal " + std::to_string(signal);
}

// Frames received on the endpoint's I/O thread, handed to the main loop; the
// eventfd becomes readable whenever frames are waiting.
class FrameQueue {
 public:
  FrameQueue() : wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  int fd() const { return wake_.get(); }

  void Push(std::string frame) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      frames_.push_back(std::move(frame));
    }
    uint64_t one = 1;
    ssize_t ignored = write(wake_.get(), &one, sizeof(one));
    (void)ignored;
  }

  std::deque<std::string> TakeAll() {
    uint64_t count;
    ssize_t ignored = read(wake_.get(), &count, sizeof(count));
    (void)ignored;
    std::deque<std::string> frames;
    std::lock_guard<std::mutex> lock(mutex_);
    frames.swap(frames_);
    return frames;
  }

 private:
  UniqueFd wake_;
  std::mutex mutex_;
  std::deque<std::string> frames_;
};

// Everything the child needs between fork and exec, prepared by the parent so
// that the child calls only async-signal-safe functions.
struct ChildPlan {
  std::string program;  // "/bin/sh", or the command to look up in PATH
  std::vector<std::string> argument_storage;
  std::vector<std::string> environment_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string sandbox;
  std::string rootfs;        // pivot into this root first (in a mount namespace of its own)
  std::string workdir;       // the sandbox as the task sees it (inside `rootfs`)
  bool switch_user = false;  // drop to uid/gid/groups before exec
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int error_fd = -1;  // close-on-exec pipe: a ChildError arrives here when exec fails
};

// What the child reports through the error pipe before it gives up.
struct ChildError {
  enum Stage : int32_t { kRedirect, kChdir, kExec, kRootfs, kUser } stage = kExec;
  int32_t error = 0;
};

void WriteAll(int fd, const char* text) {
  size_t length = strlen(text);
  while (length > 0) {
    ssize_t written = write(fd, text, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    text += written;
    length -= static_cast<size_t>(written);
  }
}

[[noreturn]] void FailChild(const ChildPlan& plan, ChildError::Stage stage, int error) {
  const char* what = stage == ChildError::kChdir      ? "cannot enter the task sandbox '"
                     : stage == ChildError::kRedirect ? "cannot redirect the standard streams of '"
                     : stage == ChildError::kRootfs   ? "cannot enter the root filesystem '"
                     : stage == ChildError::kUser     ? "cannot switch to the task's user for '"
                                                      : "cannot execute '";
  const char* target = stage == ChildError::kChdir    ? plan.workdir.c_str()
                       : stage == ChildError::kRootfs ? plan.rootfs.c_str()
                                                      : plan.program.c_str();
  WriteAll(STDERR_FILENO, "stoa-executor: ");
  WriteAll(STDERR_FILENO, what);
  WriteAll(STDERR_FILENO, target);
  WriteAll(STDERR_FILENO, "': ");
  const char* description = strerrordesc_np(error);
  WriteAll(STDERR_FILENO, description != nullptr ? description : "unknown error");
  WriteAll(STDERR_FILENO, "\n");
  ChildError report{stage, error};
  ssize_t ignored = write(plan.error_fd, &report, sizeof(report));
  (void)ignored;
  _exit(127);
}

// Runs in the forked child: own session, sandbox, redirected streams, exec.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  setsid();
  if (dup2(plan.stdin_fd, STDIN_FILENO) < 0 || dup2(plan.stdout_fd, STDOUT_FILENO) < 0 ||
      dup2(plan.stderr_fd, STDERR_FILENO) < 0) {
    FailChild(plan, ChildError::kRedirect, errno);
  }
  if (!plan.rootfs.empty()) {
    // A mount namespace of its own, so that the executor keeps the host's root.
    if (unshare(CLONE_NEWNS) != 0 || chdir(plan.rootfs.c_str()) != 0 ||
        syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 ||
        chdir("/") != 0) {
      FailChild(plan, ChildError::kRootfs, errno);
    }
  }
  if (chdir(plan.workdir.c_str()) != 0) FailChild(plan, ChildError::kChdir, errno);
  if (plan.switch_user && (setgroups(plan.groups.size(), plan.groups.data()) != 0 ||
                           setgid(plan.gid) != 0 || setuid(plan.uid) != 0)) {
    FailChild(plan, ChildError::kUser, errno);
  }
  // Descriptors that some library opened without O_CLOEXEC must not leak into the task.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execvpe(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  FailChild(plan, ChildError::kExec, errno);
}

// Opens `path` for the task's stdout or stderr: appended, created 0644.
Result<UniqueFd> OpenOutput(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot open '" + path + "': " + ErrnoText(errno));
  return UniqueFd(fd);
}

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

Result<ExecutorConfig> ConfigFromEnvironment(
    const std::function<const char*(const char*)>& lookup) {
  ExecutorConfig config;
  std::vector<std::string> missing;
  auto required = [&](const char* name, std::string* out) {
    const char* value = lookup(name);
    if (value == nullptr || *value == '\0') {
      missing.emplace_back(name);
    } else {
      *out = value;
    }
  };
  required("STOA_AGENT_ENDPOINT", &config.agent_endpoint);
  required("STOA_FRAMEWORK_ID", &config.framework_id);
  required("STOA_EXECUTOR_ID", &config.executor_id);
  required("STOA_SANDBOX", &config.sandbox);
  required("STOA_AGENT_ID", &config.agent_id);
  if (!missing.empty()) {
    std::string names;
    for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
    return Status::Error("missing environment variable" +
                         std::string(missing.size() > 1 ? "s " : " ") + names +
                         " (the agent sets them when it starts stoa-executor)");
  }

  std::vector<std::string> problems;
  if (!config.agent_endpoint.starts_with("ipc://") &&
      !config.agent_endpoint.starts_with("tcp://")) {
    problems.push_back("STOA_AGENT_ENDPOINT='" + config.agent_endpoint +
                       "' is not an agent address (expected ipc://PATH or tcp://HOST:PORT)");
  }
  if (config.executor_id.size() > kMaxExecutorIdBytes) {
    problems.push_back("STOA_EXECUTOR_ID is " + std::to_string(config.executor_id.size()) +
                       " bytes long; at most " + std::to_string(kMaxExecutorIdBytes) +
                       " are allowed");
  }
  std::error_code error;
  std::filesystem::path sandbox = std::filesystem::absolute(config.sandbox, error);
  if (error) {
    problems.push_back("STOA_SANDBOX='" + config.sandbox + "': " + error.message());
  } else {
    sandbox = sandbox.lexically_normal();
    if (!sandbox.has_filename() && sandbox.has_parent_path()) sandbox = sandbox.parent_path();
    if (!std::filesystem::is_directory(sandbox, error)) {
      problems.push_back("STOA_SANDBOX='" + config.sandbox + "' is not a directory" +
                         (error ? ": " + error.message() : ""));
    }
    config.sandbox = sandbox.string();
  }
  const char* group = lookup("STOA_EXECUTOR_GROUP");
  std::string group_text = group == nullptr ? "" : group;
  if (group_text == "1") {
    config.group = true;
  } else if (!group_text.empty() && group_text != "0") {
    problems.push_back("STOA_EXECUTOR_GROUP='" + group_text + "' must be 0 or 1");
  }
  auto optional = [&](const char* name) {
    const char* value = lookup(name);
    return std::string(value == nullptr ? "" : value);
  };
  config.task_user = optional("STOA_TASK_USER");
  config.rootfs = optional("STOA_ROOTFS");
  config.rootfs_sandbox = optional("STOA_ROOTFS_SANDBOX");
  if (!config.rootfs.empty() && (config.rootfs[0] != '/' || config.rootfs_sandbox.empty() ||
                                 config.rootfs_sandbox[0] != '/')) {
    problems.push_back("STOA_ROOTFS='" + config.rootfs + "' and STOA_ROOTFS_SANDBOX='" +
                       config.rootfs_sandbox + "' must both be absolute paths");
  }
  if (!problems.empty()) {
    std::string text;
    for (const auto& problem : problems) text += (text.empty() ? "" : "; ") + problem;
    return Status::Error(text);
  }
  return config;
}

Termination DescribeTermination(int wait_status, bool kill_requested) {
  Termination termination;
  if (WIFEXITED(wait_status)) {
    int code = WEXITSTATUS(wait_status);
    termination.exit_status = code;
    if (kill_requested) {
      termination.state = TaskState::kKilled;
      termination.message = "Command killed";
    } else if (code == 0) {
      termination.state = TaskState::kFinished;
      termination.message = "Command exited with status 0";
    } else {
      termination.state = TaskState::kFailed;
      termination.reason = Reason::kCommandExecutorFailed;
      termination.message = "Command exited with status " + std::to_string(code);
    }
    return termination;
  }
  termination.exit_status = wait_status;
  if (kill_requested) {
    termination.state = TaskState::kKilled;
    termination.message = "Command killed";
    return termination;
  }
  termination.state = TaskState::kFailed;
  termination.reason = Reason::kCommandExecutorFailed;
  if (WIFSIGNALED(wait_status)) {
    termination.message = "Command terminated by signal " + SignalName(WTERMSIG(wait_status));
    if (WCOREDUMP(wait_status)) termination.message += " (core dumped)";
  } else {
    termination.message = "Command ended with wait status " + std::to_string(wait_status);
  }
  return termination;
}

Status ValidateTaskIdForPath(const TaskId& task_id) {
  if (task_id.empty()) return Status::Error("the task id is empty");
  if (task_id == "." || task_id == "..") {
    return Status::Error("task id '" + task_id + "' cannot name a sandbox directory");
  }
  if (task_id.find('/') != std::string::npos || task_id.find('\0') != std::string::npos) {
    return Status::Error("task id '" + task_id +
                         "' contains '/' or NUL and cannot name a sandbox directory");
  }
  return Status::Ok();
}

struct Executor::Impl {
  struct Task {
    TaskInfo info;
    std::string sandbox;
    pid_t pid = 0;  // the command's pid and process group; 0 before it starts
    TaskState state = TaskState::kStaging;
    bool kill_requested = false;
    double sigkill_at = kNever;  // monotonic seconds
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
  FrameQueue inbound;
  ZmqEndpoint endpoint;  // declared after `inbound`: stopped before the queue goes
  UniqueFd signal_fd;

  std::vector<TaskId> launch_order;
  std::map<TaskId, Task> tasks;
  std::map<pid_t, TaskId> task_of_pid;
  std::deque<TaskStatus> unacknowledged;  // in the order they were first sent

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
  void HandleFrame(const std::string& frame);
  void HandleLaunch(const execmsg::Launch& launch);
  void HandleKill(const execmsg::Kill& kill);
  void HandleAck(const execmsg::Ack& ack);
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
  void KillTask(Task& task, int64_t grace_period_ms);
  void SignalTask(const Task& task, int signal);

  void Send(ExecutorMessage message);
  void SendSubscribe();
  void SendUpdate(Task& task, TaskState state, Reason reason, std::string message,
                  int32_t exit_status = -1);
  void ResendUpdates();
};

int Executor::Impl::Run() {
  start_time = MonotonicSeconds();
  if (Status status = Setup(); !status.ok()) {
    log->error("{}: {}", ids, status.message());
    return 1;
  }
  endpoint.Start([this](const FrameOrigin&, std::string frame) { inbound.Push(std::move(frame)); });
  log->info("{}: subscribing to the agent at {} (pid {}, {})", ids, config.agent_endpoint, getpid(),
            config.group ? "task group" : "command executor");
  SendSubscribe();
  next_subscribe_at = start_time + config.retry_interval_seconds;

  while (true) {
    if (std::optional<int> status = ExitStatus()) {
      endpoint.Stop();
      return *status;
    }
    pollfd fds[2] = {{signal_fd.get(), POLLIN, 0}, {inbound.fd(), POLLIN, 0}};
    int ready = poll(fds, 2, TimeoutMillis(NextDeadline() - MonotonicSeconds()));
    if (ready < 0 && errno != EINTR) {
      log->error("{}: poll failed: {}; exiting", ids, ErrnoText(errno));
      endpoint.Stop();
      return 1;
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) HandleSignals();
    if (ready > 0 && (fds[1].revents & POLLIN)) DrainInbound();
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
  return deadline;
}

std::optional<int> Executor::Impl::ExitStatus() const {
  if (forced_exit) return forced_exit;
  if (!launch_received && !shutting_down) return std::nullopt;
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

void Executor::Impl::Reap() {
  while (true) {
    int wait_status = 0;
    pid_t pid = waitpid(-1, &wait_status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
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
    Termination termination = DescribeTermination(wait_status, task.kill_requested);
    task.sigkill_at = kNever;
    SendUpdate(task, termination.state, termination.reason, std::move(termination.message),
               termination.exit_status);
  }
}

void Executor::Impl::DrainInbound() {
  for (const std::string& frame : inbound.TakeAll()) HandleFrame(frame);
}

void Executor::Impl::HandleFrame(const std::string& frame) {
  Result<Message> decoded = Decode(frame);
  if (!decoded.ok()) {
    log->warn("{}: ignored a frame from the agent: {}", ids, decoded.error());
    return;
  }
  if (const auto* error = std::get_if<ProtocolError>(&*decoded)) {
    log->warn("{}: the agent reported a protocol error: {}", ids, error->message);
    return;
  }
  if (std::holds_alternative<Keepalive>(*decoded)) return;
  const auto* message = std::get_if<ExecutorMessage>(&*decoded);
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
    if (tasks.count(info.task_id) > 0) {
      log->info("{} task={}: already launched; ignoring the repeated Launch", ids, info.task_id);
      continue;
    }
    if (info.task_id.empty()) {
      log->warn("{}: ignored a task without an id in a Launch", ids);
      continue;
    }
    launch_received = true;
    Status valid = config.group ? ValidateTaskIdForPath(info.task_id) : Status::Ok();
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

void Executor::Impl::LaunchTask(const TaskInfo& info) {
  std::string sandbox = config.group ? config.sandbox + "/tasks/" + info.task_id : config.sandbox;
  Task& task = Record(info, sandbox);
  SendUpdate(task, TaskState::kStarting, Reason::kNone, "Starting command");
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
  variables["STOA_TASK_ID"] = task.info.task_id;
  std::vector<std::string> environment;
  environment.reserve(variables.size());
  for (const auto& [name, value] : variables) environment.push_back(name + "=" + value);
  return environment;
}

std::optional<Executor::Impl::SpawnError> Executor::Impl::Spawn(Task& task) {
  const CommandInfo& command = task.info.command;
  if (command.value.empty()) return SpawnError{"the task's command is empty"};
  std::error_code error;
  std::filesystem::create_directories(task.sandbox, error);
  if (error) {
    return SpawnError{"cannot create the task sandbox '" + task.sandbox + "': " + error.message()};
  }

  ChildPlan plan;
  plan.sandbox = task.sandbox;
  plan.rootfs = config.rootfs;
  plan.workdir = SandboxSeenByTask(task);
  std::string user = command.user.empty() ? config.task_user : command.user;
  if (!user.empty()) {
    struct passwd entry {};
    struct passwd* found = nullptr;
    std::vector<char> buffer(16384);
    getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) return SpawnError{"user '" + user + "' does not exist on this agent"};
    if (found->pw_uid != geteuid()) {
      if (geteuid() != 0) {
        return SpawnError{"cannot run the command as user '" + user +
                          "': the executor does not run as root"};
      }
      plan.switch_user = true;
      plan.uid = found->pw_uid;
      plan.gid = found->pw_gid;
      int count = 64;
      plan.groups.resize(static_cast<size_t>(count));
      if (getgrouplist(user.c_str(), plan.gid, plan.groups.data(), &count) < 0) {
        plan.groups.resize(static_cast<size_t>(count));
        getgrouplist(user.c_str(), plan.gid, plan.groups.data(), &count);
      }
      plan.groups.resize(static_cast<size_t>(std::max(count, 0)));
      // The task writes its sandbox (the agent gave it the executor's already).
      if (chown(task.sandbox.c_str(), plan.uid, plan.gid) != 0) {
        return SpawnError{"cannot give the task sandbox '" + task.sandbox + "' to user '" + user +
                          "': " + ErrnoText(errno)};
      }
    }
  }
  if (command.shell) {
    plan.program = "/bin/sh";
    plan.argument_storage = {"sh", "-c", command.value};
  } else {
    plan.program = command.value;
    plan.argument_storage = command.arguments;
    if (plan.argument_storage.empty()) plan.argument_storage.push_back(command.value);
  }
  plan.environment_storage = TaskEnvironment(task);
  for (auto& argument : plan.argument_storage) plan.argv.push_back(argument.data());
  plan.argv.push_back(nullptr);
  for (auto& variable : plan.environment_storage) plan.envp.push_back(variable.data());
  plan.envp.push_back(nullptr);

  UniqueFd stdin_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!stdin_fd.valid()) return SpawnError{"cannot open /dev/null: " + ErrnoText(errno)};
  Result<UniqueFd> stdout_fd = OpenOutput(task.sandbox + "/stdout");
  if (!stdout_fd.ok()) return SpawnError{stdout_fd.error()};
  Result<UniqueFd> stderr_fd = OpenOutput(task.sandbox + "/stderr");
  if (!stderr_fd.ok()) return SpawnError{stderr_fd.error()};
  if (plan.switch_user) {
    int ignored = fchown(stdout_fd->get(), plan.uid, plan.gid);
    ignored = fchown(stderr_fd->get(), plan.uid, plan.gid);
    (void)ignored;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return SpawnError{"cannot create a pipe: " + ErrnoText(errno)};
  }
  UniqueFd error_read(pipe_fds[0]);
  UniqueFd error_write(pipe_fds[1]);
  plan.stdin_fd = stdin_fd.get();
  plan.stdout_fd = stdout_fd->get();
  plan.stderr_fd = stderr_fd->get();
  plan.error_fd = error_write.get();

  pid_t pid = fork();
  if (pid < 0) return SpawnError{"cannot fork: " + ErrnoText(errno)};
  if (pid == 0) RunChild(plan);

  error_write.Reset();
  // EOF once exec succeeds (the pipe is close-on-exec); a ChildError if it fails.
  ChildError report;
  ssize_t size;
  do {
    size = read(error_read.get(), &report, sizeof(report));
  } while (size < 0 && errno == EINTR);
  if (size != static_cast<ssize_t>(sizeof(report))) {
    task.pid = pid;
    log->info("{} task={}: started pid {} in {}", ids, task.info.task_id, pid, task.sandbox);
    return std::nullopt;
  }
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  SpawnError failure;
  failure.exit_status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : wait_status;
  switch (report.stage) {
    case ChildError::kChdir:
      failure.message = "Cannot enter the task sandbox '" + task.sandbox + "': ";
      break;
    case ChildError::kRedirect:
      failure.message = "Cannot redirect the command's standard streams: ";
      break;
    case ChildError::kExec:
      failure.message = "Cannot execute '" + plan.program + "': ";
      break;
    case ChildError::kRootfs:
      failure.message = "Cannot enter the root filesystem '" + plan.rootfs + "': ";
      break;
    case ChildError::kUser:
      failure.message =
          "Cannot run the command as its user (uid " + std::to_string(plan.uid) + "): ";
      break;
  }
  failure.message += ErrnoText(report.error);
  return failure;
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

void Executor::Impl::KillTask(Task& task, int64_t grace_period_ms) {
  if (IsTerminal(task.state)) return;
  double sigkill_at = MonotonicSeconds() + static_cast<double>(grace_period_ms) / 1000.0;
  if (!task.kill_requested) {
    task.kill_requested = true;
    SendUpdate(
        task, TaskState::kKilling, Reason::kNone,
        "Killing command: SIGTERM, then SIGKILL after " + std::to_string(grace_period_ms) + " ms");
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
}

void Executor::Impl::Send(ExecutorMessage message) {
  endpoint.SendOn(kAgentConnection, Encode(Message(std::move(message))));
}

void Executor::Impl::SendSubscribe() {
  execmsg::Subscribe subscribe;
  subscribe.framework_id = config.framework_id;
  subscribe.executor_id = config.executor_id;
  subscribe.pid = static_cast<int32_t>(getpid());
  subscribe.unacknowledged.assign(unacknowledged.begin(), unacknowledged.end());
  for (const TaskId& id : launch_order) subscribe.launched.push_back(tasks.at(id).info);
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

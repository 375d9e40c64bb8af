#include "agent/containerizer.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/duration.hpp"
#include "common/logging.hpp"
#include "isolators/cgroups/cgroups.hpp"

extern char** environ;

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;
using isolators::Isolator;
using isolators::LaunchInfo;
using isolators::Limitation;
using isolators::MountStep;
using isolators::ResourceStatistics;

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

constexpr int kIdTypePidfd = 3;  // P_PIDFD, Linux 5.4
constexpr size_t kMaxEndedContainers = 1000;

std::string ErrnoText(int error) {
  const char* text = strerrordesc_np(error);
  return text != nullptr ? text : "unknown error";
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

// The process's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat): with the pid, it names one process across pid reuse.
uint64_t StartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int i = 3; i < 22 && fields >> field; ++i) {
  }
  uint64_t start = 0;
  fields >> start;
  return start;
}

// ---- the launched child ----

// A MountStep with its strings as C pointers, made before clone: the child
// calls nothing but system calls.
struct ChildStep {
  MountStep::Kind kind;
  const char* source;
  const char* target;
  const char* type;
  unsigned long flags;
  const char* data;
  unsigned int mode;
  dev_t device;
};

struct ChildPlan {
  int sync_fd = -1;   // read end: one byte once every isolator isolated the child
  int error_fd = -1;  // write end, close-on-exec: a ChildError when something fails
  bool new_mount_namespace = false;
  std::vector<ChildStep> steps;
  const char* hostname = nullptr;
  size_t hostname_length = 0;
  bool loopback_up = false;
  const char* sandbox = nullptr;
  const char* log_path = nullptr;
  const char* program = nullptr;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

struct ChildError {
  enum Stage : int32_t {
    kSync,
    kPropagation,
    kStep,
    kHostname,
    kLoopback,
    kChdir,
    kOutput,
    kExec
  } stage = kExec;
  int32_t step = -1;
  int32_t error = 0;
};

[[noreturn]] void FailChild(const ChildPlan& plan, ChildError::Stage stage, int step, int error) {
  ChildError report{stage, step, error};
  ssize_t ignored = write(plan.error_fd, &report, sizeof(report));
  (void)ignored;
  _exit(127);
}

bool RunStep(const ChildStep& step) {
  switch (step.kind) {
    case MountStep::Kind::kMount:
      if ((step.flags & MS_BIND) != 0) {
        if (mount(step.source, step.target, nullptr, MS_BIND | (step.flags & MS_REC), nullptr) !=
            0) {
          return false;
        }
        unsigned long extra = step.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
        if (extra == 0) return true;
        return mount(nullptr, step.target, nullptr, MS_BIND | MS_REMOUNT | extra, nullptr) == 0;
      }
      return mount(step.source, step.target, step.type, step.flags, step.data) == 0;
    case MountStep::Kind::kMakeDirectory:
      return mkdir(step.target, 0755) == 0 || errno == EEXIST;
    case MountStep::Kind::kMakeFile: {
      int fd = open(step.target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return false;
      close(fd);
      return true;
    }
    case MountStep::Kind::kMakeDevice:
      return mknod(step.target, step.mode, step.device) == 0 || errno == EEXIST;
    case MountStep::Kind::kSymlink:
      return symlink(step.source, step.target) == 0 || errno == EEXIST;
  }
  return false;
}

// Runs in the cloned child: wait to be isolated, set up the namespaces, exec.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  char go = 0;
  ssize_t got;
  do {
    got = read(plan.sync_fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) _exit(126);  // the agent gave up on this launch
  close(plan.sync_fd);
  if (plan.new_mount_namespace && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    FailChild(plan, ChildError::kPropagation, -1, errno);
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (!RunStep(plan.steps[i])) FailChild(plan, ChildError::kStep, static_cast<int>(i), errno);
  }
  if (plan.hostname != nullptr && sethostname(plan.hostname, plan.hostname_length) != 0) {
    FailChild(plan, ChildError::kHostname, -1, errno);
  }
  if (plan.loopback_up) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq request {};
    std::memcpy(request.ifr_name, "lo", 3);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
      FailChild(plan, ChildError::kLoopback, -1, errno);
    }
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) FailChild(plan, ChildError::kLoopback, -1, errno);
    close(fd);
  }
  setsid();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &default_action, nullptr);
  }
  if (chdir(plan.sandbox) != 0) FailChild(plan, ChildError::kChdir, -1, errno);
  int log = open(plan.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0 || dup2(log, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0 ||
      dup2(null, STDIN_FILENO) < 0) {
    FailChild(plan, ChildError::kOutput, -1, errno);
  }
  // Nothing of the agent's leaks into the container (the error pipe closes on exec).
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(plan.program, plan.argv.data(), plan.envp.data());
  FailChild(plan, ChildError::kExec, -1, errno);
}

std::string DescribeStep(const MountStep& step) {
  switch (step.kind) {
    case MountStep::Kind::kMount:
      if (step.type.empty())
        return "cannot bind-mount '" + step.source + "' on '" + step.target + "'";
      return "cannot mount " + step.type + " on '" + step.target + "'";
    case MountStep::Kind::kMakeDirectory:
      return "cannot create directory '" + step.target + "'";
    case MountStep::Kind::kMakeFile:
      return "cannot create file '" + step.target + "'";
    case MountStep::Kind::kMakeDevice:
      return "cannot create device '" + step.target + "'";
    case MountStep::Kind::kSymlink:
      return "cannot create symlink '" + step.target + "'";
  }
  return "cannot set up '" + step.target + "'";
}

struct CloneArgs {  // struct clone_args, version 0 (Linux 5.3)
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
};

// Forks (in the namespaces of `flags`) into RunChild; returns the child's pid
// and a pidfd for it.
Result<std::pair<pid_t, int>> CloneChild(int flags, const ChildPlan& plan) {
  int pidfd = -1;
  CloneArgs args{};
  args.flags = static_cast<uint64_t>(flags) | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0 && errno == ENOSYS) {  // before Linux 5.3
    pid = syscall(SYS_clone, static_cast<unsigned long>(flags) | SIGCHLD, 0, 0, 0, 0);
    if (pid > 0) pidfd = PidfdOpen(static_cast<pid_t>(pid));
  }
  if (pid == 0) RunChild(plan);
  if (pid < 0) {
    int error = errno;
    std::string hint =
        error == EPERM || error == EINVAL
            ? " (namespaces need root; run the agent as root or with --isolation=posix)"
            : "";
    return Status::Error("cannot start the container's first process: " + ErrnoText(error) + hint);
  }
  if (pidfd < 0) {
    kill(static_cast<pid_t>(pid), SIGKILL);
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return Status::Error("this kernel has no pidfds (Linux 5.3 or newer is needed)");
  }
  return std::pair<pid_t, int>(static_cast<pid_t>(pid), pidfd);
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) {
    size_t begin = part.find_first_not_of(" \t");
    size_t end = part.find_last_not_of(" \t");
    if (begin != std::string::npos) parts.push_back(part.substr(begin, end - begin + 1));
  }
  return parts;
}

}  // namespace

std::string DescribeWaitStatus(int wait_status) {
  if (wait_status < 0) return "ended (its exit status is unknown: it was not this agent's child)";
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended with wait status " + std::to_string(wait_status);
}

std::string ContainerTermination::Describe() const {
  std::string text = DescribeWaitStatus(wait_status);
  if (limitation) text = limitation->message + "; the executor " + text;
  return text;
}

// ---- the containerizer ----

struct Containerizer::Impl {
  struct Ended {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<ContainerTermination> termination;
  };

  struct Container {
    ContainerConfig config;
    pid_t pid = 0;
    int pidfd = -1;
    bool pid_namespace = false;
    bool running = true;  // false once the first process exited
    bool destroying = false;
    int wait_status = -1;
    std::optional<Limitation> limitation;
    ExitCallback on_exit;
    std::vector<std::pair<size_t, isolators::WatchFd>> watches;  // isolator index, fd
    std::shared_ptr<Ended> ended = std::make_shared<Ended>();
  };

  ContainerizerOptions options;
  std::string isolation;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Isolator>> isolators;
  std::optional<isolators::cgroups::Hierarchy> tracking;  // where every process is tracked
  std::string runtime_dir;                                // work_dir/containers
  std::shared_ptr<spdlog::logger> log = Logger("containerizer");

  std::mutex mutex;
  std::map<ContainerId, Container> containers;
  std::map<ContainerId, std::shared_ptr<Ended>> ended;
  std::deque<ContainerId> ended_order;
  std::deque<ContainerId> to_clean;
  std::condition_variable clean_wakeup;
  bool stopping = false;
  agentmsg::UsageReport summary;  // cached by UsageSummary
  double summary_time = -1e9;
  int wake_fd = -1;
  std::thread monitor;
  std::thread cleaner;

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    Wake();
    clean_wakeup.notify_all();
    if (monitor.joinable()) monitor.join();
    if (cleaner.joinable()) cleaner.join();
    for (auto& [id, container] : containers) {
      if (container.pidfd >= 0) close(container.pidfd);
    }
    if (wake_fd >= 0) close(wake_fd);
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd, &one, sizeof(one));
    (void)ignored;
  }

  std::string TrackingPath(const ContainerId& id) const {
    return isolators::cgroups::ContainerPath(*tracking, options.cgroups_root, id);
  }
  std::string RuntimePath(const ContainerId& id) const { return runtime_dir + "/" + id; }

  // The container's record: "pid start_time pid_namespace", written once it runs.
  void WriteRecord(const ContainerId& id, pid_t pid, bool pid_namespace) {
    std::ofstream out(RuntimePath(id) + "/pid", std::ios::trunc);
    out << pid << " " << (pid > 0 ? StartTime(pid) : 0) << " " << (pid_namespace ? 1 : 0) << "\n";
  }

  // Kills what is running of a container without waiting.
  void KillProcesses(const ContainerId& id, const Container& container) {
    if (container.running && container.pidfd >= 0) {
      if (container.pid_namespace || tracking) {
        PidfdSignal(container.pidfd, SIGKILL);  // a pid namespace's init takes the rest with it
      } else {
        kill(-container.pid, SIGKILL);  // posix: the executor's process group
        PidfdSignal(container.pidfd, SIGKILL);
      }
    }
    if (tracking) {
      std::string path = TrackingPath(id);
      if (isolators::cgroups::Write(path, "cgroup.kill", "1").ok()) return;
      bool froze = isolators::cgroups::Write(path, "freezer.state", "FROZEN").ok();
      for (pid_t pid : isolators::cgroups::Processes(path)) kill(pid, SIGKILL);
      if (froze) isolators::cgroups::Write(path, "freezer.state", "THAWED");
    }
  }

  // Undoes what Prepare and the launch made, in reverse order. REQUIRES: no
  // process of the container is left.
  void CleanupResources(const ContainerId& id, size_t prepared) {
    for (size_t i = prepared; i-- > 0;) {
      if (Status s = isolators[i]->Cleanup(id); !s.ok()) {
        log->warn("container={}: {} cleanup: {}", id, names[i], s.message());
      }
    }
    if (tracking) {
      if (Status s = isolators::cgroups::Remove(TrackingPath(id)); !s.ok()) {
        log->warn("container={}: {}", id, s.message());
      }
    }
    std::error_code error;
    fs::remove_all(RuntimePath(id), error);
    if (error)
      log->warn("container={}: cannot remove '{}': {}", id, RuntimePath(id), error.message());
  }

  void Monitor() {
    std::vector<pollfd> fds;
    // What each polled descriptor is: (container, -1 for its pidfd or the isolator index).
    std::vector<std::pair<ContainerId, long>> owners;
    while (true) {
      fds.clear();
      owners.clear();
      fds.push_back({wake_fd, POLLIN, 0});
      owners.emplace_back("", -2);
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (stopping) return;
        for (const auto& [id, container] : containers) {
          if (!container.running) continue;
          fds.push_back({container.pidfd, POLLIN, 0});
          owners.emplace_back(id, -1);
          for (const auto& [index, watch] : container.watches) {
            fds.push_back({watch.fd, watch.events, 0});
            owners.emplace_back(id, static_cast<long>(index));
          }
        }
      }
      int ready = poll(fds.data(), fds.size(), -1);
      if (ready < 0 && errno != EINTR) {
        log->error("poll failed: {}; containers are no longer watched", ErrnoText(errno));
        return;
      }
      if (fds[0].revents != 0) {
        uint64_t count;
        ssize_t ignored = read(wake_fd, &count, sizeof(count));
        (void)ignored;
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        const auto& [id, what] = owners[i];
        if (what == -1) {
          OnExited(id);
        } else {
          OnWatchReady(id, static_cast<size_t>(what));
        }
      }
    }
  }

  void OnWatchReady(const ContainerId& id, size_t index) {
    std::optional<Limitation> limitation = isolators[index]->CheckLimitation(id);
    if (!limitation) return;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = containers.find(id);
    if (it == containers.end() || it->second.limitation) return;
    log->info("container={}: {}; destroying it", id, limitation->message);
    it->second.limitation = limitation;
    it->second.destroying = true;
    KillProcesses(id, it->second);
  }

  void OnExited(const ContainerId& id) {
    int pidfd = -1;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = containers.find(id);
      if (it == containers.end() || !it->second.running) return;
      pidfd = it->second.pidfd;
    }
    siginfo_t info{};
    int wait_status = -1;
    if (waitid(static_cast<idtype_t>(kIdTypePidfd), static_cast<id_t>(pidfd), &info, WEXITED) ==
        0) {
      if (info.si_code == CLD_EXITED) {
        wait_status = W_EXITCODE(info.si_status, 0);
      } else {
        wait_status = info.si_status | (info.si_code == CLD_DUMPED ? WCOREFLAG : 0);
      }
    }
    // The limit it reached, if none was reported yet (e.g. a v2 OOM group kill).
    std::optional<Limitation> limitation;
    for (size_t i = 0; i < isolators.size() && !limitation; ++i) {
      limitation = isolators[i]->CheckLimitation(id);
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      Container& container = containers.at(id);
      container.running = false;
      container.wait_status = wait_status;
      if (!container.limitation) container.limitation = limitation;
      close(container.pidfd);
      container.pidfd = -1;
      to_clean.push_back(id);
    }
    clean_wakeup.notify_all();
  }

  void Cleaner() {
    while (true) {
      ContainerId id;
      {
        std::unique_lock<std::mutex> lock(mutex);
        clean_wakeup.wait(lock, [&] { return stopping || !to_clean.empty(); });
        if (stopping) return;
        id = to_clean.front();
        to_clean.pop_front();
      }
      Finish(id);
    }
  }

  // The first process is gone: make sure nothing of the container is left,
  // clean up and report.
  void Finish(const ContainerId& id) {
    if (tracking) {
      if (Status s = isolators::cgroups::KillAll(*tracking, TrackingPath(id)); !s.ok()) {
        log->error("container={}: {}", id, s.message());
      }
    }
    CleanupResources(id, isolators.size());
    ContainerTermination termination;
    ExitCallback on_exit;
    std::shared_ptr<Ended> done;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = containers.find(id);
      if (it == containers.end()) return;
      termination.wait_status = it->second.wait_status;
      termination.limitation = it->second.limitation;
      termination.destroyed = it->second.destroying;
      on_exit = std::move(it->second.on_exit);
      done = it->second.ended;
      containers.erase(it);
      ended[id] = done;
      ended_order.push_back(id);
      if (ended_order.size() > kMaxEndedContainers) {
        ended.erase(ended_order.front());
        ended_order.pop_front();
      }
    }
    log->info("container={} {}", id, termination.Describe());
    {
      std::lock_guard<std::mutex> lock(done->mutex);
      done->termination = termination;
    }
    done->done.notify_all();
    if (on_exit) on_exit(termination);
  }

  Result<pid_t> Launch(const ContainerConfig& config, ExitCallback on_exit);
  Status Recover(const std::vector<KnownContainer>& known);
};

Result<pid_t> Containerizer::Impl::Launch(const ContainerConfig& config, ExitCallback on_exit) {
  const ContainerId& id = config.container_id;
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.') {
    return Status::Error("container id '" + id + "' cannot name a directory");
  }
  if (access(config.program.c_str(), X_OK) != 0) {
    return Status::Error("program '" + config.program + "' cannot be run: " + ErrnoText(errno) +
                         " (set --executor_path)");
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (containers.count(id) > 0) return Status::Error("container " + id + " already exists");
  }
  auto uses = [&](const char* name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  if ((!config.container.rootfs.empty() || !config.container.volumes.empty()) &&
      !uses("filesystem/linux")) {
    return Status::Error(
        "the task asks for a root filesystem or volumes, but this agent runs "
        "without the filesystem/linux isolator (see --isolation)");
  }
  if (config.container.network_isolated && !uses("namespaces/net")) {
    return Status::Error(
        "the task asks for network isolation, but this agent runs without the "
        "namespaces/net isolator (see --isolation)");
  }
  std::vector<std::pair<std::string, std::string>> environment = config.environment;
  if (!config.user.empty()) {
    struct passwd entry {};
    struct passwd* found = nullptr;
    std::vector<char> buffer(16384);
    getpwnam_r(config.user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
      return Status::Error("user '" + config.user + "' does not exist on this agent");
    }
    if (geteuid() != 0 && found->pw_uid != geteuid()) {
      return Status::Error("cannot run tasks as user '" + config.user +
                           "': the agent does not run as root");
    }
    if (chown(config.sandbox.c_str(), found->pw_uid, found->pw_gid) != 0) {
      return Status::Error("cannot give sandbox '" + config.sandbox + "' to user '" + config.user +
                           "': " + ErrnoText(errno));
    }
    environment.emplace_back("STOA_TASK_USER", config.user);
  }
  std::error_code error;
  fs::create_directories(RuntimePath(id), error);
  if (error) {
    return Status::Error("cannot create '" + RuntimePath(id) + "': " + error.message());
  }
  WriteRecord(id, 0, false);  // a crash from here on leaves an orphan Recover finds

  // Prepare, in order.
  isolators::ContainerConfig isolator_config{id, config.sandbox, config.user, config.resources,
                                             config.container};
  LaunchInfo launch;
  size_t prepared = 0;
  auto fail = [&](const std::string& message) -> Result<pid_t> {
    CleanupResources(id, prepared);
    return Status::Error(message);
  };
  for (; prepared < isolators.size(); ++prepared) {
    Result<LaunchInfo> info = isolators[prepared]->Prepare(isolator_config);
    if (!info.ok()) {
      ++prepared;  // it may have made something before failing
      return fail(names[prepared - 1] + ": " + info.error());
    }
    launch.clone_flags |= info->clone_flags;
    launch.mounts.insert(launch.mounts.end(), info->mounts.begin(), info->mounts.end());
    if (!info->hostname.empty()) launch.hostname = info->hostname;
    launch.loopback_up = launch.loopback_up || info->loopback_up;
    for (auto& variable : info->environment) environment.push_back(variable);
  }
  if (tracking) {
    if (Status s = isolators::cgroups::Create(*tracking, options.cgroups_root, id, ""); !s.ok()) {
      return fail(s.message());
    }
  }

  // Everything the child needs, prepared before clone.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& [key, value] : environment) env_storage.push_back(key + "=" + value);
  std::vector<std::string> arg_storage = {config.program};
  arg_storage.insert(arg_storage.end(), config.arguments.begin(), config.arguments.end());
  std::string log_path = config.sandbox + "/executor.log";
  ChildPlan plan;
  plan.new_mount_namespace = (launch.clone_flags & CLONE_NEWNS) != 0;
  for (const MountStep& step : launch.mounts) {
    plan.steps.push_back({step.kind, step.source.empty() ? nullptr : step.source.c_str(),
                          step.target.c_str(), step.type.empty() ? nullptr : step.type.c_str(),
                          step.flags, step.data.empty() ? nullptr : step.data.c_str(), step.mode,
                          step.device});
  }
  if ((launch.clone_flags & CLONE_NEWUTS) != 0 && !launch.hostname.empty()) {
    plan.hostname = launch.hostname.c_str();
    plan.hostname_length = launch.hostname.size();
  }
  plan.loopback_up = launch.loopback_up && (launch.clone_flags & CLONE_NEWNET) != 0;
  plan.sandbox = config.sandbox.c_str();
  plan.log_path = log_path.c_str();
  plan.program = config.program.c_str();
  for (auto& arg : arg_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  for (auto& variable : env_storage) plan.envp.push_back(variable.data());
  plan.envp.push_back(nullptr);
  int sync_pipe[2], error_pipe[2];
  if (pipe2(sync_pipe, O_CLOEXEC) != 0) return fail("cannot create a pipe: " + ErrnoText(errno));
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    close(sync_pipe[0]);
    close(sync_pipe[1]);
    return fail("cannot create a pipe: " + ErrnoText(errno));
  }
  plan.sync_fd = sync_pipe[0];
  plan.error_fd = error_pipe[1];

  Result<std::pair<pid_t, int>> child = CloneChild(launch.clone_flags, plan);
  close(sync_pipe[0]);
  close(error_pipe[1]);
  if (!child.ok()) {
    close(sync_pipe[1]);
    close(error_pipe[0]);
    return fail(child.error());
  }
  auto [pid, pidfd] = *child;
  auto abandon = [&, pidfd = pidfd](const std::string& message) {
    close(sync_pipe[1]);
    close(error_pipe[0]);
    PidfdSignal(pidfd, SIGKILL);
    siginfo_t info{};
    waitid(static_cast<idtype_t>(kIdTypePidfd), static_cast<id_t>(pidfd), &info, WEXITED);
    close(pidfd);
    if (tracking) isolators::cgroups::KillAll(*tracking, TrackingPath(id));
    return fail(message);
  };

  // Isolate, then let the child go on.
  if (tracking) {
    if (Status s = isolators::cgroups::Assign(TrackingPath(id), pid); !s.ok()) {
      return abandon(s.message());
    }
  }
  for (size_t i = 0; i < isolators.size(); ++i) {
    if (Status s = isolators[i]->Isolate(id, pid); !s.ok()) {
      return abandon(names[i] + ": " + s.message());
    }
  }
  char go = 1;
  if (write(sync_pipe[1], &go, 1) != 1) return abandon("cannot start the container's process");
  close(sync_pipe[1]);
  sync_pipe[1] = -1;
  ChildError report;
  ssize_t got;
  do {
    got = read(error_pipe[0], &report, sizeof(report));
  } while (got < 0 && errno == EINTR);
  close(error_pipe[0]);
  error_pipe[0] = -1;
  if (got == static_cast<ssize_t>(sizeof(report))) {
    std::string what;
    switch (report.stage) {
      case ChildError::kSync:
        what = "the container's process could not start";
        break;
      case ChildError::kPropagation:
        what = "cannot make the container's mounts private";
        break;
      case ChildError::kStep:
        what = report.step >= 0 && static_cast<size_t>(report.step) < launch.mounts.size()
                   ? DescribeStep(launch.mounts[static_cast<size_t>(report.step)])
                   : "cannot set up the container's filesystem";
        break;
      case ChildError::kHostname:
        what = "cannot set the hostname to '" + launch.hostname + "'";
        break;
      case ChildError::kLoopback:
        what = "cannot bring up the loopback interface";
        break;
      case ChildError::kChdir:
        what = "cannot enter the sandbox '" + config.sandbox + "'";
        break;
      case ChildError::kOutput:
        what = "cannot open '" + log_path + "' for the output";
        break;
      case ChildError::kExec:
        what = "cannot execute '" + config.program + "'";
        break;
    }
    std::string message = what + ": " + ErrnoText(report.error);
    siginfo_t info{};
    waitid(static_cast<idtype_t>(kIdTypePidfd), static_cast<id_t>(pidfd), &info, WEXITED);
    close(pidfd);
    if (tracking) isolators::cgroups::KillAll(*tracking, TrackingPath(id));
    return fail(message);
  }

  WriteRecord(id, pid, (launch.clone_flags & CLONE_NEWPID) != 0);
  {
    std::lock_guard<std::mutex> lock(mutex);
    Container& container = containers[id];
    container.config = config;
    container.pid = pid;
    container.pidfd = pidfd;
    container.pid_namespace = (launch.clone_flags & CLONE_NEWPID) != 0;
    container.on_exit = std::move(on_exit);
    for (size_t i = 0; i < isolators.size(); ++i) {
      if (auto watch = isolators[i]->Watch(id)) container.watches.emplace_back(i, *watch);
    }
    ended.erase(id);
  }
  Wake();
  return pid;
}

Status Containerizer::Impl::Recover(const std::vector<KnownContainer>& known) {
  std::map<ContainerId, const KnownContainer*> wanted;
  for (const auto& k : known) wanted[k.container_id] = &k;
  std::vector<isolators::ContainerState> alive;
  std::vector<ContainerId> orphans;
  std::vector<const KnownContainer*> gone;
  std::error_code error;
  std::set<ContainerId> recorded;
  for (const auto& entry : fs::directory_iterator(runtime_dir, error)) {
    ContainerId id = entry.path().filename().string();
    recorded.insert(id);
    pid_t pid = 0;
    uint64_t start = 0;
    int pid_namespace = 0;
    std::ifstream in(entry.path() / "pid");
    in >> pid >> start >> pid_namespace;
    auto it = wanted.find(id);
    int pidfd = pid > 0 ? PidfdOpen(pid) : -1;
    bool same_process = pidfd >= 0 && start != 0 && StartTime(pid) == start;
    if (it != wanted.end() && same_process) {
      if (it->second->pid != 0 && it->second->pid != pid) {
        log->warn("container={}: the agent knows it as pid {}, its record says pid {}", id,
                  it->second->pid, pid);
      }
      std::lock_guard<std::mutex> lock(mutex);
      Container& container = containers[id];
      container.config.container_id = id;
      container.config.framework_id = it->second->framework_id;
      container.config.executor_id = it->second->executor_id;
      container.pid = pid;
      container.pidfd = pidfd;
      container.pid_namespace = pid_namespace != 0;
      container.on_exit = it->second->on_exit;
      alive.push_back({id, pid});
      continue;
    }
    // Not known, or its process is gone: an orphan, killed and cleaned up.
    if (same_process) {
      PidfdSignal(pidfd, SIGKILL);
      if (pid_namespace == 0 && !tracking) kill(-pid, SIGKILL);
    }
    if (pidfd >= 0) close(pidfd);
    if (tracking) {
      if (Status s = isolators::cgroups::KillAll(*tracking, TrackingPath(id)); !s.ok()) {
        return Status::Error("cannot kill the processes of orphan container " + id + ": " +
                             s.message());
      }
    }
    orphans.push_back(id);
    if (it != wanted.end()) gone.push_back(it->second);
  }
  for (const auto& k : known) {
    if (recorded.count(k.container_id) == 0) gone.push_back(&k);
  }
  for (size_t i = 0; i < isolators.size(); ++i) {
    if (Status s = isolators[i]->Recover(alive, orphans); !s.ok()) {
      return Status::Error(names[i] + ": recovery failed: " + s.message());
    }
  }
  for (const auto& id : orphans) {
    if (tracking) isolators::cgroups::Remove(TrackingPath(id));
    fs::remove_all(RuntimePath(id), error);
    log->info("container={}: destroyed (not among the containers the agent recovered)", id);
  }
  if (tracking) {
    std::set<std::string> keep;
    for (const auto& state : alive) keep.insert(state.container_id);
    for (const auto& id : isolators::cgroups::RemoveStale(*tracking, options.cgroups_root, keep)) {
      log->info("container={}: removed its empty cgroups, left behind by an agent that is gone",
                id);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& state : alive) {
      Container& container = containers.at(state.container_id);
      for (size_t i = 0; i < isolators.size(); ++i) {
        if (auto watch = isolators[i]->Watch(state.container_id)) {
          container.watches.emplace_back(i, *watch);
        }
      }
      log->info("container={}: recovered (pid {})", state.container_id, state.pid);
    }
  }
  Wake();
  for (const KnownContainer* k : gone) {
    log->info("container={}: gone while the agent was away", k->container_id);
    if (k->on_exit) k->on_exit(ContainerTermination{});
  }
  return Status::Ok();
}

std::string Containerizer::DefaultIsolation() {
  if (geteuid() != 0) return "posix";
  for (const char* controller : {"cpu", "memory", "pids"}) {
    if (!isolators::cgroups::FindHierarchy(controller).ok()) return "posix";
  }
  return "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
         "namespaces/ipc,filesystem/linux";
}

Result<std::unique_ptr<Containerizer>> Containerizer::Create(const ContainerizerOptions& given) {
  auto impl = std::make_unique<Impl>();
  impl->options = given;
  if (impl->options.isolation.empty()) impl->options.isolation = DefaultIsolation();
  std::error_code error;
  impl->runtime_dir = given.work_dir + "/containers";
  fs::create_directories(impl->runtime_dir, error);
  if (error) {
    return Status::Error("cannot create '" + impl->runtime_dir + "': " + error.message());
  }
  isolators::IsolatorOptions isolator_options;
  isolator_options.work_dir = given.work_dir;
  isolator_options.cgroups_root = given.cgroups_root;
  isolator_options.cgroups_enable_cfs = given.cgroups_enable_cfs;
  isolator_options.pids_limit = given.pids_limit;
  isolator_options.image_cache_dir = given.image_cache_dir;
  if (isolator_options.image_cache_dir.empty()) {
    isolator_options.image_cache_dir = given.work_dir + "/images";
  }
  std::set<std::string> seen;
  bool isolating = false;
  for (const auto& name : Split(impl->options.isolation, ',')) {
    if (!seen.insert(name).second) continue;
    Result<std::unique_ptr<Isolator>> isolator =
        isolators::IsolatorRegistry::Create(name, isolator_options);
    if (!isolator.ok()) return Status::Error("--isolation: " + isolator.error());
    impl->names.push_back(name);
    impl->isolators.push_back(std::move(*isolator));
    isolating = isolating || name != "posix";
  }
  if (impl->names.empty()) return Status::Error("--isolation names no isolator");
  if (impl->names.size() > 1 && seen.count("posix") > 0) {
    return Status::Error("--isolation: posix runs without isolation and goes alone");
  }
  for (size_t i = 0; i < impl->names.size(); ++i) {
    impl->isolation += (i > 0 ? "," : "") + impl->names[i];
  }
  if (isolating) {
    // Every process of a container is tracked in a cgroup, to kill them all.
    impl->tracking = isolators::cgroups::FindUnifiedHierarchy();
    if (!impl->tracking) {
      Result<isolators::cgroups::Hierarchy> freezer = isolators::cgroups::FindHierarchy("freezer");
      if (freezer.ok()) impl->tracking = *freezer;
    }
  }
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) return Status::Error("cannot create an eventfd: " + ErrnoText(errno));
  Impl* raw = impl.get();
  impl->monitor = std::thread([raw] { raw->Monitor(); });
  impl->cleaner = std::thread([raw] { raw->Cleaner(); });
  return std::unique_ptr<Containerizer>(new Containerizer(std::move(impl)));
}

Containerizer::Containerizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Containerizer::~Containerizer() {
  std::thread::id self = std::this_thread::get_id();
  if (self == impl_->monitor.get_id() || self == impl_->cleaner.get_id()) {
    // The last owner let go inside an exit callback, on one of our own
    // threads, which cannot join itself: stop from another thread.
    std::thread([impl = std::move(impl_)]() mutable { impl.reset(); }).detach();
  }
}

const std::string& Containerizer::isolation() const { return impl_->isolation; }

Result<pid_t> Containerizer::Launch(const ContainerConfig& config, ExitCallback on_exit) {
  return impl_->Launch(config, std::move(on_exit));
}

Status Containerizer::Update(const ContainerId& container_id, const Resources& resources) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto it = impl_->containers.find(container_id);
    if (it == impl_->containers.end() || !it->second.running) {
      return Status::Error("container " + container_id + " is not running");
    }
    it->second.config.resources = resources;
  }
  for (size_t i = 0; i < impl_->isolators.size(); ++i) {
    if (Status s = impl_->isolators[i]->Update(container_id, resources); !s.ok()) {
      return Status::Error(impl_->names[i] + ": " + s.message());
    }
  }
  return Status::Ok();
}

Result<ResourceStatistics> Containerizer::Usage(const ContainerId& container_id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto it = impl_->containers.find(container_id);
    if (it == impl_->containers.end() || !it->second.running) {
      return Status::Error("container " + container_id + " is not running");
    }
  }
  ResourceStatistics total;
  total.timestamp = WallSeconds();
  for (size_t i = 0; i < impl_->isolators.size(); ++i) {
    Result<ResourceStatistics> stats = impl_->isolators[i]->Usage(container_id);
    if (!stats.ok()) return Status::Error(impl_->names[i] + ": " + stats.error());
    total.Merge(*stats);
  }
  return total;
}

std::vector<ContainerUsage> Containerizer::UsageAll() {
  std::vector<ContainerUsage> usages;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (const auto& [id, container] : impl_->containers) {
      if (!container.running) continue;
      usages.push_back({id, container.config.framework_id, container.config.executor_id, {}});
    }
  }
  std::vector<ContainerUsage> result;
  for (auto& usage : usages) {
    Result<ResourceStatistics> stats = Usage(usage.container_id);
    if (!stats.ok()) continue;  // it ended meanwhile
    usage.statistics = *stats;
    result.push_back(std::move(usage));
  }
  return result;
}

agentmsg::UsageReport Containerizer::UsageSummary() {
  double now = MonotonicSeconds();
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (now - impl_->summary_time < 1) return impl_->summary;
  }
  agentmsg::UsageReport summary;
  for (const ContainerUsage& usage : UsageAll()) {
    const ResourceStatistics& s = usage.statistics;
    summary.cpu_seconds += s.cpus_user_seconds.value_or(0) + s.cpus_system_seconds.value_or(0);
    summary.memory_bytes += s.mem_usage_bytes.value_or(s.mem_rss_bytes.value_or(0));
    summary.processes += s.processes.value_or(0);
    summary.containers += 1;
  }
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->summary = summary;
  impl_->summary_time = now;
  return summary;
}

bool Containerizer::Destroy(const ContainerId& container_id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->containers.find(container_id);
  if (it == impl_->containers.end()) return false;
  it->second.destroying = true;
  impl_->KillProcesses(container_id, it->second);
  return true;
}

std::optional<ContainerTermination> Containerizer::Wait(const ContainerId& container_id,
                                                        double timeout_seconds) {
  std::shared_ptr<Impl::Ended> done;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto it = impl_->containers.find(container_id);
    if (it != impl_->containers.end()) {
      done = it->second.ended;
    } else if (auto e = impl_->ended.find(container_id); e != impl_->ended.end()) {
      done = e->second;
    }
  }
  if (!done) return std::nullopt;
  std::unique_lock<std::mutex> lock(done->mutex);
  done->done.wait_for(lock, std::chrono::duration<double>(timeout_seconds),
                      [&] { return done->termination.has_value(); });
  return done->termination;
}

Status Containerizer::Recover(const std::vector<KnownContainer>& known) {
  return impl_->Recover(known);
}

std::vector<ContainerId> Containerizer::containers() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<ContainerId> ids;
  for (const auto& [id, container] : impl_->containers) {
    if (container.running) ids.push_back(id);
  }
  return ids;
}

}  // namespace stoa::agent

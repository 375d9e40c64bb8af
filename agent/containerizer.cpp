#include "agent/containerizer.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/containerizer_impl.hpp"
#include "common/duration.hpp"

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;
using isolators::ResourceStatistics;

constexpr int kIdTypePidfd = 3;  // P_PIDFD, Linux 5.4

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

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

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

int WaitPidfd(int pidfd) {
  siginfo_t info{};
  int result;
  do {
    result = waitid(static_cast<idtype_t>(kIdTypePidfd), static_cast<id_t>(pidfd), &info, WEXITED);
  } while (result < 0 && errno == EINTR);
  if (result != 0) return -1;
  if (info.si_code == CLD_EXITED) return W_EXITCODE(info.si_status, 0);
  return info.si_status | (info.si_code == CLD_DUMPED ? WCOREFLAG : 0);
}

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

Containerizer::Impl::~Impl() {
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

void Containerizer::Impl::Wake() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd, &one, sizeof(one));
  (void)ignored;
}

void Containerizer::Impl::WriteRecord(const ContainerId& id, pid_t pid, bool pid_namespace) {
  std::ofstream out(RuntimePath(id) + "/pid", std::ios::trunc);
  out << pid << " " << (pid > 0 ? StartTime(pid) : 0) << " " << (pid_namespace ? 1 : 0) << "\n";
}

void Containerizer::Impl::KillProcesses(const ContainerId& id, const Container& container) {
  if (container.running && container.pidfd >= 0) {
    if (!Untracked(container)) {
      PidfdSignal(container.pidfd, SIGKILL);  // a pid namespace's init takes the rest with it
    } else {
      // posix: the executor, its tasks in its session and their children,
      // found through /proc and stopped before they are killed, off this thread.
      PidfdSignal(container.pidfd, SIGSTOP);
      to_kill.push_back(id);
      clean_wakeup.notify_all();
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

void Containerizer::Impl::CleanupResources(const ContainerId& id, size_t prepared) {
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

std::string Containerizer::DefaultIsolation() {
  if (geteuid() != 0) return "posix,disk/du";
  for (const char* controller : {"cpu", "memory", "pids"}) {
    if (!isolators::cgroups::FindHierarchy(controller).ok()) return "posix,disk/du";
  }
  return "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
         "namespaces/ipc,filesystem/linux,disk/du";
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
  isolator_options.image_cache_keep = given.image_cache_keep;
  isolator_options.container_disk_watch_interval = given.container_disk_watch_interval;
  isolator_options.enforce_container_disk_quota = given.enforce_container_disk_quota;
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
    isolating = isolating || (*isolator)->Confines();
    impl->isolators.push_back(std::move(*isolator));
  }
  if (impl->names.empty()) return Status::Error("--isolation names no isolator");
  if (isolating && seen.count("posix") > 0) {
    return Status::Error(
        "--isolation: posix runs without isolation: it goes only with isolators that confine no "
        "process (disk/du)");
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

bool Containerizer::NeedsProvisioning(const ContainerConfig& config) {
  isolators::ContainerConfig isolator_config = IsolatorConfig(config);
  return std::any_of(impl_->isolators.begin(), impl_->isolators.end(), [&](const auto& isolator) {
    return isolator->NeedsProvisioning(isolator_config);
  });
}

Status Containerizer::Provision(const ContainerConfig& config) { return impl_->Provision(config); }

void Containerizer::Release(const ContainerId& container_id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->to_release.push_back(container_id);
  }
  impl_->clean_wakeup.notify_all();
}

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

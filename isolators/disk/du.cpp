// disk/du: what each container's sandbox takes on disk, measured every
// --container_disk_watch_interval on a thread of its own (a sandbox can hold
// millions of files), as Mesos's disk/du does with du. Every inode counts
// once, symbolic links are never followed and nothing outside the sandbox is
// counted (MeasureTree in common/safe_fs). The use is reported in Usage; when
// it exceeds the container's `disk` and the quota is enforced, the container
// is limited (REASON_CONTAINER_LIMITATION_DISK) and so destroyed. Only the
// sandbox counts: a root filesystem's writable layer does not (as in Mesos).
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "common/logging.hpp"
#include "common/safe_fs.hpp"
#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr const char* kRecordFile = "disk";  // in the container's runtime directory

uint64_t LimitOf(const Resources& resources) {
  double disk = resources.Get("disk");
  return disk > 0 ? static_cast<uint64_t>(std::llround(disk * kMiB)) : 0;
}

std::string Mebibytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return text;
}

class DiskUsageIsolator : public Isolator {
 public:
  static Result<std::unique_ptr<Isolator>> Create(const IsolatorOptions& options) {
    if (!(options.container_disk_watch_interval > 0)) {
      return Status::Error("disk/du: --container_disk_watch_interval must be longer than zero");
    }
    return std::unique_ptr<Isolator>(new DiskUsageIsolator(options));
  }

  ~DiskUsageIsolator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wakeup_.notify_all();
    if (measurer_.joinable()) measurer_.join();
    for (auto& [id, watched] : watched_) close(watched.event_fd);
  }

  bool Confines() const override { return false; }

  Status Recover(const std::vector<ContainerState>& known,
                 const std::vector<ContainerId>&) override {
    for (const auto& state : known) {
      std::ifstream in(RecordPath(state.container_id));
      uint64_t limit = 0;
      std::string sandbox;
      if (in >> limit && in.ignore() && std::getline(in, sandbox) && !sandbox.empty()) {
        if (Status s = Add(state.container_id, sandbox, limit); !s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  Result<LaunchInfo> Prepare(const ContainerConfig& config) override {
    uint64_t limit = LimitOf(config.resources);
    if (Status s = Add(config.container_id, config.sandbox, limit); !s.ok()) return s;
    WriteRecord(config.container_id, config.sandbox, limit);
    return LaunchInfo{};
  }

  Status Isolate(const ContainerId&, pid_t) override { return Status::Ok(); }

  std::optional<WatchFd> Watch(const ContainerId& container_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = watched_.find(container_id);
    if (it == watched_.end()) return std::nullopt;
    return WatchFd{it->second.event_fd, POLLIN};
  }

  std::optional<Limitation> CheckLimitation(const ContainerId& container_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = watched_.find(container_id);
    if (it == watched_.end()) return std::nullopt;
    uint64_t count = 0;
    ssize_t ignored = read(it->second.event_fd, &count, sizeof(count));  // clear its readiness
    (void)ignored;
    return it->second.limitation;
  }

  Status Update(const ContainerId& container_id, const Resources& resources) override {
    std::string sandbox;
    uint64_t limit = LimitOf(resources);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = watched_.find(container_id);
      if (it == watched_.end()) return Status::Ok();
      it->second.limit = limit;
      sandbox = it->second.sandbox;
    }
    WriteRecord(container_id, sandbox, limit);
    return Status::Ok();
  }

  Result<ResourceStatistics> Usage(const ContainerId& container_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ResourceStatistics stats;
    auto it = watched_.find(container_id);
    if (it == watched_.end()) return stats;
    stats.disk_used_bytes = it->second.used;
    if (it->second.limit > 0) stats.disk_limit_bytes = it->second.limit;
    return stats;
  }

  Status Cleanup(const ContainerId& container_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = watched_.find(container_id);
    if (it == watched_.end()) return Status::Ok();
    close(it->second.event_fd);
    watched_.erase(it);
    return Status::Ok();
  }

 private:
  struct Watched {
    std::string sandbox;
    uint64_t limit = 0;  // bytes; 0: no `disk`, nothing to enforce
    std::optional<uint64_t> used;
    std::optional<Limitation> limitation;
    int event_fd = -1;  // readable once the container is limited
    std::string error;  // why the last measurement failed
  };

  explicit DiskUsageIsolator(const IsolatorOptions& options)
      : runtime_dir_(options.work_dir + "/containers"),
        interval_(options.container_disk_watch_interval),
        enforce_(options.enforce_container_disk_quota) {
    measurer_ = std::thread([this] { MeasureLoop(); });
  }

  std::string RecordPath(const ContainerId& id) const {
    return runtime_dir_ + "/" + id + "/" + kRecordFile;
  }

  // "limit\nsandbox\n": what Recover needs to watch the container again.
  void WriteRecord(const ContainerId& id, const std::string& sandbox, uint64_t limit) {
    std::ofstream(RecordPath(id), std::ios::trunc) << limit << "\n" << sandbox << "\n";
  }

  Status Add(const ContainerId& id, const std::string& sandbox, uint64_t limit) {
    int event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd < 0)
      return Status::Error("disk/du: cannot create an eventfd: " + ErrnoText(errno));
    std::lock_guard<std::mutex> lock(mutex_);
    Watched& watched = watched_[id];
    if (watched.event_fd >= 0) close(watched.event_fd);
    watched = Watched{sandbox, limit, std::nullopt, std::nullopt, event_fd, ""};
    ++added_;
    wakeup_.notify_all();  // a first measurement soon, not an interval from now
    return Status::Ok();
  }

  // Measures every watched sandbox, then waits an interval; a new container
  // cuts the wait short.
  void MeasureLoop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      uint64_t added_before = added_;
      std::vector<std::pair<ContainerId, std::string>> round;
      for (const auto& [id, watched] : watched_) round.emplace_back(id, watched.sandbox);
      lock.unlock();
      for (const auto& [id, sandbox] : round) Measure(id, sandbox);
      lock.lock();
      wakeup_.wait_for(lock, std::chrono::duration<double>(interval_),
                       [&] { return stopping_ || added_ != added_before; });
    }
  }

  void Measure(const ContainerId& id, const std::string& sandbox) {
    Result<UniqueFd> dir = OpenDirectory(sandbox);
    Result<TreeUsage> usage = dir.ok() ? MeasureTree(dir->get()) : Result<TreeUsage>(dir.status());
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = watched_.find(id);
    if (it == watched_.end() || it->second.sandbox != sandbox) return;  // gone meanwhile
    Watched& watched = it->second;
    if (!usage.ok()) {
      if (usage.error() != watched.error) {  // once, not every interval
        log_->warn("container={}: cannot measure sandbox '{}': {}", id, sandbox, usage.error());
      }
      watched.error = usage.error();
      return;
    }
    watched.error.clear();
    watched.used = usage->bytes;
    if (!enforce_ || watched.limit == 0 || usage->bytes <= watched.limit ||
        watched.limitation.has_value()) {
      return;
    }
    watched.limitation = Limitation{
        Reason::kContainerLimitationDisk,
        "disk usage " + Mebibytes(usage->bytes) + " of the sandbox exceeds the container's disk " +
            "limit of " + Mebibytes(watched.limit) + "; give the task more `disk`"};
    uint64_t one = 1;
    ssize_t ignored = write(watched.event_fd, &one, sizeof(one));
    (void)ignored;
  }

  const std::string runtime_dir_;
  const double interval_;
  const bool enforce_;
  std::shared_ptr<spdlog::logger> log_ = Logger("containerizer");
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;
  uint64_t added_ = 0;  // containers watched so far
  std::map<ContainerId, Watched> watched_;
  std::thread measurer_;  // last: it starts once everything else is made
};

const RegisterIsolator kRegistered("disk/du", &DiskUsageIsolator::Create);

}  // namespace
}  // namespace stoa::isolators

// cgroups/mem: a container's memory limit is its `mem`. Going over it ends the
// container with the MEMORY_LIMIT limitation. On v1 the kernel's OOM killer is
// disabled for the container (its processes wait) and an eventfd on
// memory.oom_control wakes the containerizer, which then destroys the whole
// container; on v2 memory.oom.group makes the OOM killer end every process of
// it at once, and memory.events tells. A limit is lowered at once only when the
// memory the container's processes hold fits under it (else the kernel would
// OOM-kill it); otherwise the soft limit presses it down until it fits.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <mutex>

#include "isolators/cgroups/cgroups.hpp"
#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Mebibytes(uint64_t bytes) {
  double mib = static_cast<double>(bytes) / kMiB;
  char text[32];
  std::snprintf(text, sizeof(text), mib == std::floor(mib) ? "%.0f" : "%.1f", mib);
  return text;
}

class MemIsolator : public Isolator {
 public:
  static Result<std::unique_ptr<Isolator>> Create(const IsolatorOptions& options) {
    Result<cgroups::Hierarchy> memory = cgroups::FindHierarchy("memory");
    if (!memory.ok()) return Status::Error("cgroups/mem: " + memory.error());
    return std::unique_ptr<Isolator>(new MemIsolator(options, *memory));
  }

  ~MemIsolator() override {
    for (auto& [id, container] : containers_) CloseFds(container);
  }

  Status Recover(const std::vector<ContainerState>& known,
                 const std::vector<ContainerId>& orphans) override {
    for (const auto& state : known) {
      const ContainerId& id = state.container_id;
      Result<std::optional<uint64_t>> limit = cgroups::ReadNumber(
          Path(id), hierarchy_.version == 1 ? "memory.limit_in_bytes" : "memory.max");
      std::lock_guard<std::mutex> lock(mutex_);
      Container& container = containers_[id];
      if (limit.ok() && limit->has_value() && **limit < (uint64_t{1} << 60)) {
        container.limit = **limit;
      }
      if (Status s = OpenWatch(id, container); !s.ok()) return s;
    }
    std::set<std::string> keep;
    for (const auto& state : known) keep.insert(state.container_id);
    return cgroups::RemoveOrphans(hierarchy_, options_.cgroups_root, orphans, keep);
  }

  Result<LaunchInfo> Prepare(const ContainerConfig& config) override {
    const ContainerId& id = config.container_id;
    if (Status s = cgroups::Create(hierarchy_, options_.cgroups_root, id, "memory"); !s.ok()) {
      return s;
    }
    std::string path = Path(id);
    if (hierarchy_.version == 1) {
      // The container's processes wait instead of being picked off one by one,
      // and the containerizer ends the whole container with a reason.
      if (Status s = cgroups::Write(path, "memory.oom_control", "1"); !s.ok()) return s;
    } else {
      cgroups::Write(path, "memory.oom.group", "1");
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Container& container = containers_[id];
      if (Status s = OpenWatch(id, container); !s.ok()) return s;
    }
    if (Status s = Apply(id, config.resources); !s.ok()) return s;
    return LaunchInfo{};
  }

  Status Isolate(const ContainerId& container_id, pid_t pid) override {
    return cgroups::Assign(Path(container_id), pid);
  }

  std::optional<WatchFd> Watch(const ContainerId& container_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = containers_.find(container_id);
    if (it == containers_.end() || it->second.watch_fd < 0) return std::nullopt;
    return WatchFd{it->second.watch_fd,
                   static_cast<short>(hierarchy_.version == 1 ? POLLIN : POLLPRI)};
  }

  std::optional<Limitation> CheckLimitation(const ContainerId& container_id) override {
    std::string path = Path(container_id);
    uint64_t limit = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = containers_.find(container_id);
      if (it == containers_.end()) return std::nullopt;
      limit = it->second.limit;
      // Clear the readiness of the watch descriptor.
      if (it->second.watch_fd >= 0) {
        char buffer[512];
        if (hierarchy_.version == 1) {
          ssize_t ignored = read(it->second.watch_fd, buffer, sizeof(uint64_t));
          (void)ignored;
        } else {
          ssize_t ignored = pread(it->second.watch_fd, buffer, sizeof(buffer), 0);
          (void)ignored;
        }
      }
    }
    bool reached = false;
    if (hierarchy_.version == 1) {
      auto oom = cgroups::ReadKeyed(path, "memory.oom_control");
      reached = oom.ok() && ((*oom)["under_oom"] > 0 || (*oom)["oom_kill"] > 0);
    } else {
      auto events = cgroups::ReadKeyed(path, "memory.events");
      reached = events.ok() && ((*events)["oom_kill"] > 0 || (*events)["oom_group_kill"] > 0);
    }
    if (!reached) return std::nullopt;
    std::string limit_text = limit > 0 ? Mebibytes(limit) + " MiB" : "its memory limit";
    return Limitation{Reason::kMemoryLimit,
                      "memory limit of " + limit_text +
                          " exceeded: the container's processes needed more memory than the "
                          "task's `mem`; give it more"};
  }

  Status Update(const ContainerId& container_id, const Resources& resources) override {
    return Apply(container_id, resources);
  }

  Result<ResourceStatistics> Usage(const ContainerId& container_id) override {
    std::string path = Path(container_id);
    {
      // Sampled regularly: a lower limit that had to wait is applied once it fits.
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = containers_.find(container_id);
      if (it != containers_.end() && it->second.pending != 0 &&
          AnonymousFits(path, it->second.pending)) {
        WriteLimit(it->second, path, it->second.pending);
      }
    }
    ResourceStatistics stats;
    bool v1 = hierarchy_.version == 1;
    Result<std::optional<uint64_t>> usage =
        cgroups::ReadNumber(path, v1 ? "memory.usage_in_bytes" : "memory.current");
    if (!usage.ok()) return usage.status();
    if (usage->has_value()) stats.mem_usage_bytes = **usage;
    Result<std::map<std::string, uint64_t>> stat = cgroups::ReadKeyed(path, "memory.stat");
    if (stat.ok()) {
      const char* key = v1 ? "total_rss" : "anon";
      if (v1 && stat->count(key) == 0) key = "rss";
      auto it = stat->find(key);
      if (it != stat->end()) stats.mem_rss_bytes = it->second;
    }
    Result<std::optional<uint64_t>> limit =
        cgroups::ReadNumber(path, v1 ? "memory.limit_in_bytes" : "memory.max");
    if (limit.ok() && limit->has_value() && **limit < (uint64_t{1} << 60)) {
      stats.mem_limit_bytes = **limit;
    }
    return stats;
  }

  Status Cleanup(const ContainerId& container_id) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = containers_.find(container_id);
      if (it != containers_.end()) {
        CloseFds(it->second);
        containers_.erase(it);
      }
    }
    return cgroups::Remove(Path(container_id));
  }

 private:
  struct Container {
    uint64_t limit = 0;
    uint64_t pending = 0;  // a lower limit waiting until the use fits (see Apply)
    int watch_fd = -1;     // v1: an eventfd; v2: memory.events
    int control_fd = -1;   // v1: memory.oom_control, kept open with the eventfd
  };

  MemIsolator(IsolatorOptions options, cgroups::Hierarchy hierarchy)
      : options_(std::move(options)), hierarchy_(std::move(hierarchy)) {}

  std::string Path(const ContainerId& id) const {
    return cgroups::ContainerPath(hierarchy_, options_.cgroups_root, id);
  }

  static void CloseFds(Container& container) {
    if (container.watch_fd >= 0) close(container.watch_fd);
    if (container.control_fd >= 0) close(container.control_fd);
    container.watch_fd = container.control_fd = -1;
  }

  // REQUIRES: mutex_ held.
  Status OpenWatch(const ContainerId& id, Container& container) {
    if (container.watch_fd >= 0) return Status::Ok();
    std::string path = Path(id);
    if (hierarchy_.version == 2) {
      container.watch_fd = open((path + "/memory.events").c_str(), O_RDONLY | O_CLOEXEC);
      if (container.watch_fd < 0) {
        return Status::Error("cannot open '" + path + "/memory.events': " + strerror(errno));
      }
      char buffer[512];
      ssize_t ignored = pread(container.watch_fd, buffer, sizeof(buffer), 0);
      (void)ignored;
      return Status::Ok();
    }
    container.watch_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    container.control_fd = open((path + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    if (container.watch_fd < 0 || container.control_fd < 0) {
      std::string why = strerror(errno);
      CloseFds(container);
      return Status::Error("cannot watch '" + path + "/memory.oom_control': " + why);
    }
    Status s = cgroups::Write(
        path, "cgroup.event_control",
        std::to_string(container.watch_fd) + " " + std::to_string(container.control_fd));
    if (!s.ok()) CloseFds(container);
    return s;
  }

  Status Apply(const ContainerId& id, const Resources& resources) {
    double mem = resources.Get("mem");
    if (mem <= 0) return Status::Ok();  // no mem named: no limit
    uint64_t limit = static_cast<uint64_t>(std::llround(mem * kMiB));
    std::string path = Path(id);
    std::lock_guard<std::mutex> lock(mutex_);
    Container& container = containers_[id];
    if (container.limit != 0 && limit < container.limit && !AnonymousFits(path, limit)) {
      // Lower than what its processes hold, the kernel would OOM-kill the
      // container (page cache it reclaims; this it cannot). The soft limit
      // presses it down, and Usage applies the limit once the use fits.
      container.pending = limit;
      cgroups::Write(path, hierarchy_.version == 1 ? "memory.soft_limit_in_bytes" : "memory.high",
                     std::to_string(limit));
      return Status::Ok();
    }
    return WriteLimit(container, path, limit);
  }

  // Whether the memory the container's processes hold (not the page cache)
  // is within `limit`. REQUIRES: mutex_ held.
  bool AnonymousFits(const std::string& path, uint64_t limit) const {
    Result<std::map<std::string, uint64_t>> stat = cgroups::ReadKeyed(path, "memory.stat");
    if (!stat.ok()) return false;
    const char* key = hierarchy_.version == 1 ? "total_rss" : "anon";
    auto it = stat->find(key);
    if (it == stat->end() && hierarchy_.version == 1) it = stat->find("rss");
    return it != stat->end() && it->second <= limit;
  }

  // The hard limit. REQUIRES: mutex_ held.
  Status WriteLimit(Container& container, const std::string& path, uint64_t limit) {
    container.limit = limit;
    container.pending = 0;
    std::string value = std::to_string(limit);
    if (hierarchy_.version == 2) {
      if (Status s = cgroups::Write(path, "memory.max", value); !s.ok()) return s;
      cgroups::Write(path, "memory.high", "max");
      cgroups::Write(path, "memory.swap.max", "0");  // absent without swap accounting
      return Status::Ok();
    }
    // memory.memsw.limit_in_bytes (memory + swap) may never be below the memory
    // limit: the first write succeeds when growing, the second when shrinking.
    bool has_swap = access((path + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0;
    if (has_swap) cgroups::Write(path, "memory.memsw.limit_in_bytes", value);
    if (Status s = cgroups::Write(path, "memory.limit_in_bytes", value); !s.ok()) {
      return Status::Error("cannot set the memory limit to " + Mebibytes(limit) +
                           " MiB: " + s.message());
    }
    if (has_swap) cgroups::Write(path, "memory.memsw.limit_in_bytes", value);
    cgroups::Write(path, "memory.soft_limit_in_bytes", "-1");
    return Status::Ok();
  }

  IsolatorOptions options_;
  cgroups::Hierarchy hierarchy_;
  std::mutex mutex_;
  std::map<ContainerId, Container> containers_;
};

const RegisterIsolator kRegistered("cgroups/mem", &MemIsolator::Create);

}  // namespace
}  // namespace stoa::isolators

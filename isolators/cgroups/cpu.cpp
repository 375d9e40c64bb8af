// cgroups/cpu: a container's cpu share follows its `cpus` (cpu.shares on v1,
// cpu.weight on v2); with a hard cap (the agent's --cgroups_enable_cfs or the
// task's cpu_hard_limit) the CFS quota holds it at `cpus`. Reports cpu time and
// throttling.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include "isolators/cgroups/cgroups.hpp"
#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

constexpr uint64_t kCfsPeriodMicros = 100000;
constexpr uint64_t kMinCfsQuotaMicros = 1000;
constexpr double kMinCpus = 0.01;

class CpuIsolator : public Isolator {
 public:
  static Result<std::unique_ptr<Isolator>> Create(const IsolatorOptions& options) {
    Result<cgroups::Hierarchy> cpu = cgroups::FindHierarchy("cpu");
    if (!cpu.ok()) return Status::Error("cgroups/cpu: " + cpu.error());
    cgroups::Hierarchy cpuacct = *cpu;
    if (cpu->version == 1) {
      Result<cgroups::Hierarchy> found = cgroups::FindHierarchy("cpuacct");
      if (!found.ok()) return Status::Error("cgroups/cpu: " + found.error());
      cpuacct = *found;
    }
    return std::unique_ptr<Isolator>(new CpuIsolator(options, *cpu, cpuacct));
  }

  Status Recover(const std::vector<ContainerState>& known,
                 const std::vector<ContainerId>& orphans) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& state : known) {
      const ContainerId& id = state.container_id;
      Container& container = containers_[id];
      Result<std::optional<uint64_t>> shares =
          cgroups::ReadNumber(CpuPath(id), cpu_.version == 1 ? "cpu.shares" : "cpu.weight");
      if (shares.ok() && shares->has_value() && cpu_.version == 1) {
        container.cpus = static_cast<double>(**shares) / 1024;
      }
    }
    for (const auto& id : orphans) {
      if (Status s = RemoveCgroups(id); !s.ok()) return s;
    }
    std::set<std::string> keep;
    for (const auto& state : known) keep.insert(state.container_id);
    cgroups::RemoveStale(cpu_, options_.cgroups_root, keep);
    if (!(cpuacct_ == cpu_)) cgroups::RemoveStale(cpuacct_, options_.cgroups_root, keep);
    return Status::Ok();
  }

  Result<LaunchInfo> Prepare(const ContainerConfig& config) override {
    const ContainerId& id = config.container_id;
    if (Status s = cgroups::Create(cpu_, options_.cgroups_root, id, "cpu"); !s.ok()) return s;
    if (!(cpuacct_ == cpu_)) {
      if (Status s = cgroups::Create(cpuacct_, options_.cgroups_root, id, ""); !s.ok()) return s;
    }
    bool hard_limit = options_.cgroups_enable_cfs || config.container.cpu_hard_limit;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      containers_[id].hard_limit = hard_limit;
    }
    if (Status s = Apply(id, config.resources); !s.ok()) return s;
    return LaunchInfo{};
  }

  Status Isolate(const ContainerId& container_id, pid_t pid) override {
    if (Status s = cgroups::Assign(CpuPath(container_id), pid); !s.ok()) return s;
    if (!(cpuacct_ == cpu_)) return cgroups::Assign(CpuacctPath(container_id), pid);
    return Status::Ok();
  }

  std::optional<WatchFd> Watch(const ContainerId&) override { return std::nullopt; }
  std::optional<Limitation> CheckLimitation(const ContainerId&) override { return std::nullopt; }

  Status Update(const ContainerId& container_id, const Resources& resources) override {
    return Apply(container_id, resources);
  }

  Result<ResourceStatistics> Usage(const ContainerId& container_id) override {
    ResourceStatistics stats;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = containers_.find(container_id);
      if (it != containers_.end() && it->second.cpus > 0) stats.cpus_limit = it->second.cpus;
    }
    Result<std::map<std::string, uint64_t>> cpu_stat =
        cgroups::ReadKeyed(CpuPath(container_id), "cpu.stat");
    if (!cpu_stat.ok()) return cpu_stat.status();
    auto value = [&](const std::map<std::string, uint64_t>& map, const char* key) {
      auto it = map.find(key);
      return it == map.end() ? uint64_t{0} : it->second;
    };
    stats.cpus_nr_periods = value(*cpu_stat, "nr_periods");
    stats.cpus_nr_throttled = value(*cpu_stat, "nr_throttled");
    if (cpu_.version == 2) {
      stats.cpus_user_seconds = static_cast<double>(value(*cpu_stat, "user_usec")) / 1e6;
      stats.cpus_system_seconds = static_cast<double>(value(*cpu_stat, "system_usec")) / 1e6;
      stats.cpus_throttled_seconds = static_cast<double>(value(*cpu_stat, "throttled_usec")) / 1e6;
      return stats;
    }
    stats.cpus_throttled_seconds = static_cast<double>(value(*cpu_stat, "throttled_time")) / 1e9;
    std::string acct = CpuacctPath(container_id);
    Result<std::optional<uint64_t>> user = cgroups::ReadNumber(acct, "cpuacct.usage_user");
    Result<std::optional<uint64_t>> system = cgroups::ReadNumber(acct, "cpuacct.usage_sys");
    if (user.ok() && system.ok() && user->has_value() && system->has_value()) {
      stats.cpus_user_seconds = static_cast<double>(**user) / 1e9;
      stats.cpus_system_seconds = static_cast<double>(**system) / 1e9;
      return stats;
    }
    // Older kernels: cpuacct.stat in USER_HZ ticks.
    Result<std::map<std::string, uint64_t>> ticks = cgroups::ReadKeyed(acct, "cpuacct.stat");
    if (!ticks.ok()) return ticks.status();
    double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    stats.cpus_user_seconds = static_cast<double>(value(*ticks, "user")) / hz;
    stats.cpus_system_seconds = static_cast<double>(value(*ticks, "system")) / hz;
    return stats;
  }

  Status Cleanup(const ContainerId& container_id) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      containers_.erase(container_id);
    }
    return RemoveCgroups(container_id);
  }

 private:
  struct Container {
    bool hard_limit = false;
    double cpus = 0;
  };

  CpuIsolator(IsolatorOptions options, cgroups::Hierarchy cpu, cgroups::Hierarchy cpuacct)
      : options_(std::move(options)), cpu_(std::move(cpu)), cpuacct_(std::move(cpuacct)) {}

  std::string CpuPath(const ContainerId& id) const {
    return cgroups::ContainerPath(cpu_, options_.cgroups_root, id);
  }
  std::string CpuacctPath(const ContainerId& id) const {
    return cgroups::ContainerPath(cpuacct_, options_.cgroups_root, id);
  }

  Status RemoveCgroups(const ContainerId& id) {
    Status first = cgroups::Remove(CpuPath(id));
    if (!(cpuacct_ == cpu_)) {
      Status second = cgroups::Remove(CpuacctPath(id));
      if (first.ok()) return second;
    }
    return first;
  }

  // Shares (or weight) from `cpus`, and the CFS quota when hard-limited.
  Status Apply(const ContainerId& id, const Resources& resources) {
    double cpus = resources.Get("cpus");
    bool hard_limit = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Container& container = containers_[id];
      container.cpus = cpus;
      hard_limit = container.hard_limit;
    }
    if (cpus <= 0) return Status::Ok();  // no cpus named: the default share, no cap
    cpus = std::max(cpus, kMinCpus);
    std::string path = CpuPath(id);
    uint64_t shares = std::max<uint64_t>(2, static_cast<uint64_t>(std::llround(cpus * 1024)));
    uint64_t quota =
        std::max(kMinCfsQuotaMicros, static_cast<uint64_t>(std::llround(cpus * kCfsPeriodMicros)));
    if (cpu_.version == 1) {
      if (Status s = cgroups::Write(path, "cpu.shares", std::to_string(shares)); !s.ok()) return s;
      if (!hard_limit) return cgroups::Write(path, "cpu.cfs_quota_us", "-1");
      if (Status s = cgroups::Write(path, "cpu.cfs_period_us", std::to_string(kCfsPeriodMicros));
          !s.ok()) {
        return s;
      }
      return cgroups::Write(path, "cpu.cfs_quota_us", std::to_string(quota));
    }
    // The conversion Kubernetes and systemd use: shares [2, 262144] -> weight [1, 10000].
    uint64_t weight = 1 + ((std::min<uint64_t>(shares, 262144) - 2) * 9999) / 262142;
    if (Status s = cgroups::Write(path, "cpu.weight", std::to_string(weight)); !s.ok()) return s;
    std::string max = hard_limit ? std::to_string(quota) : "max";
    return cgroups::Write(path, "cpu.max", max + " " + std::to_string(kCfsPeriodMicros));
  }

  IsolatorOptions options_;
  cgroups::Hierarchy cpu_;
  cgroups::Hierarchy cpuacct_;
  std::mutex mutex_;
  std::map<ContainerId, Container> containers_;
};

const RegisterIsolator kRegistered("cgroups/cpu", &CpuIsolator::Create);

}  // namespace
}  // namespace stoa::isolators

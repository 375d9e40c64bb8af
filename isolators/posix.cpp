// posix: no isolation, for agents without privileges. The container is the
// executor's process tree; its usage is read from /proc.
#include <unistd.h>

#include <map>
#include <mutex>

#include "isolators/isolator.hpp"
#include "isolators/process_tree.hpp"

namespace stoa::isolators {
namespace {

class PosixIsolator : public Isolator {
 public:
  static Result<std::unique_ptr<Isolator>> Create(const IsolatorOptions&) {
    return std::unique_ptr<Isolator>(new PosixIsolator());
  }

  Status Recover(const std::vector<ContainerState>& known,
                 const std::vector<ContainerId>&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& state : known) pids_[state.container_id] = state.pid;
    return Status::Ok();
  }
  bool Confines() const override { return false; }
  Result<LaunchInfo> Prepare(const ContainerConfig&) override { return LaunchInfo{}; }
  Status Isolate(const ContainerId& container_id, pid_t pid) override {
    std::lock_guard<std::mutex> lock(mutex_);
    pids_[container_id] = pid;
    return Status::Ok();
  }
  std::optional<WatchFd> Watch(const ContainerId&) override { return std::nullopt; }
  std::optional<Limitation> CheckLimitation(const ContainerId&) override { return std::nullopt; }
  Status Update(const ContainerId&, const Resources&) override { return Status::Ok(); }

  Result<ResourceStatistics> Usage(const ContainerId& container_id) override {
    pid_t root = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = pids_.find(container_id);
      if (it == pids_.end()) return ResourceStatistics{};
      root = it->second;
    }
    std::map<pid_t, ProcessStat> all = ScanProcesses();
    // The tree under `root`.
    std::map<pid_t, std::vector<pid_t>> children;
    for (const auto& [pid, stat] : all) children[stat.parent].push_back(pid);
    std::vector<pid_t> pending = {root};
    double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    uint64_t user = 0, system = 0, rss = 0, count = 0;
    while (!pending.empty()) {
      pid_t pid = pending.back();
      pending.pop_back();
      auto it = all.find(pid);
      if (it == all.end()) continue;
      ++count;
      user += it->second.user_ticks + it->second.reaped_user;
      system += it->second.system_ticks + it->second.reaped_system;
      rss += it->second.rss_pages;
      for (pid_t child : children[pid]) pending.push_back(child);
    }
    ResourceStatistics stats;
    stats.cpus_user_seconds = static_cast<double>(user) / hz;
    stats.cpus_system_seconds = static_cast<double>(system) / hz;
    stats.mem_rss_bytes = rss * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    stats.processes = count;
    return stats;
  }

  Status Cleanup(const ContainerId& container_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    pids_.erase(container_id);
    return Status::Ok();
  }

 private:
  std::mutex mutex_;
  std::map<ContainerId, pid_t> pids_;
};

const RegisterIsolator kRegistered("posix", &PosixIsolator::Create);

}  // namespace
}  // namespace stoa::isolators

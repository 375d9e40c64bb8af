// cgroups/pids: at most --pids_limit processes per container. Reaching it is
// not fatal (fork fails inside the container), but a fork bomb stays contained.
#include <mutex>

#include "isolators/cgroups/cgroups.hpp"
#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

class PidsIsolator : public Isolator {
 public:
  static Result<std::unique_ptr<Isolator>> Create(const IsolatorOptions& options) {
    Result<cgroups::Hierarchy> pids = cgroups::FindHierarchy("pids");
    if (!pids.ok()) return Status::Error("cgroups/pids: " + pids.error());
    if (options.pids_limit < 0) {
      return Status::Error("cgroups/pids: --pids_limit must be 0 (no limit) or more, not " +
                           std::to_string(options.pids_limit));
    }
    return std::unique_ptr<Isolator>(new PidsIsolator(options, *pids));
  }

  Status Recover(const std::vector<ContainerState>& known,
                 const std::vector<ContainerId>& orphans) override {
    std::set<std::string> keep;
    for (const auto& state : known) keep.insert(state.container_id);
    return cgroups::RemoveOrphans(hierarchy_, options_.cgroups_root, orphans, keep);
  }

  Result<LaunchInfo> Prepare(const ContainerConfig& config) override {
    const ContainerId& id = config.container_id;
    if (Status s = cgroups::Create(hierarchy_, options_.cgroups_root, id, "pids"); !s.ok()) {
      return s;
    }
    std::string limit = options_.pids_limit > 0 ? std::to_string(options_.pids_limit) : "max";
    if (Status s = cgroups::Write(Path(id), "pids.max", limit); !s.ok()) return s;
    return LaunchInfo{};
  }

  Status Isolate(const ContainerId& container_id, pid_t pid) override {
    return cgroups::Assign(Path(container_id), pid);
  }

  std::optional<WatchFd> Watch(const ContainerId&) override { return std::nullopt; }
  std::optional<Limitation> CheckLimitation(const ContainerId&) override { return std::nullopt; }
  Status Update(const ContainerId&, const Resources&) override { return Status::Ok(); }

  Result<ResourceStatistics> Usage(const ContainerId& container_id) override {
    std::string path = Path(container_id);
    Result<std::optional<uint64_t>> current = cgroups::ReadNumber(path, "pids.current");
    if (!current.ok()) return current.status();
    ResourceStatistics stats;
    if (current->has_value()) stats.threads = **current;
    stats.processes = cgroups::Processes(path).size();
    Result<std::optional<uint64_t>> max = cgroups::ReadNumber(path, "pids.max");
    if (max.ok() && max->has_value()) stats.processes_limit = **max;
    return stats;
  }

  Status Cleanup(const ContainerId& container_id) override {
    return cgroups::Remove(Path(container_id));
  }

 private:
  PidsIsolator(IsolatorOptions options, cgroups::Hierarchy hierarchy)
      : options_(std::move(options)), hierarchy_(std::move(hierarchy)) {}

  std::string Path(const ContainerId& id) const {
    return cgroups::ContainerPath(hierarchy_, options_.cgroups_root, id);
  }

  IsolatorOptions options_;
  cgroups::Hierarchy hierarchy_;
};

const RegisterIsolator kRegistered("cgroups/pids", &PidsIsolator::Create);

}  // namespace
}  // namespace stoa::isolators

#include "agent/launcher.hpp"

#include "common/logging.hpp"

namespace stoa::agent {

caf::behavior LauncherActor(caf::event_based_actor*, std::shared_ptr<Containerizer> containerizer) {
  return {
      [containerizer](launch_atom, const LaunchRequest& request) {
        Result<pid_t> pid = containerizer->Launch(request.config, request.on_exit);
        return pid.ok() ? LaunchResult{*pid, ""} : LaunchResult{0, pid.error()};
      },
      [containerizer](update_atom, const UpdateRequest& request) {
        if (Status s = containerizer->Update(request.container_id, request.resources); !s.ok()) {
          Logger("agent")->warn("container={}: cannot apply resources {}: {}", request.container_id,
                                request.resources.ToString(), s.message());
        }
      },
  };
}

caf::behavior ProvisionerActor(caf::event_based_actor* self,
                               std::shared_ptr<Containerizer> containerizer) {
  return {
      [containerizer](provision_atom, const ProvisionRequest& request) -> std::string {
        Status s = containerizer->Provision(request.config);
        return s.ok() ? "" : s.message();
      },
      [self](stop_atom) { self->quit(); },
  };
}

std::string PendingLaunches::ProvisionerOf(const ContainerConfig& config) {
  return config.container.rootfs;
}

bool PendingLaunches::Add(const ContainerConfig& config) {
  waiting_[config.container_id] = config;
  return ++per_provisioner_[ProvisionerOf(config)] == 1;
}

bool PendingLaunches::Update(const ContainerId& container_id, const Resources& resources) {
  auto it = waiting_.find(container_id);
  if (it == waiting_.end()) return false;
  it->second.resources = resources;
  return true;
}

std::optional<PendingLaunches::Taken> PendingLaunches::Take(const ContainerId& container_id) {
  auto it = waiting_.find(container_id);
  if (it == waiting_.end()) return std::nullopt;
  Taken taken;
  taken.provisioner = ProvisionerOf(it->second);
  taken.config = std::move(it->second);
  waiting_.erase(it);
  auto count = per_provisioner_.find(taken.provisioner);
  if (count != per_provisioner_.end() && --count->second <= 0) {
    per_provisioner_.erase(count);
    taken.last = true;
  }
  return taken;
}

}  // namespace stoa::agent

// The agent's blocking container work, off the agent actor. The launcher
// actor runs launches and resource updates, in order, so that an update
// follows its container's launch. Provisioning (a root filesystem tarball
// unpacked) runs before that, in provisioner actors, one per root filesystem
// being provisioned: an unpack holds up only the launches that need that
// image, and a second container of it waits for the first's unpack, which
// then happens once. PendingLaunches keeps the launches waiting meanwhile.
#pragma once

#include <sys/types.h>

#include <caf/all.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/containerizer.hpp"

namespace stoa::agent {

// A container launch handed to the launcher actor, and how it went.
struct LaunchRequest {
  ContainerConfig config;
  ExitCallback on_exit;
};
struct LaunchResult {
  pid_t pid = 0;
  std::string error;  // empty on success
};
// New limits for a running container.
struct UpdateRequest {
  ContainerId container_id;
  Resources resources;
};
// A container to provision; the answer is an error text, empty on success.
struct ProvisionRequest {
  ContainerConfig config;
};

}  // namespace stoa::agent

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::agent::LaunchRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::agent::LaunchResult)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::agent::UpdateRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::agent::ProvisionRequest)

namespace stoa::agent {

using launch_atom = caf::atom_constant<caf::atom("launch")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using provision_atom = caf::atom_constant<caf::atom("provision")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// Launches (answering a LaunchResult) and updates, one at a time, in order.
caf::behavior LauncherActor(caf::event_based_actor* self,
                            std::shared_ptr<Containerizer> containerizer);

// Provisions the containers it is sent, one after another (answering an
// error text, empty on success), until it gets stop_atom.
caf::behavior ProvisionerActor(caf::event_based_actor* self,
                               std::shared_ptr<Containerizer> containerizer);

// The launches waiting for their containers to be provisioned, grouped by the
// provisioner they wait on (one per root filesystem). An update for a waiting
// container is kept (the latest wins) and goes with its launch: none is lost,
// and none reaches the launcher before the launch does. A plain class.
class PendingLaunches {
 public:
  // The provisioner the container's provisioning goes to.
  static std::string ProvisionerOf(const ContainerConfig& config);

  // Keeps the launch; true when it is the first waiting on its provisioner
  // (which is then to be started).
  bool Add(const ContainerConfig& config);
  bool Contains(const ContainerId& container_id) const { return waiting_.count(container_id) > 0; }
  // Keeps `resources` for the launch; false when the container is not waiting.
  bool Update(const ContainerId& container_id, const Resources& resources);

  struct Taken {
    ContainerConfig config;  // with the latest resources asked for
    std::string provisioner;
    bool last = false;  // nothing else waits on that provisioner: it may stop
  };
  // Removes the launch of a provisioned container and returns it.
  std::optional<Taken> Take(const ContainerId& container_id);
  size_t size() const { return waiting_.size(); }

 private:
  std::map<ContainerId, ContainerConfig> waiting_;
  std::map<std::string, int> per_provisioner_;
};

}  // namespace stoa::agent

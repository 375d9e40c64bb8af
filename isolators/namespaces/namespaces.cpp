// namespaces/pid, namespaces/mount, namespaces/uts, namespaces/ipc and
// namespaces/net: each asks the launcher to clone the container's first process
// into a new namespace and says what to set up in it.
//  - pid: the executor is the init of its own pid namespace; a fresh /proc shows it.
//  - mount: mounts made in the container stay in it (private propagation).
//  - uts: the container's own hostname (the task's, or derived from the container id).
//  - ipc: own System V IPC objects and a private /dev/shm.
//  - net: for tasks that ask for it, a network namespace with only loopback, up.
#include <sched.h>
#include <sys/mount.h>

#include <algorithm>

#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

using PrepareFunction = LaunchInfo (*)(const ContainerConfig& config);

class NamespaceIsolator : public Isolator {
 public:
  explicit NamespaceIsolator(PrepareFunction prepare) : prepare_(prepare) {}

  Status Recover(const std::vector<ContainerState>&, const std::vector<ContainerId>&) override {
    return Status::Ok();  // a namespace ends with the container's last process
  }
  Result<LaunchInfo> Prepare(const ContainerConfig& config) override { return prepare_(config); }
  Status Isolate(const ContainerId&, pid_t) override { return Status::Ok(); }
  std::optional<WatchFd> Watch(const ContainerId&) override { return std::nullopt; }
  std::optional<Limitation> CheckLimitation(const ContainerId&) override { return std::nullopt; }
  Status Update(const ContainerId&, const Resources&) override { return Status::Ok(); }
  Result<ResourceStatistics> Usage(const ContainerId&) override { return ResourceStatistics{}; }
  Status Cleanup(const ContainerId&) override { return Status::Ok(); }

 private:
  PrepareFunction prepare_;
};

IsolatorFactory Factory(PrepareFunction prepare) {
  return [prepare](const IsolatorOptions&) -> Result<std::unique_ptr<Isolator>> {
    return std::unique_ptr<Isolator>(new NamespaceIsolator(prepare));
  };
}

MountStep Mount(std::string source, std::string target, std::string type, unsigned long flags,
                std::string data = "") {
  MountStep step;
  step.source = std::move(source);
  step.target = std::move(target);
  step.type = std::move(type);
  step.flags = flags;
  step.data = std::move(data);
  return step;
}

LaunchInfo PreparePid(const ContainerConfig&) {
  LaunchInfo info;
  info.clone_flags = CLONE_NEWPID | CLONE_NEWNS;
  info.mounts.push_back(Mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  return info;
}

LaunchInfo PrepareMount(const ContainerConfig&) {
  LaunchInfo info;
  info.clone_flags = CLONE_NEWNS;
  return info;
}

LaunchInfo PrepareUts(const ContainerConfig& config) {
  LaunchInfo info;
  info.clone_flags = CLONE_NEWUTS;
  info.hostname = config.container.hostname;
  if (info.hostname.empty()) {
    std::string id = config.container_id;
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    info.hostname = id.substr(0, 12);
  }
  return info;
}

LaunchInfo PrepareIpc(const ContainerConfig&) {
  LaunchInfo info;
  info.clone_flags = CLONE_NEWIPC | CLONE_NEWNS;
  info.mounts.push_back(
      Mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777"));
  return info;
}

LaunchInfo PrepareNet(const ContainerConfig& config) {
  LaunchInfo info;
  if (!config.container.network_isolated) return info;  // host networking
  info.clone_flags = CLONE_NEWNET;
  info.loopback_up = true;
  return info;
}

const RegisterIsolator kPid("namespaces/pid", Factory(&PreparePid));
const RegisterIsolator kMount("namespaces/mount", Factory(&PrepareMount));
const RegisterIsolator kUts("namespaces/uts", Factory(&PrepareUts));
const RegisterIsolator kIpc("namespaces/ipc", Factory(&PrepareIpc));
const RegisterIsolator kNet("namespaces/net", Factory(&PrepareNet));

}  // namespace
}  // namespace stoa::isolators

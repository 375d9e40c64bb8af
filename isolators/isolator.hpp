// The isolator interface (after Mesos's mesos::slave::Isolator) and the registry
// that creates isolators by name. An isolator contains one aspect of a container
// (cpu, memory, processes, a namespace, the filesystem, disk use): the
// containerizer may call Provision first (slow work such as unpacking an image,
// off the launch path), then Prepare on every isolator in the configured order
// before the container's first process exists, Isolate once it exists (and
// waits for it), Watch/CheckLimitation while it runs, and Cleanup in reverse
// order once every process of it is gone (or when a provisioned container is
// not launched after all).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/resources.hpp"
#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa::isolators {

// What a container is, as the isolators see it.
struct ContainerConfig {
  ContainerId container_id;
  std::string sandbox;      // absolute host path of an existing directory
  std::string user;         // the tasks run as this user; empty: the agent's user
  Resources resources;      // what the container may use (cpus, mem, ...)
  ContainerInfo container;  // root filesystem, volumes, hostname, network
};

// A running container the agent knows, after a restart.
struct ContainerState {
  ContainerId container_id;
  pid_t pid = 0;  // its first process (the executor)
};

// One step the launched child performs in its own mount namespace, in order,
// before it execs. Paths are host paths (as the child sees them at that point).
// A step with a `root` (a root filesystem, a sandbox) resolves `target` as if
// `root` were "/": a symlink inside it cannot lead the step out onto the host.
struct MountStep {
  enum class Kind { kMount, kMakeDirectory, kMakeFile, kMakeDevice, kSymlink };
  Kind kind = Kind::kMount;
  std::string source;       // kMount: the source; kSymlink: the link's target
  std::string target;       // the path created or mounted on
  std::string root;         // empty, or a directory `target` lies beneath
  std::string type;         // kMount: the filesystem type ("" for bind mounts)
  unsigned long flags = 0;  // kMount: MS_* flags; MS_BIND|MS_RDONLY is done as bind + remount
  std::string data;         // kMount: filesystem options
  unsigned int mode = 0;    // kMakeDevice: S_IFCHR|0666
  dev_t device = 0;         // kMakeDevice
};

// What Prepare asks of the launcher. Every isolator's answer is merged:
// clone flags are or-ed, steps and environment appended in isolator order.
struct LaunchInfo {
  int clone_flags = 0;  // CLONE_NEW* flags
  std::vector<MountStep> mounts;
  std::string hostname;      // set in a new UTS namespace
  bool loopback_up = false;  // bring `lo` up in a new network namespace
  // Environment the executor gets, e.g. STOA_ROOTFS: the prepared root the
  // executor pivots each task into.
  std::vector<std::pair<std::string, std::string>> environment;
};

// A limit the container reached that ends it, e.g. the memory limit.
struct Limitation {
  Reason reason = Reason::kNone;
  std::string message;  // e.g. "memory limit of 64 MiB exceeded (the kernel's OOM ...)"
};

// Usage of a container; each isolator fills in what it measures.
struct ResourceStatistics {
  double timestamp = 0;  // seconds since the epoch
  std::optional<double> cpus_limit;
  std::optional<double> cpus_user_seconds;
  std::optional<double> cpus_system_seconds;
  std::optional<double> cpus_throttled_seconds;
  std::optional<uint64_t> cpus_nr_periods;
  std::optional<uint64_t> cpus_nr_throttled;
  std::optional<uint64_t> mem_rss_bytes;
  std::optional<uint64_t> mem_usage_bytes;
  std::optional<uint64_t> mem_limit_bytes;
  std::optional<uint64_t> processes;
  std::optional<uint64_t> threads;           // every task the kernel runs, processes included
  std::optional<uint64_t> processes_limit;   // the pids limit, which counts threads
  std::optional<uint64_t> disk_used_bytes;   // the sandbox, as last measured (disk/du)
  std::optional<uint64_t> disk_limit_bytes;  // the container's `disk`

  // Copies every field `other` has.
  void Merge(const ResourceStatistics& other);
};

// A descriptor that becomes ready (poll `events`) when the container may have
// reached a limit; the containerizer then calls CheckLimitation. The isolator
// owns it and closes it in Cleanup.
struct WatchFd {
  int fd = -1;
  short events = 0;
};

// Agent-wide settings every isolator is created with.
struct IsolatorOptions {
  std::string work_dir;               // the agent's; runtime state goes under work_dir/containers
  std::string cgroups_root = "stoa";  // the cgroup under each controller's root for containers
  bool cgroups_enable_cfs = false;    // cap cpu at `cpus` (CFS quota) for every container
  int64_t pids_limit = 1024;          // at most this many processes per container (0: no limit)
  std::string image_cache_dir;        // where tarball root filesystems are unpacked, once
  size_t image_cache_keep = 4;        // unpacked images no container uses that are kept (LRU)
  double container_disk_watch_interval = 15;  // disk/du: seconds between measurements
  bool enforce_container_disk_quota = true;   // disk/du: destroy a container over its `disk`
};

class Isolator {
 public:
  virtual ~Isolator() = default;

  // After an agent restart: re-attach to `known` containers (still running) and
  // clean up after `orphans` (whose processes the containerizer already killed).
  virtual Status Recover(const std::vector<ContainerState>& known,
                         const std::vector<ContainerId>& orphans) = 0;

  // Whether Provision has slow work to do for this container, e.g. an image
  // that is not unpacked yet. Quick: it is asked on the launch path.
  virtual bool NeedsProvisioning(const ContainerConfig&) { return false; }

  // Slow work that needs no process yet (an image unpacked into the cache),
  // run before Prepare and away from other containers' launches. What it
  // makes is the container's until Cleanup. Prepare does this work itself
  // when Provision was not called. Safe to call from several threads at once.
  virtual Status Provision(const ContainerConfig&) { return Status::Ok(); }

  // False for isolators that confine no process (posix, disk/du): only when
  // some isolator does are a container's processes tracked in a cgroup.
  virtual bool Confines() const { return true; }

  // Before the container's first process exists. An error fails the launch
  // (the containerizer then calls Cleanup).
  virtual Result<LaunchInfo> Prepare(const ContainerConfig& config) = 0;

  // The container's first process `pid` exists and waits; put it under the
  // isolator's control (e.g. into a cgroup). It execs once every isolator did.
  virtual Status Isolate(const ContainerId& container_id, pid_t pid) = 0;

  // A descriptor to poll for limitations, if the isolator enforces any.
  virtual std::optional<WatchFd> Watch(const ContainerId& container_id) = 0;

  // The limit the container reached, if any. Called when the watch descriptor
  // is ready and once more when the container's first process has exited.
  virtual std::optional<Limitation> CheckLimitation(const ContainerId& container_id) = 0;

  // Applies new resources to a running container.
  virtual Status Update(const ContainerId& container_id, const Resources& resources) = 0;

  // What the container uses now.
  virtual Result<ResourceStatistics> Usage(const ContainerId& container_id) = 0;

  // Removes everything the isolator made for the container. Idempotent.
  // REQUIRES: no process of the container is left.
  virtual Status Cleanup(const ContainerId& container_id) = 0;
};

using IsolatorFactory =
    std::function<Result<std::unique_ptr<Isolator>>(const IsolatorOptions& options)>;

// Isolators by name ("cgroups/mem", "namespaces/pid", ...). Each implementation
// registers itself from its own file with a static RegisterIsolator, so adding
// one touches nothing else.
class IsolatorRegistry {
 public:
  static void Register(const std::string& name, IsolatorFactory factory);
  // An error names the isolator and why it cannot run here, or lists the known names.
  static Result<std::unique_ptr<Isolator>> Create(const std::string& name,
                                                  const IsolatorOptions& options);
  static std::vector<std::string> Names();
};

struct RegisterIsolator {
  RegisterIsolator(const std::string& name, IsolatorFactory factory) {
    IsolatorRegistry::Register(name, std::move(factory));
  }
};

}  // namespace stoa::isolators

// The containerizer: starts each executor in a container made by the isolators
// chosen with --isolation (see isolators/isolator.hpp), watches it, reports how
// it ended (exit status and the limit it reached, if any), and removes every
// trace of it (processes, cgroups, mounts, namespaces, its writable layer).
//
// Launching: the isolators prepare in order; the first process is cloned into
// the namespaces they asked for and waits on a pipe until every isolator has
// isolated it (its pid in their cgroups); it then makes its mounts, sets its
// hostname, brings loopback up and execs the program (isolators/launcher.hpp).
// Processes are tracked in a cgroup of their own (cgroup2, or the v1 freezer)
// so that every one of them can be killed; with posix isolation they are the
// executor's descendants and session, found in /proc. An exited container is
// watched through pidfds. The sandbox is opened once, never through a symlink.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/resources.hpp"
#include "common/status.hpp"
#include "isolators/isolator.hpp"
#include "protocols/messages.hpp"

namespace stoa::agent {

struct ContainerizerOptions {
  std::string work_dir;   // runtime state goes under work_dir/containers
  std::string isolation;  // comma-separated isolator names; empty: DefaultIsolation()
  std::string cgroups_root = "stoa";
  bool cgroups_enable_cfs = false;
  int64_t pids_limit = 1024;
  std::string image_cache_dir;  // empty: work_dir/images
  size_t image_cache_keep = 4;  // unused unpacked images kept, most recently used first
  double container_disk_watch_interval = 15;  // disk/du: seconds between measurements
  bool enforce_container_disk_quota = true;   // disk/du: a sandbox over `disk` ends its container
};

// What to run, and in what container.
struct ContainerConfig {
  ContainerId container_id;
  std::string program;                 // absolute path of the program to exec
  std::vector<std::string> arguments;  // argv[1..]
  // Added to the agent's own environment.
  std::vector<std::pair<std::string, std::string>> environment;
  std::string sandbox;  // the working directory (exists); output goes to executor.log in it
  std::string user;     // the tasks run as this user (STOA_TASK_USER); empty: the agent's
  Resources resources;
  ContainerInfo container;   // root filesystem, volumes, hostname, network
  FrameworkId framework_id;  // for reports only
  ExecutorId executor_id;    // for reports only
};

// How a container ended.
struct ContainerTermination {
  int wait_status = -1;  // as waitpid reports it; -1 when unknown (not our child)
  std::optional<isolators::Limitation> limitation;
  bool destroyed = false;  // Destroy was asked for
  // "exited with status 3", "was killed by signal 9 (Killed)", ...
  std::string Describe() const;
};

using ExitCallback = std::function<void(const ContainerTermination&)>;

struct ContainerUsage {
  ContainerId container_id;
  FrameworkId framework_id;
  ExecutorId executor_id;
  isolators::ResourceStatistics statistics;
};

// A container the agent checkpointed, to re-attach to after a restart.
struct KnownContainer {
  ContainerId container_id;
  pid_t pid = 0;
  FrameworkId framework_id;
  ExecutorId executor_id;
  ExitCallback on_exit;
};

// "exited with status 3" / "was killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

class Containerizer {
 public:
  // cgroups (cpu, mem, pids), the pid, mount, uts and ipc namespaces,
  // filesystem/linux and disk/du when running as root where the cgroup
  // controllers exist; "posix,disk/du" otherwise.
  static std::string DefaultIsolation();

  // Creates every isolator of `options.isolation`; an error names the one that
  // cannot run here and why.
  static Result<std::unique_ptr<Containerizer>> Create(const ContainerizerOptions& options);

  // Stops watching. Running containers keep running: a new containerizer on
  // the same work directory recovers them.
  ~Containerizer();
  Containerizer(const Containerizer&) = delete;
  Containerizer& operator=(const Containerizer&) = delete;

  // The isolators in use, e.g. "cgroups/cpu,cgroups/mem,namespaces/pid".
  const std::string& isolation() const;

  // Whether the container has slow work to do before it can be launched (a
  // root filesystem tarball not unpacked yet). Quick: no unpacking, a stat or two.
  bool NeedsProvisioning(const ContainerConfig& config);

  // Does that slow work (blocks while a tarball is unpacked; several calls
  // may run at once, and one of the same tarball waits for the unpack under
  // way). What it makes is held for the container until it ends, or until
  // Release if it is never launched. An error leaves nothing behind.
  Status Provision(const ContainerConfig& config);

  // Lets go of what Provision made for a container that will not be launched
  // (done on a thread of the containerizer; returns at once).
  void Release(const ContainerId& container_id);

  // Starts `config.program` in a new container and returns its pid once it has
  // exec'd (provisioning it first if Provision was not called). `on_exit` is
  // called (on a thread of the containerizer) once the container ended and was
  // cleaned up. An error leaves nothing behind.
  Result<pid_t> Launch(const ContainerConfig& config, ExitCallback on_exit);

  // Applies new resources (limits) to a running container.
  Status Update(const ContainerId& container_id, const Resources& resources);

  // What a running container uses now.
  Result<isolators::ResourceStatistics> Usage(const ContainerId& container_id);
  std::vector<ContainerUsage> UsageAll();

  // What the running containers use in total (refreshed at most once a second):
  // the summary the agent sends the master with every pong.
  agentmsg::UsageReport UsageSummary();

  // Kills every process of the container; returns at once, `on_exit` follows.
  // False when the container is unknown.
  bool Destroy(const ContainerId& container_id);

  // Blocks until the container ended and was cleaned up (or `timeout_seconds`
  // passed): its termination, if it ended. For tests and benchmarks.
  std::optional<ContainerTermination> Wait(const ContainerId& container_id, double timeout_seconds);

  // After an agent restart: re-attaches to the `known` containers that still
  // run (their `on_exit` is called when they end, at once if they are gone),
  // and destroys every other container this work directory launched.
  Status Recover(const std::vector<KnownContainer>& known);

  // The ids of the containers running now.
  std::vector<ContainerId> containers();

 private:
  struct Impl;
  explicit Containerizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::agent

// The agent: one per node. It registers its resources with the master, runs
// each executor as a process in a sandbox under its work directory, relays
// task status updates reliably (see StatusUpdateManager), and serves /state,
// /health and sandbox files over HTTP.
#pragma once

#include <memory>
#include <string>

#include "common/status.hpp"

namespace caf {
class actor_system;
}

namespace stoa::agent {

struct AgentOptions {
  std::string master;  // HOST:PORT, tcp://..., or inproc://... for in-process clusters
  std::string ip = "127.0.0.1";
  int http_port = 5053;  // 0 picks a free port; executors use ipc:// in the work dir
  std::string work_dir = "/var/lib/stoa/agent";
  std::string resources;  // overrides what is detected, e.g. "cpus:4;mem:8192"
  std::string hostname;   // defaults to the machine's
  // "rack:r1;zone:a": told to frameworks with each offer, for placement constraints.
  std::string attributes;
  std::string executor_path;  // defaults to stoa-executor next to this binary
  double registration_retry_interval = 1.0;
  double status_update_retry_interval = 10.0;       // the first resend; then doubling
  double status_update_max_retry_interval = 600.0;  // up to this (Mesos: 10 s to 10 min)
  double master_timeout = 15.0;  // no word from the master this long: register again
  double executor_shutdown_grace = 5.0;

  // Containers (see isolators/): the isolators by name, comma-separated; empty
  // picks cgroups and namespaces when running as root with cgroups, else posix.
  std::string isolation;
  std::string cgroups_root = "stoa";  // containers' cgroups go under this in each controller
  bool cgroups_enable_cfs = false;    // hard-cap every container's cpu at its `cpus`
  int64_t pids_limit = 1024;          // processes per container (0: no limit)
  std::string default_user;  // tasks without command.user run as this; empty: the agent's user
  // What tasks may ever hold (isolators/capabilities.hpp): "all", "none" or
  // names; the default is Docker's set. Executors keep theirs.
  std::string bounding_capabilities = "default";
  std::string
      image_cache_dir;  // tarball root filesystems are unpacked here; empty: work_dir/images
  // disk/du (see isolators/disk/du.cpp): each sandbox is measured this often,
  // and when enforced, a container whose sandbox outgrows its `disk` ends.
  double container_disk_watch_interval = 15;  // as Mesos
  bool enforce_container_disk_quota = true;   // Mesos: off by default

  // Sandbox garbage collection (see agent/sandbox.hpp): a sandbox is removed
  // gc_delay after its executor ended, sooner as the work directory's disk
  // fills (gc_delay * max(0, 1 - gc_disk_headroom - disk use), as Mesos).
  double gc_delay = 86400;  // 1 day (Mesos: 1 week; batch work makes many sandboxes)
  double gc_disk_headroom = 0.1;
  double disk_watch_interval = 60;  // how often disk use is checked and sandboxes collected
};

// Resources of this machine (cpus, mem, disk, ports), overridden entry by entry
// by `overrides` in the resources text form.
Result<std::string> DetectResources(const std::string& work_dir, const std::string& overrides);

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Start(caf::actor_system& system,
                                              const AgentOptions& options);
  ~Agent();  // stops serving; executors keep running
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  int http_port() const;
  // The agent's /state JSON.
  std::string StateJson() const;

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::agent

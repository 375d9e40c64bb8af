// What `stoa up` and its demo share: starting a child process and where the
// local cluster's parts are.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace stoa::cli {

// Starts args[0] with `args`, no signal blocked, its output appended to
// `log_path` (empty: ours). Returns the child's pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path);
// Waits for a child started by Spawn; returns its exit code (128+signal if killed).
int WaitForChild(pid_t pid);

struct UpCluster {
  std::string self;         // this binary
  std::string ip;           // every daemon listens here
  std::string master;       // HOST:PORT
  std::string service_url;  // http://HOST:PORT of the service framework
  int service_port = 0;
  std::string batch_url;  // http://HOST:PORT of the batch framework
  int batch_port = 0;
  std::string work_dir;   // absolute
  int dns_port = 0;       // `stoa dns` (UDP and TCP)
  int lb_admin_port = 0;  // `stoa lb`'s /v1/backends; 0: no balancer (no haproxy)
};

// The demo: one-off tasks through `stoa execute`, then a small HTTP service
// (two instances with an HTTP health check) through `stoa app deploy`.
// Returns whether the HTTP service was deployed.
bool RunDemo(const UpCluster& cluster);
// The batch demo: a job of 200 short tasks, run once, and a job on a schedule.
void RunBatchDemo(const UpCluster& cluster);
// Removes the demo's HTTP service and jobs, so that stopping the cluster leaves none of it running.
void RemoveDemo(const UpCluster& cluster, bool web_service);

}  // namespace stoa::cli

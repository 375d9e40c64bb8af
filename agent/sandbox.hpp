// The sandbox service: the agent's sandboxes under
// <work_dir>/frameworks/<framework>/executors/<executor>/runs/<container>,
// read over HTTP (/files/read) and garbage-collected once their executor ended.
// Tasks own their sandboxes and may plant symlinks and FIFOs in them, so
// nothing here follows a symlink, leaves a sandbox or blocks on a special file.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/http_server.hpp"
#include "common/ids.hpp"
#include "common/status.hpp"

namespace stoa::agent {

// The directory of one executor run.
std::string SandboxPath(const std::string& work_dir, const FrameworkId& framework_id,
                        const ExecutorId& executor_id, const ContainerId& container_id);

// GET /files/read: a byte range of one file of one sandbox, named either by
// ids (framework_id, executor_id, optional container_id: else the newest run,
// and path relative to the sandbox) or, as before, by an absolute path inside
// a sandbox, which is mapped onto those ids without touching the filesystem.
// The file is opened beneath the sandbox's directory (openat2, no symlinks,
// O_NONBLOCK), must be a regular file, and is read through that descriptor.
class SandboxFiles {
 public:
  explicit SandboxFiles(std::string work_dir);  // REQUIRES: canonical
  HttpResponse Read(const HttpRequest& request) const;

 private:
  std::string frameworks_dir_;
};

struct SandboxGcPolicy {
  double delay = 86400;        // a sandbox goes this long after its executor ended
  double disk_headroom = 0.1;  // sooner as the disk fills: see MaxAge
};

// Which sandboxes to remove, and when. Times are wall-clock seconds passed in
// (tests inject them), so that ages survive agent restarts.
class SandboxGc {
 public:
  SandboxGc(std::string work_dir, SandboxGcPolicy policy);

  // The oldest a sandbox may get, as Mesos computes it:
  // delay * max(0, 1 - disk_headroom - disk_usage), disk_usage in [0, 1].
  double MaxAge(double disk_usage) const;

  // `sandbox` (a path SandboxPath made) is removed once MaxAge has passed
  // since `ended_at`. Anything else is refused.
  Status Schedule(const std::string& sandbox, double ended_at);
  // Schedules every sandbox on disk that is not in `live` and not scheduled
  // (those of executors that ended before an agent restart), aged from its
  // last modification.
  void ScheduleLeftovers(const std::set<std::string>& live);
  // A sandbox that cannot be removed is tried again at each later Collect,
  // this many times in all, then left in place.
  static constexpr int kRemovalAttempts = 5;

  struct Collection {
    std::vector<std::string> removed;
    // What could not be removed, and why (tried again next time)...
    std::vector<std::pair<std::string, std::string>> failed;
    // ...and of those, the ones given up on after kRemovalAttempts.
    std::vector<std::string> given_up;
  };
  // Removes, oldest first, every scheduled sandbox older than MaxAge at `now`,
  // except any in `live`. Never follows a symlink.
  Collection Collect(double now, double disk_usage, const std::set<std::string>& live);
  size_t scheduled() const { return by_path_.size(); }

  // The fraction of the work directory's filesystem in use, in [0, 1].
  static double DiskUsage(const std::string& path);

 private:
  Status Remove(const std::string& sandbox);

  std::string work_dir_;
  std::string frameworks_dir_;
  SandboxGcPolicy policy_;
  std::map<std::string, double> by_path_;       // sandbox -> ended_at
  std::multimap<double, std::string> by_time_;  // ended_at -> sandbox
  std::map<std::string, int> failures_;         // sandbox -> failed removals so far
};

}  // namespace stoa::agent

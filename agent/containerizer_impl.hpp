// Inside the containerizer: its state and the parts of it, each in its own
// file: containerizer.cpp (the interface, usage, kill and cleanup),
// container_launch.cpp (prepare, clone through the launcher, isolate),
// container_monitor.cpp (the monitor and cleaner threads: exits, limitations,
// cleanup), container_recovery.cpp (re-attaching after an agent restart).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/containerizer.hpp"
#include "common/logging.hpp"
#include "common/safe_fs.hpp"
#include "isolators/cgroups/cgroups.hpp"

namespace stoa::agent {

using isolators::Isolator;
using isolators::Limitation;

int PidfdOpen(pid_t pid);
int PidfdSignal(int pidfd, int signal);
// The process's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat): with the pid, it names one process across pid reuse.
uint64_t StartTime(pid_t pid);
// waitid(P_PIDFD): reaps the process; its wait status, or -1.
int WaitPidfd(int pidfd);
// The container as the isolators see it.
isolators::ContainerConfig IsolatorConfig(const ContainerConfig& config);
// An error unless `id` can name a directory of its own.
Status CheckContainerId(const ContainerId& id);

struct Containerizer::Impl {
  struct Ended {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<ContainerTermination> termination;
  };

  struct Container {
    ContainerConfig config;
    pid_t pid = 0;
    int pidfd = -1;
    bool pid_namespace = false;
    bool running = true;  // false once the first process exited
    bool destroying = false;
    int wait_status = -1;
    std::optional<Limitation> limitation;
    ExitCallback on_exit;
    std::vector<std::pair<size_t, isolators::WatchFd>> watches;  // isolator index, fd
    std::shared_ptr<Ended> ended = std::make_shared<Ended>();
  };

  ContainerizerOptions options;
  std::string isolation;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Isolator>> isolators;
  std::optional<isolators::cgroups::Hierarchy> tracking;  // where every process is tracked
  std::string runtime_dir;                                // work_dir/containers
  std::shared_ptr<spdlog::logger> log = Logger("containerizer");

  std::mutex mutex;
  std::map<ContainerId, Container> containers;
  std::map<ContainerId, std::shared_ptr<Ended>> ended;
  std::deque<ContainerId> ended_order;
  std::deque<ContainerId> to_clean;
  std::deque<ContainerId> to_kill;     // posix containers whose process trees the cleaner kills
  std::deque<ContainerId> to_release;  // provisioned, never launched: the cleaner cleans up
  std::condition_variable clean_wakeup;
  bool stopping = false;
  agentmsg::UsageReport summary;  // cached by UsageSummary
  double summary_time = -1e9;
  int wake_fd = -1;
  std::thread monitor;
  std::thread cleaner;

  ~Impl();

  void Wake();
  std::string TrackingPath(const ContainerId& id) const {
    return isolators::cgroups::ContainerPath(*tracking, options.cgroups_root, id);
  }
  std::string RuntimePath(const ContainerId& id) const { return runtime_dir + "/" + id; }
  // Without a pid namespace or a tracking cgroup (posix), the container's
  // processes are found through /proc.
  bool Untracked(const Container& container) const { return !container.pid_namespace && !tracking; }

  // The container's record: "pid start_time pid_namespace", written once it runs.
  void WriteRecord(const ContainerId& id, pid_t pid, bool pid_namespace);
  // Kills what is running of a container without waiting. REQUIRES: mutex held.
  void KillProcesses(const ContainerId& id, const Container& container);
  // Undoes what Prepare and the launch made, in reverse order. REQUIRES: no
  // process of the container is left.
  void CleanupResources(const ContainerId& id, size_t prepared);

  // The monitor thread: polls pidfds and the isolators' watch descriptors.
  void Monitor();
  void OnWatchReady(const ContainerId& id, size_t index);
  void OnExited(const ContainerId& id);
  // The cleaner thread: kills posix process trees, cleans up ended containers.
  void Cleaner();
  void KillTree(const ContainerId& id);
  // The first process is gone: make sure nothing of the container is left,
  // clean up and report.
  void Finish(const ContainerId& id);

  Status Provision(const ContainerConfig& config);
  Result<pid_t> Launch(const ContainerConfig& config, ExitCallback on_exit);
  Status Recover(const std::vector<KnownContainer>& known);
};

}  // namespace stoa::agent

// After an agent restart: the containers this work directory launched are
// re-attached to when the agent knows them and they still run, and destroyed
// otherwise.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "agent/containerizer_impl.hpp"
#include "isolators/process_tree.hpp"

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;

}  // namespace

Status Containerizer::Impl::Recover(const std::vector<KnownContainer>& known) {
  std::map<ContainerId, const KnownContainer*> wanted;
  for (const auto& k : known) wanted[k.container_id] = &k;
  std::vector<isolators::ContainerState> alive;
  std::vector<ContainerId> orphans;
  std::vector<const KnownContainer*> gone;
  std::error_code error;
  std::set<ContainerId> recorded;
  for (const auto& entry : fs::directory_iterator(runtime_dir, error)) {
    ContainerId id = entry.path().filename().string();
    recorded.insert(id);
    pid_t pid = 0;
    uint64_t start = 0;
    int pid_namespace = 0;
    std::ifstream in(entry.path() / "pid");
    in >> pid >> start >> pid_namespace;
    auto it = wanted.find(id);
    int pidfd = pid > 0 ? PidfdOpen(pid) : -1;
    bool same_process = pidfd >= 0 && start != 0 && StartTime(pid) == start;
    if (it != wanted.end() && same_process) {
      if (it->second->pid != 0 && it->second->pid != pid) {
        log->warn("container={}: the agent knows it as pid {}, its record says pid {}", id,
                  it->second->pid, pid);
      }
      std::lock_guard<std::mutex> lock(mutex);
      Container& container = containers[id];
      container.config.container_id = id;
      container.config.framework_id = it->second->framework_id;
      container.config.executor_id = it->second->executor_id;
      container.pid = pid;
      container.pidfd = pidfd;
      container.pid_namespace = pid_namespace != 0;
      container.on_exit = it->second->on_exit;
      alive.push_back({id, pid});
      continue;
    }
    // Not known, or its process is gone: an orphan, killed and cleaned up.
    if (same_process) {
      if (pid_namespace == 0 && !tracking) {
        isolators::KillProcessTree(pid, pidfd);  // posix: its session and descendants
      } else {
        PidfdSignal(pidfd, SIGKILL);
      }
    }
    if (pidfd >= 0) close(pidfd);
    if (tracking) {
      if (Status s = isolators::cgroups::KillAll(*tracking, TrackingPath(id)); !s.ok()) {
        return Status::Error("cannot kill the processes of orphan container " + id + ": " +
                             s.message());
      }
    }
    orphans.push_back(id);
    if (it != wanted.end()) gone.push_back(it->second);
  }
  for (const auto& k : known) {
    if (recorded.count(k.container_id) == 0) gone.push_back(&k);
  }
  for (size_t i = 0; i < isolators.size(); ++i) {
    if (Status s = isolators[i]->Recover(alive, orphans); !s.ok()) {
      return Status::Error(names[i] + ": recovery failed: " + s.message());
    }
  }
  for (const auto& id : orphans) {
    if (tracking) isolators::cgroups::Remove(TrackingPath(id));
    fs::remove_all(RuntimePath(id), error);
    log->info("container={}: destroyed (not among the containers the agent recovered)", id);
  }
  if (tracking) {
    std::set<std::string> keep;
    for (const auto& state : alive) keep.insert(state.container_id);
    for (const auto& id : isolators::cgroups::RemoveStale(*tracking, options.cgroups_root, keep)) {
      log->info("container={}: removed its empty cgroups, left behind by an agent that is gone",
                id);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& state : alive) {
      Container& container = containers.at(state.container_id);
      for (size_t i = 0; i < isolators.size(); ++i) {
        if (auto watch = isolators[i]->Watch(state.container_id)) {
          container.watches.emplace_back(i, *watch);
        }
      }
      log->info("container={}: recovered (pid {})", state.container_id, state.pid);
    }
  }
  Wake();
  for (const KnownContainer* k : gone) {
    log->info("container={}: gone while the agent was away", k->container_id);
    if (k->on_exit) k->on_exit(ContainerTermination{});
  }
  return Status::Ok();
}

}  // namespace stoa::agent

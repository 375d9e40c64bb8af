// The containerizer's monitor thread (exits through pidfds, limitations
// through the isolators' watch descriptors) and its cleaner thread (posix
// process trees, cleanup and the exit callbacks, provisioned containers that
// were never launched).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/containerizer_impl.hpp"
#include "isolators/process_tree.hpp"

namespace stoa::agent {
namespace {

constexpr size_t kMaxEndedContainers = 1000;

}  // namespace

void Containerizer::Impl::Monitor() {
  std::vector<pollfd> fds;
  // What each polled descriptor is: (container, -1 for its pidfd or the isolator index).
  std::vector<std::pair<ContainerId, long>> owners;
  while (true) {
    fds.clear();
    owners.clear();
    fds.push_back({wake_fd, POLLIN, 0});
    owners.emplace_back("", -2);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) return;
      for (const auto& [id, container] : containers) {
        if (!container.running) continue;
        fds.push_back({container.pidfd, POLLIN, 0});
        owners.emplace_back(id, -1);
        for (const auto& [index, watch] : container.watches) {
          fds.push_back({watch.fd, watch.events, 0});
          owners.emplace_back(id, static_cast<long>(index));
        }
      }
    }
    int ready = poll(fds.data(), fds.size(), -1);
    if (ready < 0 && errno != EINTR) {
      log->error("poll failed: {}; containers are no longer watched", ErrnoText(errno));
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = read(wake_fd, &count, sizeof(count));
      (void)ignored;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const auto& [id, what] = owners[i];
      if (what == -1) {
        OnExited(id);
      } else {
        OnWatchReady(id, static_cast<size_t>(what));
      }
    }
  }
}

void Containerizer::Impl::OnWatchReady(const ContainerId& id, size_t index) {
  std::optional<Limitation> limitation = isolators[index]->CheckLimitation(id);
  if (!limitation) return;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = containers.find(id);
  if (it == containers.end() || it->second.limitation) return;
  log->info("container={}: {}; destroying it", id, limitation->message);
  it->second.limitation = limitation;
  it->second.destroying = true;
  KillProcesses(id, it->second);
}

void Containerizer::Impl::OnExited(const ContainerId& id) {
  int pidfd = -1;
  pid_t pid = 0;
  bool untracked = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = containers.find(id);
    if (it == containers.end() || !it->second.running) return;
    pidfd = it->second.pidfd;
    pid = it->second.pid;
    untracked = Untracked(it->second);
  }
  // posix: what is left of its session goes before the executor is reaped,
  // while its pid, and so the session's id, cannot be reused.
  if (untracked) {
    int killed = isolators::KillProcessTree(pid, pidfd);
    if (killed > 0) log->debug("container={}: killed {} process(es) it left behind", id, killed);
  }
  int wait_status = WaitPidfd(pidfd);
  // The limit it reached, if none was reported yet (e.g. a v2 OOM group kill).
  std::optional<Limitation> limitation;
  for (size_t i = 0; i < isolators.size() && !limitation; ++i) {
    limitation = isolators[i]->CheckLimitation(id);
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    Container& container = containers.at(id);
    container.running = false;
    container.wait_status = wait_status;
    if (!container.limitation) container.limitation = limitation;
    close(container.pidfd);
    container.pidfd = -1;
    to_clean.push_back(id);
  }
  clean_wakeup.notify_all();
}

void Containerizer::Impl::Cleaner() {
  while (true) {
    ContainerId id;
    enum { kKillTree, kRelease, kFinish } job;
    {
      std::unique_lock<std::mutex> lock(mutex);
      clean_wakeup.wait(lock, [&] {
        return stopping || !to_kill.empty() || !to_release.empty() || !to_clean.empty();
      });
      if (stopping) return;
      job = !to_kill.empty() ? kKillTree : !to_release.empty() ? kRelease : kFinish;
      std::deque<ContainerId>& queue = job == kKillTree  ? to_kill
                                       : job == kRelease ? to_release
                                                         : to_clean;
      id = queue.front();
      queue.pop_front();
      if (job == kRelease && containers.count(id) > 0) continue;  // launched after all: not ours
    }
    if (job == kKillTree) {
      KillTree(id);
    } else if (job == kRelease) {
      CleanupResources(id, isolators.size());
    } else {
      Finish(id);
    }
  }
}

void Containerizer::Impl::KillTree(const ContainerId& id) {
  pid_t pid = 0;
  UniqueFd pidfd;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = containers.find(id);
    if (it == containers.end() || !it->second.running || it->second.pidfd < 0) return;
    pid = it->second.pid;
    // Our own copy: the monitor closes the container's once it has exited.
    pidfd = UniqueFd(fcntl(it->second.pidfd, F_DUPFD_CLOEXEC, 3));
  }
  if (!pidfd.valid()) return;
  int killed = isolators::KillProcessTree(pid, pidfd.get());
  log->info("container={}: killed the executor and {} other process(es)", id, killed);
}

// The first process is gone: make sure nothing of the container is left,

void Containerizer::Impl::Finish(const ContainerId& id) {
  if (tracking) {
    if (Status s = isolators::cgroups::KillAll(*tracking, TrackingPath(id)); !s.ok()) {
      log->error("container={}: {}", id, s.message());
    }
  }
  CleanupResources(id, isolators.size());
  ContainerTermination termination;
  ExitCallback on_exit;
  std::shared_ptr<Ended> done;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = containers.find(id);
    if (it == containers.end()) return;
    termination.wait_status = it->second.wait_status;
    termination.limitation = it->second.limitation;
    termination.destroyed = it->second.destroying;
    on_exit = std::move(it->second.on_exit);
    done = it->second.ended;
    containers.erase(it);
    ended[id] = done;
    ended_order.push_back(id);
    if (ended_order.size() > kMaxEndedContainers) {
      ended.erase(ended_order.front());
      ended_order.pop_front();
    }
  }
  log->info("container={} {}", id, termination.Describe());
  {
    std::lock_guard<std::mutex> lock(done->mutex);
    done->termination = termination;
  }
  done->done.notify_all();
  if (on_exit) on_exit(termination);
}

}  // namespace stoa::agent

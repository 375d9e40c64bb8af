// FrameworkBook: the frameworks this master knows, by id and by the peer
// (connection) their scheduler speaks from, each with its tasks, plus a
// bounded history of removed frameworks and the ids that may never return.
// A plain class: no actor, no transport, no clock of its own.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

// kConnected: its scheduler is subscribed and offers flow to it.
// kDisconnected: its scheduler went away; the failover timeout runs.
// kRecovered: learned of without its scheduler (registry, an agent's report);
//   waiting for the scheduler to resubscribe.
// kRemoved: torn down; only in the history of completed frameworks.
enum class FrameworkState { kConnected, kDisconnected, kRecovered, kRemoved };

const char* ToString(FrameworkState state);
// Whether a framework may move from `from` to `to`: any state but kRemoved
// may (re)connect or be removed; only a connected one disconnects; nothing
// leaves kRemoved.
bool IsValidFrameworkTransition(FrameworkState from, FrameworkState to);

// The completed tasks of a framework, oldest first, at most `capacity`, with
// an index so that looking one up by id does not scan them. A completed task
// never changes, so it is held by a shared pointer: a snapshot for /state
// shares the history instead of copying it.
class CompletedTasks {
 public:
  explicit CompletedTasks(size_t capacity = 1000) : capacity_(capacity) {}

  // Appends `task`, dropping the oldest beyond the capacity.
  void Add(Task task);
  // The most recent completed task with `id`, or null.
  const Task* Find(const TaskId& id) const;
  const std::deque<std::shared_ptr<const Task>>& tasks() const { return tasks_; }
  size_t size() const { return tasks_.size(); }

 private:
  size_t capacity_;
  std::deque<std::shared_ptr<const Task>> tasks_;
  uint64_t first_ = 0;                           // sequence number of tasks_.front()
  std::unordered_map<TaskId, uint64_t> latest_;  // id -> sequence number of its latest entry
};

struct Framework {
  FrameworkInfo info;
  FrameworkState state = FrameworkState::kRecovered;
  std::string peer;              // the scheduler's connection while kConnected
  double last_seen = 0;          // monotonic, last call or keepalive
  double registered_time = 0;    // wall clock
  double disconnected_time = 0;  // wall clock
  // Bumped on every (re)connection so that a pending failover timer that was
  // armed before it is recognised as stale.
  uint64_t failover_generation = 0;
  // Tasks not yet terminal-and-acknowledged, by id: also the index of the ids
  // in use that ACCEPT checks.
  std::map<TaskId, Task> tasks;
  CompletedTasks completed_tasks;

  bool connected() const { return state == FrameworkState::kConnected; }
  // Whether offers may go to it (today the same as connected).
  bool active() const { return state == FrameworkState::kConnected; }
  Task* FindTask(const TaskId& id);
};

class FrameworkBook {
 public:
  FrameworkBook(size_t max_completed_frameworks, size_t max_completed_tasks_per_framework);

  Framework* Find(const FrameworkId& id);
  const Framework* Find(const FrameworkId& id) const;
  // The framework whose scheduler is connected from `peer`, or null.
  Framework* FindByPeer(const std::string& peer);

  // Adds a framework that waits for its scheduler (kRecovered), with "*" as
  // its role when it names none. REQUIRES: Find(info.id) == nullptr and
  // !WasRemoved(info.id).
  Framework& AddRecovered(FrameworkInfo info, double wall_now);
  // Adds a framework and connects it from `peer`. REQUIRES: as AddRecovered.
  Framework& AddConnected(const FrameworkInfo& info, const std::string& peer, double now,
                          double wall_now);

  // (Re)connects `framework` from `peer` with `info`: any previous peer is
  // forgotten and the failover generation bumped. Refused from kRemoved.
  Status Connect(Framework& framework, const FrameworkInfo& info, const std::string& peer,
                 double now);
  // The scheduler went away: kConnected -> kDisconnected. Refused otherwise.
  Status Disconnect(Framework& framework, double wall_now);
  // Removes the framework: it moves to the completed history (bounded) and
  // its id is never accepted again. Returns false when it is not known.
  bool Remove(const FrameworkId& id);

  // Moves the task `it` of `framework` to its completed tasks.
  void CompleteTask(Framework& framework, std::map<TaskId, Task>::iterator it);

  // Ids torn down for good (also those the registry remembers).
  bool WasRemoved(const FrameworkId& id) const { return removed_ids_.count(id) > 0; }
  void AddRemovedId(const FrameworkId& id) { removed_ids_.insert(id); }

  std::map<FrameworkId, Framework>& all() { return frameworks_; }
  const std::map<FrameworkId, Framework>& all() const { return frameworks_; }
  const std::deque<Framework>& completed() const { return completed_; }

 private:
  Status Move(Framework& framework, FrameworkState to);

  size_t max_completed_frameworks_;
  size_t max_completed_tasks_;
  std::map<FrameworkId, Framework> frameworks_;
  std::map<std::string, FrameworkId> peers_;
  std::set<FrameworkId> removed_ids_;
  std::deque<Framework> completed_;
};

}  // namespace stoa::master

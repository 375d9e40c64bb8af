// Keeps each task's status updates in order until the framework acknowledges
// them: one stream per task, only the head of a stream is in flight, the next
// is released by the head's acknowledgement, duplicates (same uuid) are
// dropped. The agent resends every stream head until it is acknowledged.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "protocols/messages.hpp"

namespace stoa::agent {

class StatusUpdateManager {
 public:
  enum class AddResult {
    kDuplicate,  // already queued or acknowledged: dropped
    kQueued,     // new, behind an unacknowledged update of the same task
    kSendNow,    // new and the head of its stream: send it
  };
  // Queues `status` (which must carry a uuid).
  AddResult Add(const FrameworkId& framework_id, const TaskStatus& status);

  // Pops the head of the stream when `uuid` matches it and returns the new
  // head, if any, to send next. A stale or unknown acknowledgement changes nothing.
  std::optional<agentmsg::StatusUpdate> Acknowledge(const FrameworkId& framework_id,
                                                    const TaskId& task_id, const std::string& uuid);

  // The head of every stream, in a stable order: what to (re)send.
  std::vector<agentmsg::StatusUpdate> Heads() const;
  // Every unacknowledged update of one task, oldest first.
  std::vector<TaskStatus> Pending(const FrameworkId& framework_id, const TaskId& task_id) const;
  // Drops every stream of a framework (it was removed).
  void RemoveFramework(const FrameworkId& framework_id);
  // True when a task has no unacknowledged update.
  bool Drained(const FrameworkId& framework_id, const TaskId& task_id) const;
  size_t PendingCount() const;

 private:
  struct Stream {
    std::deque<TaskStatus> pending;
    std::set<std::string> seen;  // uuids queued or acknowledged
  };
  std::map<std::pair<FrameworkId, TaskId>, Stream> streams_;
};

}  // namespace stoa::agent

// Keeps each task's status updates in order until the framework acknowledges
// them: one stream per task, only the head of a stream is in flight, the next
// is released by the head's acknowledgement, duplicates (same uuid) are
// dropped. A head is resent until it is acknowledged, with exponential
// backoff (Mesos: 10 s doubling up to 10 min). Times are passed in (seconds
// on any monotonic clock), so that tests drive them.
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

struct StatusUpdateRetryPolicy {
  double initial_interval = 10;  // the first resend, this long after the send
  double max_interval = 600;     // each later wait doubles, up to this
};

class StatusUpdateManager {
 public:
  enum class AddResult {
    kDuplicate,  // already queued or recently acknowledged: dropped
    kQueued,     // new, behind an unacknowledged update of the same task
    kSendNow,    // new and the head of its stream: send it
  };
  // How many acknowledged uuids a stream remembers to recognise late resends.
  static constexpr size_t kRememberedAcknowledgements = 32;

  explicit StatusUpdateManager(StatusUpdateRetryPolicy policy = {}) : policy_(policy) {}

  // Queues `status` (which must carry a uuid). When it becomes the head, its
  // first resend is due at `now` + the initial interval.
  AddResult Add(const FrameworkId& framework_id, const TaskStatus& status, double now = 0);

  // Pops the head of the stream when `uuid` matches it and returns the new
  // head, if any, to send next. A stale or unknown acknowledgement changes nothing.
  std::optional<agentmsg::StatusUpdate> Acknowledge(const FrameworkId& framework_id,
                                                    const TaskId& task_id, const std::string& uuid,
                                                    double now = 0);

  // The heads whose resend is due at `now`; each one's next resend waits
  // twice as long as the last (capped).
  std::vector<agentmsg::StatusUpdate> Due(double now);
  // The head of every stream, in a stable order: what to send after (re)registering.
  std::vector<agentmsg::StatusUpdate> Heads() const;
  // Every unacknowledged update of one task, oldest first.
  std::vector<TaskStatus> Pending(const FrameworkId& framework_id, const TaskId& task_id) const;
  // Drops every stream of a framework (it was removed).
  void RemoveFramework(const FrameworkId& framework_id);
  // True when a task has no unacknowledged update.
  bool Drained(const FrameworkId& framework_id, const TaskId& task_id) const;
  size_t PendingCount() const;
  // The uuids one stream remembers (pending and recently acknowledged); bounded.
  size_t RememberedUuids(const FrameworkId& framework_id, const TaskId& task_id) const;

 private:
  struct Stream {
    std::deque<TaskStatus> pending;
    std::deque<std::string> acknowledged;  // the last few, oldest first
    double next_resend = 0;
    double interval = 0;
    bool Seen(const std::string& uuid) const;
  };
  void Arm(Stream& stream, double now) const;

  StatusUpdateRetryPolicy policy_;
  std::map<std::pair<FrameworkId, TaskId>, Stream> streams_;
};

}  // namespace stoa::agent

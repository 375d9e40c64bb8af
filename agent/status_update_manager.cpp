#include "agent/status_update_manager.hpp"

#include <algorithm>

namespace stoa::agent {

bool StatusUpdateManager::Stream::Seen(const std::string& uuid) const {
  auto same = [&](const auto& item) { return item == uuid; };
  return std::any_of(pending.begin(), pending.end(),
                     [&](const TaskStatus& status) { return status.uuid == uuid; }) ||
         std::any_of(acknowledged.begin(), acknowledged.end(), same);
}

void StatusUpdateManager::Arm(Stream& stream, double now) const {
  stream.interval = policy_.initial_interval;
  stream.next_resend = now + stream.interval;
}

StatusUpdateManager::AddResult StatusUpdateManager::Add(const FrameworkId& framework_id,
                                                        const TaskStatus& status, double now) {
  Stream& stream = streams_[{framework_id, status.task_id}];
  if (stream.Seen(status.uuid)) return AddResult::kDuplicate;
  stream.pending.push_back(status);
  if (stream.pending.size() > 1) return AddResult::kQueued;
  Arm(stream, now);
  return AddResult::kSendNow;
}

std::optional<agentmsg::StatusUpdate> StatusUpdateManager::Acknowledge(
    const FrameworkId& framework_id, const TaskId& task_id, const std::string& uuid, double now) {
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end() || it->second.pending.empty() ||
      it->second.pending.front().uuid != uuid) {
    return std::nullopt;
  }
  Stream& stream = it->second;
  bool terminal = IsTerminal(stream.pending.front().state);
  stream.pending.pop_front();
  if (stream.pending.empty() && terminal) {
    streams_.erase(it);  // a terminal update acknowledged ends the stream
    return std::nullopt;
  }
  // Earlier ones keep a short memory of uuids so that a late duplicate is
  // still recognised, without growing for the life of the task.
  stream.acknowledged.push_back(uuid);
  if (stream.acknowledged.size() > kRememberedAcknowledgements) stream.acknowledged.pop_front();
  if (stream.pending.empty()) return std::nullopt;
  Arm(stream, now);
  return agentmsg::StatusUpdate{framework_id, stream.pending.front()};
}

std::vector<agentmsg::StatusUpdate> StatusUpdateManager::Due(double now) {
  std::vector<agentmsg::StatusUpdate> due;
  for (auto& [key, stream] : streams_) {
    if (stream.pending.empty() || stream.next_resend > now) continue;
    due.push_back({key.first, stream.pending.front()});
    stream.interval = std::min(stream.interval * 2, policy_.max_interval);
    stream.next_resend = now + stream.interval;
  }
  return due;
}

std::vector<agentmsg::StatusUpdate> StatusUpdateManager::Heads() const {
  std::vector<agentmsg::StatusUpdate> heads;
  for (const auto& [key, stream] : streams_) {
    if (!stream.pending.empty()) heads.push_back({key.first, stream.pending.front()});
  }
  return heads;
}

std::vector<TaskStatus> StatusUpdateManager::Pending(const FrameworkId& framework_id,
                                                     const TaskId& task_id) const {
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end()) return {};
  return {it->second.pending.begin(), it->second.pending.end()};
}

void StatusUpdateManager::RemoveFramework(const FrameworkId& framework_id) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    it = it->first.first == framework_id ? streams_.erase(it) : std::next(it);
  }
}

bool StatusUpdateManager::Drained(const FrameworkId& framework_id, const TaskId& task_id) const {
  auto it = streams_.find({framework_id, task_id});
  return it == streams_.end() || it->second.pending.empty();
}

size_t StatusUpdateManager::PendingCount() const {
  size_t count = 0;
  for (const auto& [key, stream] : streams_) count += stream.pending.size();
  return count;
}

size_t StatusUpdateManager::RememberedUuids(const FrameworkId& framework_id,
                                            const TaskId& task_id) const {
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end()) return 0;
  return it->second.pending.size() + it->second.acknowledged.size();
}

}  // namespace stoa::agent

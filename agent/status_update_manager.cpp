#include "agent/status_update_manager.hpp"

namespace stoa::agent {

StatusUpdateManager::AddResult StatusUpdateManager::Add(const FrameworkId& framework_id,
                                                        const TaskStatus& status) {
  Stream& stream = streams_[{framework_id, status.task_id}];
  if (!stream.seen.insert(status.uuid).second) return AddResult::kDuplicate;
  stream.pending.push_back(status);
  return stream.pending.size() == 1 ? AddResult::kSendNow : AddResult::kQueued;
}

std::optional<agentmsg::StatusUpdate> StatusUpdateManager::Acknowledge(
    const FrameworkId& framework_id, const TaskId& task_id, const std::string& uuid) {
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end() || it->second.pending.empty() ||
      it->second.pending.front().uuid != uuid) {
    return std::nullopt;
  }
  Stream& stream = it->second;
  bool terminal = IsTerminal(stream.pending.front().state);
  stream.pending.pop_front();
  if (stream.pending.empty()) {
    // A terminal update acknowledged ends the stream; earlier ones keep the
    // uuid set so that a late duplicate is still recognised.
    if (terminal) streams_.erase(it);
    return std::nullopt;
  }
  return agentmsg::StatusUpdate{framework_id, stream.pending.front()};
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

}  // namespace stoa::agent

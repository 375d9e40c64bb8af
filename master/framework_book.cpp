#include "master/framework_book.hpp"

namespace stoa::master {

const char* ToString(FrameworkState state) {
  switch (state) {
    case FrameworkState::kConnected:
      return "CONNECTED";
    case FrameworkState::kDisconnected:
      return "DISCONNECTED";
    case FrameworkState::kRecovered:
      return "RECOVERED";
    case FrameworkState::kRemoved:
      return "REMOVED";
  }
  return "UNKNOWN";
}

bool IsValidFrameworkTransition(FrameworkState from, FrameworkState to) {
  if (from == FrameworkState::kRemoved) return false;
  switch (to) {
    case FrameworkState::kConnected:
    case FrameworkState::kRemoved:
      return true;
    case FrameworkState::kDisconnected:
      return from == FrameworkState::kConnected;
    case FrameworkState::kRecovered:
      return false;  // only where a framework starts
  }
  return false;
}

void CompletedTasks::Add(Task task) {
  TaskId id = task.info.task_id;
  tasks_.push_back(std::make_shared<const Task>(std::move(task)));
  latest_[id] = first_ + tasks_.size() - 1;
  while (tasks_.size() > capacity_) {
    auto it = latest_.find(tasks_.front()->info.task_id);
    if (it != latest_.end() && it->second == first_) latest_.erase(it);
    tasks_.pop_front();
    ++first_;
  }
}

const Task* CompletedTasks::Find(const TaskId& id) const {
  auto it = latest_.find(id);
  return it == latest_.end() ? nullptr : tasks_[it->second - first_].get();
}

Task* Framework::FindTask(const TaskId& id) {
  auto it = tasks.find(id);
  return it == tasks.end() ? nullptr : &it->second;
}

FrameworkBook::FrameworkBook(size_t max_completed_frameworks,
                             size_t max_completed_tasks_per_framework)
    : max_completed_frameworks_(max_completed_frameworks),
      max_completed_tasks_(max_completed_tasks_per_framework) {}

Framework* FrameworkBook::Find(const FrameworkId& id) {
  auto it = frameworks_.find(id);
  return it == frameworks_.end() ? nullptr : &it->second;
}

const Framework* FrameworkBook::Find(const FrameworkId& id) const {
  auto it = frameworks_.find(id);
  return it == frameworks_.end() ? nullptr : &it->second;
}

Framework* FrameworkBook::FindByPeer(const std::string& peer) {
  auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : Find(it->second);
}

Framework& FrameworkBook::AddRecovered(FrameworkInfo info, double wall_now) {
  if (info.roles.empty()) info.roles.push_back("*");
  Framework& framework = frameworks_[info.id];
  framework.info = std::move(info);
  framework.state = FrameworkState::kRecovered;
  framework.registered_time = wall_now;
  framework.disconnected_time = wall_now;
  framework.completed_tasks = CompletedTasks(max_completed_tasks_);
  return framework;
}

Framework& FrameworkBook::AddConnected(const FrameworkInfo& info, const std::string& peer,
                                       double now, double wall_now) {
  Framework& framework = AddRecovered(info, wall_now);
  Connect(framework, info, peer, now);
  return framework;
}

Status FrameworkBook::Move(Framework& framework, FrameworkState to) {
  if (!IsValidFrameworkTransition(framework.state, to)) {
    return Status::Error("framework '" + framework.info.id + "' cannot go from " +
                         ToString(framework.state) + " to " + ToString(to));
  }
  framework.state = to;
  return Status::Ok();
}

Status FrameworkBook::Connect(Framework& framework, const FrameworkInfo& info,
                              const std::string& peer, double now) {
  if (Status s = Move(framework, FrameworkState::kConnected); !s.ok()) return s;
  if (!framework.peer.empty()) {
    auto it = peers_.find(framework.peer);
    if (it != peers_.end() && it->second == framework.info.id) peers_.erase(it);
  }
  framework.info = info;
  framework.peer = peer;
  framework.last_seen = now;
  ++framework.failover_generation;  // cancels a pending failover timeout
  peers_[peer] = info.id;
  return Status::Ok();
}

Status FrameworkBook::Disconnect(Framework& framework, double wall_now) {
  if (Status s = Move(framework, FrameworkState::kDisconnected); !s.ok()) return s;
  framework.disconnected_time = wall_now;
  peers_.erase(framework.peer);
  return Status::Ok();
}

bool FrameworkBook::Remove(const FrameworkId& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return false;
  Framework& framework = it->second;
  if (framework.connected()) peers_.erase(framework.peer);
  Move(framework, FrameworkState::kRemoved);
  removed_ids_.insert(id);
  completed_.push_back(std::move(framework));
  while (completed_.size() > max_completed_frameworks_) completed_.pop_front();
  frameworks_.erase(it);
  return true;
}

void FrameworkBook::CompleteTask(Framework& framework, std::map<TaskId, Task>::iterator it) {
  framework.completed_tasks.Add(std::move(it->second));
  framework.tasks.erase(it);
}

}  // namespace stoa::master

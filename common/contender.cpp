#include "common/contender.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace stoa {

struct LeaderContender::Signal {
  std::mutex mutex;
  std::condition_variable changed;
  bool dirty = true;
  void Notify() {
    std::lock_guard<std::mutex> lock(mutex);
    dirty = true;
    changed.notify_all();
  }
};

Result<std::unique_ptr<LeaderContender>> LeaderContender::Join(ZooKeeper* zookeeper,
                                                               const std::string& members_path,
                                                               const std::string& data) {
  std::unique_ptr<LeaderContender> contender(new LeaderContender());
  contender->zookeeper_ = zookeeper;
  contender->members_ = members_path;
  contender->signal_ = std::make_shared<Signal>();
  if (Status s = zookeeper->CreatePath(contender->members_); !s.ok()) return s;
  auto created = zookeeper->Create(contender->members_ + "/member_", data, true, true);
  if (!created.ok()) return created.status();
  contender->znode_ = *created;
  return contender;
}

LeaderContender::~LeaderContender() = default;

bool LeaderContender::Leading() {
  std::shared_ptr<Signal> signal = signal_;
  auto children = zookeeper_->Children(members_, [signal] { signal->Notify(); });
  if (!children.ok()) return false;
  std::vector<std::string> names;
  for (const auto& name : *children) {
    if (name.rfind("member_", 0) == 0) names.push_back(name);
  }
  if (names.empty()) return false;
  std::sort(names.begin(), names.end());
  return members_ + "/" + names.front() == znode_;
}

bool LeaderContender::WaitUntilLeading(const std::function<bool()>& give_up) {
  while (!zookeeper_->expired() && !give_up()) {
    {
      std::unique_lock<std::mutex> lock(signal_->mutex);
      signal_->changed.wait_for(lock, std::chrono::milliseconds(250),
                                [&] { return signal_->dirty; });
      if (!signal_->dirty) continue;
      signal_->dirty = false;
    }
    if (Leading()) return true;
  }
  return false;
}

}  // namespace stoa

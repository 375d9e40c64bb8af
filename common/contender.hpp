// Leader election on ZooKeeper: each contender joins a group with an ephemeral
// sequential znode `member_<seq>` under a members directory, holding what it
// wants others to know of it; the lowest sequence leads. A contender whose
// session ends loses its znode and so its lead. Masters contend under
// PATH/masters, service framework instances under PATH/leader.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.hpp"
#include "common/zookeeper.hpp"

namespace stoa {

class LeaderContender {
 public:
  // Joins the election under `members_path` (created if missing) with `data`
  // in its znode. REQUIRES: `zookeeper` outlives the contender.
  static Result<std::unique_ptr<LeaderContender>> Join(ZooKeeper* zookeeper,
                                                       const std::string& members_path,
                                                       const std::string& data);
  ~LeaderContender();

  // Blocks until this contender leads (true), or `give_up` returns true or the
  // session expires (false). `give_up` is polled a few times a second.
  bool WaitUntilLeading(const std::function<bool()>& give_up);
  const std::string& znode() const { return znode_; }

 private:
  LeaderContender() = default;
  bool Leading();

  ZooKeeper* zookeeper_ = nullptr;
  std::string members_;
  std::string znode_;
  struct Signal;
  std::shared_ptr<Signal> signal_;
};

}  // namespace stoa

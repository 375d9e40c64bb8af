// Leader election among masters: each master joins with an ephemeral
// sequential znode under PATH/masters holding where it listens; the lowest
// sequence leads. A master whose session ends loses its znode and so its lead.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/detector.hpp"
#include "common/status.hpp"
#include "common/zookeeper.hpp"

namespace stoa::master {

class MasterContender {
 public:
  // Joins the election. REQUIRES: `zookeeper` outlives the contender.
  static Result<std::unique_ptr<MasterContender>> Join(ZooKeeper* zookeeper,
                                                       const std::string& zk_path,
                                                       const LeaderInfo& self);
  ~MasterContender();

  // Blocks until this master leads (true), or `give_up` returns true or the
  // session expires (false). `give_up` is polled a few times a second.
  bool WaitUntilLeading(const std::function<bool()>& give_up);
  const std::string& znode() const { return znode_; }

 private:
  MasterContender() = default;
  bool Leading();

  ZooKeeper* zookeeper_ = nullptr;
  std::string members_;
  std::string znode_;
  struct Signal;
  std::shared_ptr<Signal> signal_;
};

}  // namespace stoa::master

// Finding the leader of a group elected through ZooKeeper (common/contender):
// the member znode with the lowest sequence leads, and its data says where it
// listens. LeaderDetector follows any such group; MasterDetector the masters.
// Agents, frameworks (the SDK), `stoa execute` and the CLI take --master as
// HOST:PORT (one master, never changes) or as zk://HOST:PORT[,HOST:PORT]/PATH
// (masters elected under PATH/masters).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.hpp"

namespace stoa {

// What a master publishes about itself in its member znode.
struct LeaderInfo {
  std::string id;       // master id
  std::string address;  // ZeroMQ address, tcp://IP:PORT
  std::string http;     // HOST:PORT of its HTTP API
  bool operator==(const LeaderInfo&) const = default;
};

std::string EncodeLeaderInfo(const LeaderInfo& info);  // JSON
Result<LeaderInfo> DecodeLeaderInfo(const std::string& json);

// The ZooKeeper directory under which masters contend.
std::string MembersPath(const std::string& zk_path);

// Turns HOST:PORT into tcp://HOST:PORT; passes tcp://, ipc:// and inproc:// through.
Result<std::string> ZmqAddressOf(const std::string& master);

// Follows the leader of the contenders under `members_path`: `callback` gets
// the leading znode's data whenever it changes, empty while nobody leads. It
// runs on the detector's own thread, which reconnects to ZooKeeper whenever
// its session is lost.
class LeaderDetector {
 public:
  using Callback = std::function<void(const std::string& data)>;
  static Result<std::unique_ptr<LeaderDetector>> Create(const std::string& servers,
                                                        const std::string& members_path,
                                                        Callback callback,
                                                        double session_timeout = 10);
  ~LeaderDetector();
  LeaderDetector(const LeaderDetector&) = delete;
  LeaderDetector& operator=(const LeaderDetector&) = delete;

 private:
  struct Impl;
  explicit LeaderDetector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class MasterDetector {
 public:
  // Called with the new leader whenever it changes; an empty address means
  // there is no leader right now. Runs on the detector's own thread.
  using Callback = std::function<void(const LeaderInfo& leader)>;

  // For HOST:PORT (and tcp://, inproc://) the callback runs once, at once.
  // For zk://... a LeaderDetector follows PATH/masters.
  static Result<std::unique_ptr<MasterDetector>> Create(const std::string& master,
                                                        Callback callback,
                                                        double zk_session_timeout = 10);
  ~MasterDetector();
  MasterDetector(const MasterDetector&) = delete;
  MasterDetector& operator=(const MasterDetector&) = delete;

 private:
  MasterDetector() = default;
  std::unique_ptr<LeaderDetector> detector_;  // none for a fixed master
};

}  // namespace stoa

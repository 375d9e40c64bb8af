// Finding the leading master. Agents, frameworks (the SDK), `stoa execute` and
// the CLI take --master as HOST:PORT (one master, never changes) or as
// zk://HOST:PORT[,HOST:PORT]/PATH (masters elected through ZooKeeper: the
// leader is the member znode with the lowest sequence under PATH/masters, and
// its data says where it listens). The detector follows the leader as it changes.
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

class MasterDetector {
 public:
  // Called with the new leader whenever it changes; an empty address means
  // there is no leader right now. Runs on the detector's own thread.
  using Callback = std::function<void(const LeaderInfo& leader)>;

  // For HOST:PORT (and tcp://, inproc://) the callback runs once, at once.
  // For zk://... a thread watches the members and reconnects to ZooKeeper
  // whenever its session is lost.
  static Result<std::unique_ptr<MasterDetector>> Create(const std::string& master,
                                                        Callback callback,
                                                        double zk_session_timeout = 10);
  ~MasterDetector();
  MasterDetector(const MasterDetector&) = delete;
  MasterDetector& operator=(const MasterDetector&) = delete;

 private:
  struct Impl;
  explicit MasterDetector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa

#include "common/detector.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/logging.hpp"
#include "common/zookeeper.hpp"

namespace stoa {

std::string EncodeLeaderInfo(const LeaderInfo& info) {
  return nlohmann::json{{"id", info.id}, {"address", info.address}, {"http", info.http}}.dump();
}

Result<LeaderInfo> DecodeLeaderInfo(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object() || !json.contains("address") || !json["address"].is_string()) {
    return Status::Error("a master's znode does not hold its address: '" + text + "'");
  }
  return LeaderInfo{json.value("id", ""), json["address"], json.value("http", "")};
}

std::string MembersPath(const std::string& zk_path) {
  return (zk_path == "/" ? "" : zk_path) + "/masters";
}

Result<std::string> ZmqAddressOf(const std::string& master) {
  for (const char* scheme : {"tcp://", "ipc://", "inproc://"}) {
    if (master.rfind(scheme, 0) == 0) return master;
  }
  auto colon = master.rfind(':');
  if (master.empty() || colon == std::string::npos || colon == 0 || colon + 1 == master.size()) {
    return Status::Error("master '" + master + "' is neither HOST:PORT nor zk://HOST:PORT/PATH");
  }
  return "tcp://" + master;
}

struct LeaderDetector::Impl {
  Callback callback;
  std::string servers;
  std::string members;
  double session_timeout = 10;
  std::shared_ptr<spdlog::logger> log = Logger("detector");
  std::thread thread;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool changed = true;
  bool published = false;  // whether `current` was handed to the callback yet
  std::string current;

  void Notify() {
    std::lock_guard<std::mutex> lock(mutex);
    changed = true;
    wake.notify_all();
  }

  void Run() {
    std::unique_ptr<ZooKeeper> zookeeper;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait_for(lock, std::chrono::seconds(1), [&] { return stopping || changed; });
        if (stopping) return;
        bool session_ok = zookeeper && !zookeeper->expired();
        if (!changed && session_ok) continue;  // one watch stays armed until it fires
        changed = false;
      }
      if (!zookeeper || zookeeper->expired()) {
        auto session = ZooKeeper::Connect(servers, session_timeout, [this] { Notify(); });
        if (!session.ok()) {
          log->warn("{}; retrying", session.error());
          Publish("");
          Notify();
          continue;
        }
        zookeeper = std::move(*session);
      }
      Publish(FindLeader(*zookeeper));
    }
  }

  std::string FindLeader(ZooKeeper& zookeeper) {
    auto children = zookeeper.Children(members, [this] { Notify(); });
    if (!children.ok()) {
      // No members path yet: create it so that the watch can be set.
      zookeeper.CreatePath(members);
      Notify();
      return "";
    }
    std::vector<std::string> names;
    for (const auto& name : *children) {
      if (name.rfind("member_", 0) == 0) names.push_back(name);
    }
    // Sequence numbers are fixed-width, so the lowest sorts first.
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      auto data = zookeeper.Get(members + "/" + name);
      if (data.ok() && data->has_value()) return (*data)->first;
      // Gone meanwhile: the next one leads (its watch fires soon anyway).
    }
    return "";
  }

  void Publish(const std::string& leader) {
    if (published && leader == current) return;
    published = true;
    current = leader;
    log->debug("the leader under {} is now '{}'", members, leader);
    callback(leader);
  }
};

LeaderDetector::LeaderDetector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LeaderDetector::~LeaderDetector() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<LeaderDetector>> LeaderDetector::Create(const std::string& servers,
                                                               const std::string& members_path,
                                                               Callback callback,
                                                               double session_timeout) {
  auto impl = std::make_unique<Impl>();
  impl->callback = std::move(callback);
  impl->servers = servers;
  impl->members = members_path;
  impl->session_timeout = session_timeout;
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<LeaderDetector>(new LeaderDetector(std::move(impl)));
}

MasterDetector::~MasterDetector() = default;

Result<std::unique_ptr<MasterDetector>> MasterDetector::Create(const std::string& master,
                                                               Callback callback,
                                                               double zk_session_timeout) {
  std::unique_ptr<MasterDetector> detector(new MasterDetector());
  if (master.rfind("zk://", 0) != 0) {
    Result<std::string> address = ZmqAddressOf(master);
    if (!address.ok()) return address.status();
    callback(LeaderInfo{"", *address, ""});
    return detector;
  }
  Result<ZooKeeperUrl> url = ParseZooKeeperUrl(master);
  if (!url.ok()) return url.status();
  // Only changes are reported: until a leader is found, nobody leads.
  auto on_leader = [callback = std::move(callback), last = LeaderInfo{},
                    log = Logger("detector")](const std::string& data) mutable {
    LeaderInfo leader;
    if (!data.empty()) {
      auto decoded = DecodeLeaderInfo(data);
      if (decoded.ok()) {
        leader = *decoded;
      } else {
        log->warn("{}", decoded.error());
      }
    }
    if (last == leader) return;
    last = leader;
    if (leader.address.empty()) {
      log->warn("no master is leading right now");
    } else {
      log->info("the leading master is {} at {}", leader.id, leader.address);
    }
    callback(leader);
  };
  auto followed =
      LeaderDetector::Create(url->servers, MembersPath(url->path), on_leader, zk_session_timeout);
  if (!followed.ok()) return followed.status();
  detector->detector_ = std::move(*followed);
  return detector;
}

}  // namespace stoa

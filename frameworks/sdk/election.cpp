#include "frameworks/sdk/election.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include "common/contender.hpp"
#include "common/detector.hpp"
#include "common/logging.hpp"
#include "common/zookeeper.hpp"
#include "frameworks/sdk/leader_storage.hpp"

namespace stoa::sdk {

struct Election::Impl {
  explicit Impl(ElectionOptions o) : options(std::move(o)) {}

  const ElectionOptions options;
  ZooKeeperUrl url;
  std::string members;  // PATH/leader
  std::unique_ptr<ZooKeeper> zookeeper;
  std::unique_ptr<LeaderStorage> untaken;  // until TakeStorage
  LeaderStorage* storage = nullptr;        // then owned by the framework's store
  std::unique_ptr<LeaderDetector> detector;
  std::unique_ptr<LeaderContender> contender;
  std::thread elector;
  std::mutex mutex;
  bool stopping = false;
  // Won the election: from here a suspended session ends this instance.
  std::atomic<bool> elected{false};

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopping;
  }

  // A session whose loss ends this instance: a leader as soon as it cannot be
  // sure it still leads, a standby once the session has expired. Either way
  // nothing is written from then on.
  Status Connect() {
    auto session = ZooKeeper::Connect(
        url.servers, options.session_timeout,
        [this] {
          StepDown();
          options.on_fatal(
              "the ZooKeeper session expired: this instance can neither lead nor stand by");
        },
        [this] {
          if (!elected) return;
          StepDown();
          options.on_fatal(
              "lost ZooKeeper for a third of the session timeout: this leader steps down before "
              "another instance can be elected");
        });
    if (!session.ok()) return session.status();
    zookeeper = std::move(*session);
    return Status::Ok();
  }

  void StepDown() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      elected = false;
      options.gate->SetLeading(false);
    }
    if (storage != nullptr) storage->Fence();
  }

  // Waits to be elected, opens the state, then takes over.
  void Elect() {
    // False: stopping, or the session expired (and its callback acts).
    if (!contender->WaitUntilLeading([this] { return Stopping(); })) return;
    elected = true;
    if (zookeeper->expired()) return;
    auto log = Logger(options.component);
    log->info("elected leader as {}; opening the state and taking over", contender->znode());
    auto opened = OpenZooKeeperStorage(zookeeper.get(), url.path + "/state");
    if (!opened.ok()) {
      options.on_fatal("cannot open the state in ZooKeeper: " + opened.error());
      return;
    }
    storage->Open(std::move(*opened));
    if (Status s = options.lead(); !s.ok()) {
      options.on_fatal("cannot take over as the leader: " + s.message());
      return;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!elected) return;  // stepped down meanwhile
    options.gate->SetLeading(true);
    log->info("leading as {}", contender->znode());
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    if (elector.joinable()) elector.join();
  }
};

Result<std::unique_ptr<Election>> Election::Connect(ElectionOptions options) {
  auto url = ParseZooKeeperUrl(options.zk);
  if (!url.ok()) return Status::Error("--zk: " + url.error());
  if (options.gate == nullptr || !options.lead || !options.on_fatal) {
    return Status::Error("an election needs a gate, a `lead` and an `on_fatal` callback");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->url = *url;
  if (impl->url.path == "/") impl->url.path.clear();
  impl->members = impl->url.path + "/leader";
  impl->untaken = std::make_unique<LeaderStorage>();
  impl->storage = impl->untaken.get();
  if (Status s = impl->Connect(); !s.ok()) return s;
  return std::unique_ptr<Election>(new Election(std::move(impl)));
}

Election::Election(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Election::~Election() {
  impl_->Stop();
  impl_->detector.reset();
  impl_->contender.reset();
  impl_->storage->Fence();   // before the session its storage uses goes
  impl_->zookeeper.reset();  // its callbacks are done; closing it hands the lead on at once
}

std::unique_ptr<Storage> Election::TakeStorage() { return std::move(impl_->untaken); }

Status Election::Join(const std::string& self) {
  Impl* impl = impl_.get();
  LeaderGate* gate = impl->options.gate;
  gate->SetSelf(self);
  auto detector = LeaderDetector::Create(
      impl->url.servers, impl->members,
      [gate](const std::string& leader) { gate->SetLeader(leader); },
      impl->options.session_timeout);
  if (!detector.ok()) return detector.status();
  impl->detector = std::move(*detector);
  auto joined = LeaderContender::Join(impl->zookeeper.get(), impl->members, self);
  if (!joined.ok()) return Status::Error("cannot join the election: " + joined.error());
  impl->contender = std::move(*joined);
  impl->elector = std::thread([impl] { impl->Elect(); });
  return Status::Ok();
}

bool Election::ConfirmLeading() {
  if (!impl_->elected || !impl_->contender) return false;
  auto znode = impl_->zookeeper->Get(impl_->contender->znode());
  return znode.ok() && znode->has_value() && impl_->elected;
}

void Election::Stop() { impl_->Stop(); }
void Election::StepDown() { impl_->StepDown(); }

void Election::Abdicate() {
  impl_->StepDown();
  if (impl_->contender) impl_->zookeeper->Delete(impl_->contender->znode(), -1);
}

const std::string& Election::znode() const {
  static const std::string none;
  return impl_->contender ? impl_->contender->znode() : none;
}

Status LeadOrStandBy(Election* election, HttpServer& http, const ServeOptions& options,
                     const std::function<Status()>& lead) {
  auto log = Logger(options.component);
  if (election == nullptr) {
    if (Status s = lead(); !s.ok()) return s;
    if (Status s = http.Start(options.ip, options.port); !s.ok()) return s;
    log->info("serving {} on http://{}:{} (master {})", options.api, options.ip, http.port(),
              options.master);
    return Status::Ok();
  }
  // Serve as a standby, publish where (in the election's znode), follow who
  // leads, and wait to be elected on the election's thread.
  if (Status s = http.Start(options.ip, options.port); !s.ok()) return s;
  std::string self = options.hostname + ":" + std::to_string(http.port());
  if (Status s = election->Join(self); !s.ok()) return s;
  log->info("standing by on http://{} (joined the election as {}; master {})", self,
            election->znode(), options.master);
  return Status::Ok();
}

}  // namespace stoa::sdk

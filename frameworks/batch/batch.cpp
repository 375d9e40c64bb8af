#include "frameworks/batch/batch.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "frameworks/batch/api.hpp"
#include "frameworks/sdk/election.hpp"
#include "frameworks/sdk/http_json.hpp"
#include "frameworks/sdk/leader_gate.hpp"
#include "frameworks/sdk/process.hpp"
#include "frameworks/sdk/scheduler.hpp"

namespace stoa::batch {
namespace {

class BatchScheduler : public sdk::Scheduler {
 public:
  BatchScheduler(BatchCore* core, std::function<void(const std::string&)> on_fatal)
      : core_(core), on_fatal_(std::move(on_fatal)) {}
  void Subscribed(sdk::SchedulerDriver&, const FrameworkId& id) override { core_->Subscribed(id); }
  void Offers(sdk::SchedulerDriver&, const std::vector<Offer>& offers) override {
    core_->Offers(offers);
  }
  void Update(sdk::SchedulerDriver&, const TaskStatus& status) override { core_->Update(status); }
  void Disconnected(sdk::SchedulerDriver&) override {
    Logger("batch")->warn("lost the master; resubscribing");
    core_->Disconnected();
  }
  void Error(sdk::SchedulerDriver& driver, const std::string& message) override {
    Logger("batch")->error("the master says: {}", message);
    // Torn down, or taken over by another scheduler: this one can launch
    // nothing more, so it does not go on taking jobs.
    if (driver.aborted()) on_fatal_("the master ended this framework's subscription: " + message);
  }

 private:
  BatchCore* core_;
  std::function<void(const std::string&)> on_fatal_;
};

// Metronome's leader proxy (LeaderProxyFilter): X-LEADER and X-VIA hold a
// bare HOST:PORT, and a leader proxy times out after 30 s. Metronome answers
// /ping and /v1/metrics on every instance and proxies /info and /leader;
// here /info and /leader are answered by every instance (so that a standby
// says who leads, and 404 while nobody does), and /v1/metrics goes to the
// leader, since a standby's core holds nothing. Metronome names the leader
// only on proxied answers; this gate names it on all the leader's answers.
sdk::LeaderGateOptions MetronomeLeaderGate() {
  sdk::LeaderGateOptions gate;
  gate.leader_header = "X-LEADER";
  gate.via_header = "X-VIA";
  gate.local_paths = {"/ping", "/info", "/leader"};
  gate.timeouts = {5, 30};
  gate.component = "batch";
  return gate;
}

// The time a test writes into `path`; the last one read while the file is
// being rewritten (or before it exists: 0, so that nothing is due).
std::function<double()> FileClock(const std::string& path) {
  auto last = std::make_shared<std::atomic<double>>(0);
  return [path, last] {
    std::ifstream file(path);
    double seconds = 0;
    if (file >> seconds && seconds > 0) *last = seconds;
    return last->load();
  };
}

}  // namespace

struct BatchProcess::Impl {
  Impl() : gate(MetronomeLeaderGate()) {}

  BatchProcessOptions options;
  std::unique_ptr<BatchStore> store;
  sdk::DriverActions actions;
  std::unique_ptr<BatchCore> core;
  std::unique_ptr<BatchScheduler> scheduler;
  std::unique_ptr<sdk::SchedulerDriver> driver;
  sdk::LeaderGate gate;
  BatchApiInfo info;
  HttpServer http;
  // --zk: the session, its state (in `store`) and the election. Released
  // last, in ~Impl, after everything that runs on other threads has stopped.
  std::unique_ptr<sdk::Election> election;
  std::thread ticker;
  std::thread flusher;  // writes and acknowledges task updates, many at a time
  std::mutex mutex;
  std::condition_variable wake;        // the ticker's
  std::condition_variable flush_wake;  // the flusher's
  bool stopping = false;
  bool pending = false;  // task updates wait for the flusher

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    flush_wake.notify_all();
    if (election) election->Stop();  // no Lead() starts threads after this
    if (ticker.joinable()) ticker.join();
    if (flusher.joinable()) flusher.join();
    http.Stop();
    if (driver) driver->Stop(false);
    election.reset();  // closing its session hands the lead on at once
  }

  // Recovers the state, fails over to the framework id in it, and starts the
  // ticker and the flusher. REQUIRES: the store is open.
  Status Lead() {
    if (Status s = core->Recover(); !s.ok()) return s;
    sdk::DriverOptions driver_options;
    driver_options.master = options.master;
    driver_options.framework.name = options.framework_name;
    driver_options.framework.user = options.core.user;
    driver_options.framework.hostname = options.hostname;
    if (options.core.role != "*") driver_options.framework.roles = {options.core.role};
    driver_options.framework.failover_timeout_seconds = options.failover_timeout;
    driver_options.framework.checkpoint = true;
    driver_options.framework.partition_aware = true;
    driver_options.framework.id = core->framework_id();  // fail over to it
    driver_options.implicit_acknowledgements = false;    // once written (BatchCore::Flush)
    if (election) {
      driver_options.may_subscribe = [this] { return election->ConfirmLeading(); };
    }
    scheduler = std::make_unique<BatchScheduler>(core.get(), options.core.on_fatal);
    driver = std::make_unique<sdk::SchedulerDriver>(scheduler.get(), driver_options);
    actions.set_driver(driver.get());
    if (Status s = driver->Start(); !s.ok()) return s;
    ticker = std::thread([this] { Tick(); });
    flusher = std::thread([this] { Flush(); });
    return Status::Ok();
  }

  // --zk: the state in ZooKeeper, for the leader only; the gate follows who leads.
  Status Connect() {
    auto connected = sdk::Election::Connect({.zk = options.zk,
                                             .session_timeout = options.zk_session_timeout,
                                             .component = "batch",
                                             .gate = &gate,
                                             .lead = [this] { return Lead(); },
                                             .on_fatal = options.core.on_fatal});
    if (!connected.ok()) return connected.status();
    election = std::move(*connected);
    return Status::Ok();
  }

  void Serve() {
    info.version = "0.6.0-stoa";
    if (election) {
      info.leader = [this] { return gate.leader(); };
      gate.Guard(http);
    } else {
      info.leader = [this] { return options.hostname + ":" + std::to_string(http.port()); };
    }
    AddBatchApi(http, core.get(), &info);
    // Every path gets a route, so that a standby passes unknown ones on too.
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      http.Route(method, ".*", [](const HttpRequest& request) {
        return sdk::JsonResponse(404,
                                 {{"message", "Unknown route."}, {"requestPath", request.path}});
      });
    }
  }

  void Tick() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::duration<double>(options.tick_interval));
      if (stopping) break;
      lock.unlock();
      core->Tick();
      lock.lock();
    }
  }

  void Notify() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      pending = true;
    }
    flush_wake.notify_one();
  }

  // Updates that arrive together (a wave of tasks ending) are written in one
  // go: the flusher lets a moment pass before it writes.
  void Flush() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      flush_wake.wait(lock, [this] { return stopping || pending; });
      if (stopping) break;
      pending = false;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      core->Flush();
      lock.lock();
    }
    lock.unlock();
    core->Flush();  // the last ones, before the driver stops
  }
};

Result<std::unique_ptr<BatchProcess>> BatchProcess::Start(BatchProcessOptions options) {
  if (options.core.user.empty()) options.core.user = sdk::CurrentUser();
  if (options.hostname.empty()) options.hostname = options.ip;
  if (!options.core.on_fatal) {
    options.core.on_fatal = [](const std::string& why) {
      Logger("batch")->critical("{}; stopping", why);
    };
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::unique_ptr<Storage> storage;
  if (options.zk.empty()) {
    auto opened = OpenLevelDbStorage(options.work_dir + "/state");
    if (!opened.ok()) return opened.status();
    storage = std::move(*opened);
  } else {
    if (Status s = impl->Connect(); !s.ok()) return s;
    storage = impl->election->TakeStorage();
  }
  impl->store = std::make_unique<BatchStore>(std::move(storage));
  Impl* raw = impl.get();
  BatchOptions core_options = options.core;
  core_options.on_pending = [raw] { raw->Notify(); };
  impl->core =
      std::make_unique<BatchCore>(impl->store.get(), &impl->actions, core_options,
                                  options.clock_file.empty() ? std::function<double()>(sdk::WallNow)
                                                             : FileClock(options.clock_file));
  impl->Serve();

  sdk::ServeOptions serve{options.ip,     options.http_port, options.hostname,
                          options.master, "Metronome's API", "batch"};
  if (Status s = sdk::LeadOrStandBy(impl->election.get(), impl->http, serve,
                                    [raw] { return raw->Lead(); });
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<BatchProcess>(new BatchProcess(std::move(impl)));
}

BatchProcess::BatchProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BatchProcess::~BatchProcess() = default;
int BatchProcess::http_port() const { return impl_->http.port(); }
bool BatchProcess::leading() const { return !impl_->election || impl_->gate.leading(); }
BatchCore& BatchProcess::core() { return *impl_->core; }

}  // namespace stoa::batch

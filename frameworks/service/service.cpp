#include "frameworks/service/service.hpp"

#include <pwd.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/http_address.hpp"
#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "frameworks/sdk/actions.hpp"
#include "frameworks/sdk/election.hpp"
#include "frameworks/sdk/leader_gate.hpp"
#include "frameworks/sdk/process.hpp"
#include "frameworks/sdk/scheduler.hpp"
#include "frameworks/service/api.hpp"
#include "frameworks/service/api_events.hpp"
#include "frameworks/service/api_util.hpp"
#include "frameworks/service/autoscale_round.hpp"
#include "frameworks/service/event_bus.hpp"
#include "frameworks/service/store.hpp"

namespace stoa::service {
namespace {

// The SDK's callbacks, handed to the core.
class ServiceScheduler : public sdk::Scheduler {
 public:
  explicit ServiceScheduler(ServiceCore* core) : core_(core) {}
  void Subscribed(sdk::SchedulerDriver&, const FrameworkId& id) override { core_->Subscribed(id); }
  void Offers(sdk::SchedulerDriver&, const std::vector<Offer>& offers) override {
    core_->Offers(offers);
  }
  void Update(sdk::SchedulerDriver&, const TaskStatus& status) override { core_->Update(status); }
  void Disconnected(sdk::SchedulerDriver&) override {
    Logger("service")->warn("lost the master; resubscribing");
    core_->Disconnected();
  }
  void Error(sdk::SchedulerDriver&, const std::string& message) override {
    Logger("service")->error("the master says: {}", message);
  }

 private:
  ServiceCore* core_;
};

// Marathon's leader proxy: its headers, and what every instance answers itself.
sdk::LeaderGateOptions MarathonLeaderGate(const ServiceOptions& options) {
  sdk::LeaderGateOptions gate;
  gate.leader_header = "X-Marathon-Leader";
  gate.leader_prefix = "http://";
  gate.via_header = "X-Marathon-Via";
  gate.via_prefix = "1.1 ";
  gate.local_paths = {"/ping", "/v2/leader", "/v2/info"};
  gate.redirected_prefixes = {"/v2/events"};
  gate.timeouts = {options.leader_proxy_connection_timeout, options.leader_proxy_read_timeout};
  gate.component = "service";
  return gate;
}

}  // namespace

struct Service::Impl {
  explicit Impl(ServiceOptions o) : options(std::move(o)), gate(MarathonLeaderGate(options)) {}

  ServiceOptions options;
  EventBus bus;  // outlives everything that publishes to it or streams from it
  std::unique_ptr<ServiceStore> store;
  std::unique_ptr<sdk::DriverActions> actions;
  std::unique_ptr<ServiceCore> core;
  std::unique_ptr<ServiceScheduler> scheduler;
  std::unique_ptr<sdk::SchedulerDriver> driver;
  sdk::LeaderGate gate;
  ApiInfo info;
  HttpServer http;
  // --zk: the session, its state (in `store`) and the election. Released
  // last, in ~Impl, after everything that runs on other threads has stopped.
  std::unique_ptr<sdk::Election> election;
  std::thread ticker;
  std::thread autoscaler;  // RunAutoscaleRound every autoscale_interval
  std::thread abdicator;   // DELETE /v2/leader: steps down once the answer is out
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  // Whatever runs on other threads stops before the parts it calls go.
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (election) election->Stop();  // no Lead() starts threads after this
    if (ticker.joinable()) ticker.join();
    if (autoscaler.joinable()) autoscaler.join();
    http.Stop();  // no DELETE /v2/leader starts an abdicator after this
    if (abdicator.joinable()) abdicator.join();
    if (driver) driver->Stop(false);
    election.reset();  // closing its session hands the lead on at once
  }

  // The core acts through the driver, which needs the framework id the core
  // recovers. REQUIRES: the store is open.
  Status Lead() {
    if (Status s = core->Recover(); !s.ok()) return s;
    sdk::DriverOptions driver_options;
    driver_options.master = options.master;
    driver_options.framework.name = options.framework_name;
    driver_options.framework.user = options.user;
    driver_options.framework.hostname = options.hostname;
    driver_options.framework.failover_timeout_seconds = options.failover_timeout;
    driver_options.framework.checkpoint = true;
    driver_options.framework.partition_aware = true;
    driver_options.framework.id = core->framework_id();  // fail over to it
    if (election) {
      driver_options.may_subscribe = [this] { return election->ConfirmLeading(); };
    }
    scheduler = std::make_unique<ServiceScheduler>(core.get());
    driver = std::make_unique<sdk::SchedulerDriver>(scheduler.get(), driver_options);
    actions->set_driver(driver.get());
    if (Status s = driver->Start(); !s.ok()) return s;
    ticker = std::thread([this] { Tick(); });
    autoscaler = std::thread([this] { Autoscale(); });
    return Status::Ok();
  }

  // --zk: the state in ZooKeeper, for the leader only; the gate follows who leads.
  Status Connect() {
    auto connected = sdk::Election::Connect({.zk = options.zk,
                                             .session_timeout = options.zk_session_timeout,
                                             .component = "service",
                                             .gate = &gate,
                                             .lead = [this] { return Lead(); },
                                             .on_fatal = options.core.on_fatal});
    if (!connected.ok()) return connected.status();
    election = std::move(*connected);
    return Status::Ok();
  }

  // DELETE /v2/leader, as Marathon's: the leader answers, then stops (through
  // on_fatal, as when it loses its session), and a standby is elected; the
  // supervisor brings this one back as a standby.
  HttpResponse Abdicate() {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping) return MessageResponse(503, "this instance is stopping");
    if (!options.zk.empty() && !gate.leading()) return MessageResponse(404, "There is no leader");
    if (abdicator.joinable()) return JsonResponse(200, {{"message", "Leadership abdicated"}});
    abdicator = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex);
      // A moment for the answer to go out; not when the service stops anyway.
      if (wake.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping; })) return;
      lock.unlock();
      // Out of the election at once, so that a standby takes over now rather
      // than after this session's timeout.
      if (election) election->Abdicate();
      options.core.on_fatal("leadership abdicated through DELETE /v2/leader: this instance stops");
    });
    return JsonResponse(200, {{"message", "Leadership abdicated"}});
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

  void Autoscale() {
    CpuSampler sampler;
    auto fetch = [](const std::string& agent) -> Result<std::string> {
      auto address = ParseHttpAddress(agent, 80);
      if (!address.ok()) return address.status();
      return HttpGet(address->host, address->port, "/monitor/statistics");
    };
    BackendsFetcher backends;
    if (!options.lb.empty()) {
      auto address = ParseHttpAddress(options.lb, 80);
      if (address.ok()) {
        backends = [lb = *address] { return HttpGet(lb.host, lb.port, "/v1/backends"); };
      } else {
        Logger("service")->error("--lb: {}; request-rate targets get no figures", address.error());
      }
    }
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::duration<double>(options.autoscale_interval));
      if (stopping) break;
      lock.unlock();
      RunAutoscaleRound(*core, sampler, fetch, backends);
      lock.lock();
    }
  }

  void Serve() {
    info.framework_name = options.framework_name;
    info.master = options.master;
    info.zk = options.zk;
    info.zk_session_timeout_seconds = options.zk_session_timeout;
    info.leader_proxy_connection_timeout_seconds = options.leader_proxy_connection_timeout;
    info.leader_proxy_read_timeout_seconds = options.leader_proxy_read_timeout;
    info.hostname = options.hostname;
    info.http_port = [this] { return http.port(); };
    info.user = options.user;
    info.failover_timeout_seconds = options.failover_timeout;
    info.decline_offer_seconds = options.core.decline_seconds;
    info.service_port_min = options.core.service_port_min;
    info.service_port_max = options.core.service_port_max;
    if (!options.zk.empty()) {
      info.elected = [this] { return gate.leading(); };
      info.leader = [this] { return gate.leader(); };
      gate.Guard(http);
    }
    http.Route("DELETE", "/v2/leader/?", [this](const HttpRequest&) { return Abdicate(); });
    AddServiceApi(http, core.get(), &info);
    AddEventRoutes(http, &bus, EventStreamOptions{options.event_keep_alive, sdk::WallNow});
    // Every path gets a route, so that a standby passes unknown ones on too.
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      http.Route(method, ".*", [](const HttpRequest& request) {
        return MessageResponse(404, "no such resource: " + request.method + " " + request.path);
      });
    }
  }
};

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options) {
  if (!options.core.on_fatal) {
    options.core.on_fatal = [](const std::string& why) {
      Logger("service")->critical("{}; stopping", why);
    };
  }
  if (options.user.empty()) options.user = sdk::CurrentUser();
  if (options.hostname.empty()) options.hostname = options.ip;
  auto impl = std::make_unique<Impl>(options);

  std::unique_ptr<Storage> storage;
  if (options.zk.empty()) {
    auto opened = OpenLevelDbStorage(options.work_dir + "/state");
    if (!opened.ok()) return opened.status();
    storage = std::move(*opened);
  } else {
    if (Status s = impl->Connect(); !s.ok()) return s;
    storage = impl->election->TakeStorage();
  }
  impl->store = std::make_unique<ServiceStore>(std::move(storage));
  impl->actions = std::make_unique<sdk::DriverActions>();
  CoreOptions core_options = options.core;
  core_options.on_event = [bus = &impl->bus,
                           also = options.core.on_event](const nlohmann::json& e) {
    bus->Publish(e);
    if (also) also(e);
  };
  impl->core = std::make_unique<ServiceCore>(impl->store.get(), impl->actions.get(), core_options,
                                             sdk::WallNow);
  impl->Serve();

  sdk::ServeOptions serve{options.ip,     options.http_port, options.hostname,
                          options.master, "Marathon's API",  "service"};
  Impl* raw = impl.get();
  if (Status s = sdk::LeadOrStandBy(impl->election.get(), impl->http, serve,
                                    [raw] { return raw->Lead(); });
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() = default;

int Service::http_port() const { return impl_->http.port(); }
bool Service::leading() const { return impl_->options.zk.empty() || impl_->gate.leading(); }
ServiceCore& Service::core() { return *impl_->core; }

}  // namespace stoa::service

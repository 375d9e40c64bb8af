#include "frameworks/service/service.hpp"

#include <pwd.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "common/zookeeper.hpp"
#include "frameworks/sdk/scheduler.hpp"
#include "frameworks/service/actions.hpp"
#include "frameworks/service/api.hpp"
#include "frameworks/service/api_events.hpp"
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

std::string CurrentUser() {
  struct passwd* entry = getpwuid(geteuid());
  return entry != nullptr ? entry->pw_name : "root";
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Service::Impl {
  ServiceOptions options;
  EventBus bus;  // outlives everything that publishes to it or streams from it
  std::unique_ptr<ZooKeeper> zookeeper;  // outlives the store that uses it
  std::unique_ptr<ServiceStore> store;
  std::unique_ptr<sdk::SchedulerDriver> driver;
  std::unique_ptr<DriverActions> actions;
  std::unique_ptr<ServiceCore> core;
  std::unique_ptr<ServiceScheduler> scheduler;
  ApiInfo info;
  HttpServer http;
  std::thread ticker;
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
    if (ticker.joinable()) ticker.join();
    http.Stop();
    if (driver) driver->Stop(false);
  }

  Status OpenStore() {
    std::unique_ptr<Storage> storage;
    if (options.zk.empty()) {
      auto opened = OpenLevelDbStorage(options.work_dir + "/state");
      if (!opened.ok()) return opened.status();
      storage = std::move(*opened);
    } else {
      auto url = ParseZooKeeperUrl(options.zk);
      if (!url.ok()) return Status::Error("--zk: " + url.error());
      auto fatal = options.core.on_fatal;
      auto session = ZooKeeper::Connect(url->servers, options.zk_session_timeout, [fatal] {
        fatal("the ZooKeeper session expired: the state can no longer be written");
      });
      if (!session.ok()) return session.status();
      zookeeper = std::move(*session);
      auto opened = OpenZooKeeperStorage(zookeeper.get(), url->path + "/state");
      if (!opened.ok()) return opened.status();
      storage = std::move(*opened);
    }
    store = std::make_unique<ServiceStore>(std::move(storage));
    return Status::Ok();
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
};

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options) {
  auto impl = std::make_unique<Impl>();
  if (!options.core.on_fatal) {
    options.core.on_fatal = [](const std::string& why) {
      Logger("service")->critical("{}; stopping", why);
    };
  }
  if (options.user.empty()) options.user = CurrentUser();
  if (options.hostname.empty()) options.hostname = options.ip;
  impl->options = options;
  if (Status s = impl->OpenStore(); !s.ok()) return s;

  // The core acts through the driver, which needs the framework id the core recovers.
  sdk::DriverOptions driver_options;
  driver_options.master = options.master;
  driver_options.framework.name = options.framework_name;
  driver_options.framework.user = options.user;
  driver_options.framework.hostname = options.hostname;
  driver_options.framework.failover_timeout_seconds = options.failover_timeout;
  driver_options.framework.checkpoint = true;
  driver_options.framework.partition_aware = true;
  impl->actions = std::make_unique<DriverActions>();
  CoreOptions core_options = options.core;
  core_options.on_event = [bus = &impl->bus,
                           also = options.core.on_event](const nlohmann::json& e) {
    bus->Publish(e);
    if (also) also(e);
  };
  impl->core =
      std::make_unique<ServiceCore>(impl->store.get(), impl->actions.get(), core_options, WallNow);
  if (Status s = impl->core->Recover(); !s.ok()) return s;
  driver_options.framework.id = impl->core->framework_id();  // fail over to it
  impl->scheduler = std::make_unique<ServiceScheduler>(impl->core.get());
  impl->driver = std::make_unique<sdk::SchedulerDriver>(impl->scheduler.get(), driver_options);
  impl->actions->set_driver(impl->driver.get());
  if (Status s = impl->driver->Start(); !s.ok()) return s;

  Impl* raw = impl.get();
  impl->info.framework_name = options.framework_name;
  impl->info.master = options.master;
  impl->info.zk = options.zk;
  impl->info.hostname = options.hostname;
  impl->info.http_port = [raw] { return raw->http.port(); };
  impl->info.user = options.user;
  impl->info.failover_timeout_seconds = options.failover_timeout;
  impl->info.decline_offer_seconds = options.core.decline_seconds;
  impl->info.service_port_min = options.core.service_port_min;
  impl->info.service_port_max = options.core.service_port_max;
  AddServiceApi(impl->http, impl->core.get(), &impl->info);
  AddEventRoutes(impl->http, &impl->bus, EventStreamOptions{options.event_keep_alive, WallNow});
  if (Status s = impl->http.Start(options.ip, options.http_port); !s.ok()) return s;
  impl->ticker = std::thread([raw] { raw->Tick(); });
  Logger("service")->info("serving Marathon's API on http://{}:{} (master {})", options.ip,
                          impl->http.port(), options.master);
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() = default;

int Service::http_port() const { return impl_->http.port(); }
ServiceCore& Service::core() { return *impl_->core; }

}  // namespace stoa::service

#include "frameworks/batch/batch.hpp"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "frameworks/batch/api.hpp"
#include "frameworks/sdk/http_json.hpp"
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

}  // namespace

struct BatchProcess::Impl {
  BatchProcessOptions options;
  std::unique_ptr<BatchStore> store;
  sdk::DriverActions actions;
  std::unique_ptr<BatchCore> core;
  std::unique_ptr<BatchScheduler> scheduler;
  std::unique_ptr<sdk::SchedulerDriver> driver;
  BatchApiInfo info;
  HttpServer http;
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
    if (ticker.joinable()) ticker.join();
    if (flusher.joinable()) flusher.join();
    http.Stop();
    if (driver) driver->Stop(false);
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
  auto storage = OpenLevelDbStorage(options.work_dir + "/state");
  if (!storage.ok()) return storage.status();
  impl->store = std::make_unique<BatchStore>(std::move(*storage));
  Impl* raw = impl.get();
  BatchOptions core_options = options.core;
  core_options.on_pending = [raw] { raw->Notify(); };
  impl->core =
      std::make_unique<BatchCore>(impl->store.get(), &impl->actions, core_options, sdk::WallNow);
  if (Status s = impl->core->Recover(); !s.ok()) return s;

  sdk::DriverOptions driver_options;
  driver_options.master = options.master;
  driver_options.framework.name = options.framework_name;
  driver_options.framework.user = options.core.user;
  driver_options.framework.hostname = options.hostname;
  if (options.core.role != "*") driver_options.framework.roles = {options.core.role};
  driver_options.framework.failover_timeout_seconds = options.failover_timeout;
  driver_options.framework.checkpoint = true;
  driver_options.framework.partition_aware = true;
  driver_options.framework.id = impl->core->framework_id();  // fail over to it
  driver_options.implicit_acknowledgements = false;          // once written (BatchCore::Flush)
  impl->scheduler = std::make_unique<BatchScheduler>(impl->core.get(), options.core.on_fatal);
  impl->driver = std::make_unique<sdk::SchedulerDriver>(impl->scheduler.get(), driver_options);
  impl->actions.set_driver(impl->driver.get());

  impl->info.version = "0.6.0-stoa";
  impl->info.leader = [raw] {
    return raw->options.hostname + ":" + std::to_string(raw->http.port());
  };
  AddBatchApi(impl->http, impl->core.get(), &impl->info);
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    impl->http.Route(method, ".*", [](const HttpRequest& request) {
      return sdk::JsonResponse(404, {{"message", "Unknown route."}, {"requestPath", request.path}});
    });
  }
  if (Status s = impl->driver->Start(); !s.ok()) return s;
  impl->ticker = std::thread([raw] { raw->Tick(); });
  impl->flusher = std::thread([raw] { raw->Flush(); });
  if (Status s = impl->http.Start(options.ip, options.http_port); !s.ok()) return s;
  Logger("batch")->info("serving Metronome's API on http://{}:{} (master {})", options.ip,
                        impl->http.port(), options.master);
  return std::unique_ptr<BatchProcess>(new BatchProcess(std::move(impl)));
}

BatchProcess::BatchProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BatchProcess::~BatchProcess() = default;
int BatchProcess::http_port() const { return impl_->http.port(); }
BatchCore& BatchProcess::core() { return *impl_->core; }

}  // namespace stoa::batch

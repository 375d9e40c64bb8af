#include "frameworks/sdk/scheduler.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/detector.hpp"
#include "common/duration.hpp"
#include "common/logging.hpp"
#include "common/transport.hpp"
#include "common/zookeeper.hpp"
#include "protocols/codec.hpp"

namespace stoa::sdk {
namespace {
constexpr const char* kMaster = "master";
}  // namespace

struct SchedulerDriver::Impl {
  Scheduler* scheduler;
  DriverOptions options;
  std::shared_ptr<spdlog::logger> log = Logger("scheduler");
  std::unique_ptr<ZmqEndpoint> endpoint;
  std::unique_ptr<MasterDetector> detector;
  std::string identity = NewId("scheduler-");
  std::thread thread;

  std::mutex mutex;
  std::condition_variable wake;
  // Decoded on the endpoint's I/O thread; each ticket is released once its
  // message has been handled, so a slow scheduler holds back the endpoint's
  // reading (and, through ZeroMQ, the master) instead of growing this queue.
  std::deque<std::pair<Message, FrameTicket>> inbox;
  std::optional<std::string> new_leader;  // set by the detector
  std::string leader;                     // driver thread: where we talk to
  bool stopping = false;
  bool stopped = false;

  // Driver-thread state.
  std::atomic<bool> is_subscribed{false};
  std::atomic<bool> aborted{false};  // a terminal error: never subscribe again
  mutable std::mutex id_mutex;
  FrameworkId framework_id;
  double heartbeat_interval = 5;
  double last_master_message = 0;
  double last_subscribe = -1e9;
  double last_keepalive = 0;

  FrameworkId Id() const {
    std::lock_guard<std::mutex> lock(id_mutex);
    return framework_id;
  }

  void SendCall(
      std::variant<call::Subscribe, call::Accept, call::Decline, call::Revive, call::Suppress,
                   call::Kill, call::Acknowledge, call::Reconcile, call::Teardown, call::Message>
          body) {
    SchedulerCall c;
    c.framework_id = Id();
    c.call = std::move(body);
    endpoint->SendOn(kMaster, Encode(Message(std::move(c))));
  }

  void Subscribe() {
    if (leader.empty()) return;
    last_subscribe = MonotonicSeconds();
    if (options.may_subscribe && !options.may_subscribe()) {
      log->warn("not subscribing {}: this scheduler may no longer act for it",
                options.framework.name);
      return;
    }
    FrameworkInfo info = options.framework;
    info.id = Id();
    SendCall(call::Subscribe{info});
  }

  void Run(SchedulerDriver& driver) {
    while (true) {
      std::deque<std::pair<Message, FrameTicket>> messages;
      std::optional<std::string> leader_change;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait_for(lock, std::chrono::milliseconds(100),
                      [&] { return !inbox.empty() || stopping || new_leader.has_value(); });
        if (stopping) return;
        messages.swap(inbox);
        leader_change.swap(new_leader);
      }
      if (leader_change) {
        leader = *leader_change;
        if (is_subscribed) {
          is_subscribed = false;
          scheduler->Disconnected(driver);
        }
        if (!leader.empty()) {
          endpoint->Connect(kMaster, leader, identity);
          Subscribe();
        }
      }
      while (!messages.empty() && !aborted) {
        Handle(driver, messages.front().first);
        messages.pop_front();
      }
      if (aborted) return;
      Timers(driver);
    }
  }

  void Timers(SchedulerDriver& driver) {
    double now = MonotonicSeconds();
    if (!is_subscribed) {
      if (now - last_subscribe >= options.resubscribe_interval) Subscribe();
      return;
    }
    if (now - last_master_message > 3 * heartbeat_interval) {
      log->warn("no word from the master for {}; resubscribing",
                FormatDuration(now - last_master_message));
      is_subscribed = false;
      scheduler->Disconnected(driver);
      Subscribe();
      return;
    }
    if (now - last_keepalive >= heartbeat_interval / 3) {
      last_keepalive = now;
      endpoint->SendOn(kMaster, Encode(Message(Keepalive{})));
    }
  }

  void Handle(SchedulerDriver& driver, Message& decoded) {
    last_master_message = MonotonicSeconds();
    if (auto* error = std::get_if<ProtocolError>(&decoded)) {
      scheduler->Error(driver, error->message);
      return;
    }
    auto* event = std::get_if<SchedulerEvent>(&decoded);
    if (event == nullptr) return;
    std::visit(Overloaded{
                   [&](event::Subscribed& e) {
                     {
                       std::lock_guard<std::mutex> lock(id_mutex);
                       framework_id = e.framework_id;
                     }
                     heartbeat_interval =
                         e.heartbeat_interval_seconds > 0 ? e.heartbeat_interval_seconds : 5;
                     is_subscribed = true;
                     scheduler->Subscribed(driver, e.framework_id);
                   },
                   [&](event::Offers& e) { scheduler->Offers(driver, e.offers); },
                   [&](event::Rescind& e) { scheduler->Rescind(driver, e.offer_id); },
                   [&](event::Update& e) {
                     scheduler->Update(driver, e.status);
                     if (options.implicit_acknowledgements) driver.Acknowledge(e.status);
                   },
                   [&](event::Error& e) {
                     if (!is_subscribed) log->warn("the master refused: {}", e.message);
                     if (e.terminal) {
                       // Torn down, or another scheduler took the framework
                       // over: resubscribing would steal it back. Stop.
                       log->error("{}; the driver stops", e.message);
                       aborted = true;
                       is_subscribed = false;
                     }
                     scheduler->Error(driver, e.message);
                     if (e.terminal) driver.Stop(false);
                   },
                   [&](event::Heartbeat&) {},
                   [&](auto&) {},
               },
               *event);
  }
};

SchedulerDriver::SchedulerDriver(Scheduler* scheduler, DriverOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->scheduler = scheduler;
  impl_->options = std::move(options);
  std::lock_guard<std::mutex> lock(impl_->id_mutex);
  impl_->framework_id = impl_->options.framework.id;
}

SchedulerDriver::~SchedulerDriver() {
  Stop(false);  // also stops the detector, whose callback uses this driver's queue
  if (impl_->thread.joinable()) {
    if (impl_->thread.get_id() == std::this_thread::get_id()) {
      impl_->thread.detach();
    } else {
      impl_->thread.join();
    }
  }
}

Status SchedulerDriver::Start() {
  const std::string& master = impl_->options.master;
  if (master.rfind("zk://", 0) == 0) {
    if (auto url = ParseZooKeeperUrl(master); !url.ok()) return url.status();
  } else if (auto address = ZmqAddressOf(master); !address.ok()) {
    return address.status();
  }
  impl_->endpoint = std::make_unique<ZmqEndpoint>("scheduler");
  Impl* impl = impl_.get();
  impl_->endpoint->Start(
      Decoding(Decode, [impl](const FrameOrigin&, Message message, FrameTicket ticket) {
        {
          std::lock_guard<std::mutex> lock(impl->mutex);
          impl->inbox.emplace_back(std::move(message), std::move(ticket));
        }
        impl->wake.notify_one();
      }));
  impl_->thread = std::thread([this] { impl_->Run(*this); });
  auto detector = MasterDetector::Create(master, [impl](const LeaderInfo& leader) {
    {
      std::lock_guard<std::mutex> lock(impl->mutex);
      impl->new_leader = leader.address;
    }
    impl->wake.notify_one();
  });
  if (!detector.ok()) return detector.status();
  impl_->detector = std::move(*detector);
  return Status::Ok();
}

void SchedulerDriver::Stop(bool teardown) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
  impl_->detector.reset();
  if (impl_->endpoint) {
    if (teardown) impl_->SendCall(call::Teardown{});
    impl_->endpoint->Stop();  // sends what is queued first
  }
}

void SchedulerDriver::Join() {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->wake.wait(lock, [&] { return impl_->stopping; });
}

void SchedulerDriver::Accept(const std::vector<OfferId>& offer_ids,
                             const std::vector<Operation>& operations, double refuse_seconds) {
  impl_->SendCall(call::Accept{offer_ids, operations, refuse_seconds});
}

void SchedulerDriver::Launch(const Offer& offer, std::vector<TaskInfo> tasks,
                             double refuse_seconds) {
  Operation launch;
  launch.type = Operation::Type::kLaunch;
  for (auto& task : tasks) task.agent_id = offer.agent_id;
  launch.tasks = std::move(tasks);
  Accept({offer.id}, {launch}, refuse_seconds);
}

void SchedulerDriver::Decline(const std::vector<OfferId>& offer_ids, double refuse_seconds) {
  impl_->SendCall(call::Decline{offer_ids, refuse_seconds});
}

void SchedulerDriver::Kill(const TaskId& task_id, const AgentId& agent_id) {
  impl_->SendCall(call::Kill{task_id, agent_id});
}

void SchedulerDriver::Acknowledge(const TaskStatus& status) {
  if (status.uuid.empty()) return;  // master-generated: nothing to acknowledge
  impl_->SendCall(call::Acknowledge{status.agent_id, status.task_id, status.uuid});
}

void SchedulerDriver::Reconcile(const std::vector<std::pair<TaskId, AgentId>>& tasks) {
  impl_->SendCall(call::Reconcile{tasks});
}

void SchedulerDriver::Suppress(const std::vector<std::string>& roles) {
  impl_->SendCall(call::Suppress{roles});
}

void SchedulerDriver::Revive(const std::vector<std::string>& roles) {
  impl_->SendCall(call::Revive{roles});
}

FrameworkId SchedulerDriver::framework_id() const { return impl_->Id(); }
bool SchedulerDriver::aborted() const { return impl_->aborted; }
bool SchedulerDriver::subscribed() const { return impl_->is_subscribed; }

}  // namespace stoa::sdk

// The framework SDK: write a Scheduler (what to run where), hand it to a
// SchedulerDriver (how to talk to the master). The driver hides the transport,
// subscription and resubscription, keepalives, master-loss detection and,
// unless turned off, status update acknowledgements.
//
//   class Hello : public stoa::sdk::Scheduler {
//     void Offers(SchedulerDriver& d, const std::vector<Offer>& offers) override { ...
//     d.Launch(...) } void Update(SchedulerDriver& d, const TaskStatus& s) override { ... }
//   };
//   Hello scheduler;
//   SchedulerDriver driver(&scheduler, options);
//   driver.Start(); driver.Join();
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa::sdk {

class SchedulerDriver;

// Callbacks run on the driver's own thread, one at a time, in the order the
// master sent the events. They may call any SchedulerDriver method.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Subscribed (or resubscribed after a failover) as `framework_id`.
  virtual void Subscribed(SchedulerDriver& driver, const FrameworkId& framework_id) {
    (void)driver;
    (void)framework_id;
  }
  // Resources on offer. Answer each offer with Accept/Launch or Decline.
  virtual void Offers(SchedulerDriver& driver, const std::vector<Offer>& offers) = 0;
  // An offer is no longer valid (its agent went away, or it timed out).
  virtual void Rescind(SchedulerDriver& driver, const OfferId& offer_id) {
    (void)driver;
    (void)offer_id;
  }
  // A task's state changed. With implicit acknowledgements (the default) the
  // driver acknowledges the update after this returns.
  virtual void Update(SchedulerDriver& driver, const TaskStatus& status) = 0;
  // The master refused something or reports a failure. After a terminal error
  // (the framework was torn down, or another scheduler took it over) the
  // driver stops on its own once this returns; aborted() then says so.
  virtual void Error(SchedulerDriver& driver, const std::string& message) {
    (void)driver;
    (void)message;
  }
  // The master stopped answering; the driver keeps trying to resubscribe.
  virtual void Disconnected(SchedulerDriver& driver) { (void)driver; }
};

struct DriverOptions {
  std::string master;       // HOST:PORT, tcp://..., or inproc://...
  FrameworkInfo framework;  // set framework.id to fail over to an existing framework
  bool implicit_acknowledgements = true;
  double resubscribe_interval = 1.0;  // seconds between SUBSCRIBE attempts
  // Asked before every SUBSCRIBE, on the driver's thread (it may block for a
  // round trip): false holds the subscription back until the next attempt.
  // An elected framework checks that it still leads, so that a leader frozen
  // past its session does not take the framework back from its successor.
  std::function<bool()> may_subscribe;
};

class SchedulerDriver {
 public:
  SchedulerDriver(Scheduler* scheduler, DriverOptions options);
  ~SchedulerDriver();  // stops without tearing the framework down
  SchedulerDriver(const SchedulerDriver&) = delete;
  SchedulerDriver& operator=(const SchedulerDriver&) = delete;

  // Connects and subscribes; callbacks start arriving on the driver's thread.
  Status Start();
  // Stops the driver. With `teardown` the master removes the framework and
  // kills its tasks; without, the framework may fail over within its timeout.
  void Stop(bool teardown = false);
  // Blocks until Stop is called (from a callback or another thread).
  void Join();

  // Calls. Thread-safe; they queue and return at once.
  void Accept(const std::vector<OfferId>& offer_ids, const std::vector<Operation>& operations,
              double refuse_seconds = 5);
  // Launches `tasks` on one offer (agent ids are filled in).
  void Launch(const Offer& offer, std::vector<TaskInfo> tasks, double refuse_seconds = 5);
  void Decline(const std::vector<OfferId>& offer_ids, double refuse_seconds = 5);
  void Kill(const TaskId& task_id, const AgentId& agent_id = "");
  void Acknowledge(const TaskStatus& status);
  // Explicit reconciliation of (task, agent) pairs; empty asks for every task.
  void Reconcile(const std::vector<std::pair<TaskId, AgentId>>& tasks = {});
  void Suppress(const std::vector<std::string>& roles = {});
  void Revive(const std::vector<std::string>& roles = {});

  // Empty until the first SUBSCRIBED.
  FrameworkId framework_id() const;
  bool subscribed() const;
  // The master ended this scheduler's subscription for good (see Scheduler::Error).
  bool aborted() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::sdk

// What a framework's core asks of the master, as an interface: the SDK's
// driver in production (DriverActions), a recorder in tests. Calls must not block.
#pragma once

#include <utility>
#include <vector>

#include "frameworks/sdk/scheduler.hpp"
#include "protocols/messages.hpp"

namespace stoa::sdk {

class SchedulerActions {
 public:
  virtual ~SchedulerActions() = default;
  virtual void Launch(const Offer& offer, std::vector<TaskInfo> tasks, double refuse_seconds) = 0;
  // Any operations on one offer (task groups among them), in one ACCEPT.
  virtual void Accept(const Offer& offer, std::vector<Operation> operations,
                      double refuse_seconds) = 0;
  virtual void Decline(const OfferId& offer_id, double refuse_seconds) = 0;
  virtual void Kill(const TaskId& task_id, const AgentId& agent_id) = 0;
  // Explicit for the pairs given; implicit (every task) for none.
  virtual void Reconcile(const std::vector<std::pair<TaskId, AgentId>>& tasks) = 0;
  virtual void Revive() = 0;
  virtual void Suppress() = 0;
  // For drivers with explicit acknowledgements: the update is recorded.
  virtual void Acknowledge(const TaskStatus& status) { (void)status; }
};

// REQUIRES: set_driver before the first call.
class DriverActions : public SchedulerActions {
 public:
  void set_driver(SchedulerDriver* driver) { driver_ = driver; }
  void Launch(const Offer& offer, std::vector<TaskInfo> tasks, double refuse_seconds) override {
    driver_->Launch(offer, std::move(tasks), refuse_seconds);
  }
  void Accept(const Offer& offer, std::vector<Operation> operations,
              double refuse_seconds) override {
    for (auto& operation : operations) {
      for (auto& task : operation.tasks) task.agent_id = offer.agent_id;
    }
    driver_->Accept({offer.id}, operations, refuse_seconds);
  }
  void Decline(const OfferId& offer_id, double refuse_seconds) override {
    driver_->Decline({offer_id}, refuse_seconds);
  }
  void Kill(const TaskId& task_id, const AgentId& agent_id) override {
    driver_->Kill(task_id, agent_id);
  }
  void Reconcile(const std::vector<std::pair<TaskId, AgentId>>& tasks) override {
    driver_->Reconcile(tasks);
  }
  void Revive() override { driver_->Revive(); }
  void Suppress() override { driver_->Suppress(); }
  void Acknowledge(const TaskStatus& status) override { driver_->Acknowledge(status); }

 private:
  SchedulerDriver* driver_ = nullptr;
};

}  // namespace stoa::sdk

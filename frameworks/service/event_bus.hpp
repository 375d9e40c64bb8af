// Marathon's event bus: the core publishes each event once (with its lock
// held, so publishing never blocks), and every /v2/events stream reads its own
// bounded queue of them. A subscriber that falls too far behind is cut off
// rather than the core slowed down. Events are numbered in the order they came
// and the last few are kept, so a subscriber can start from an earlier number.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <vector>

namespace stoa::service {

// One published event: Marathon's eventType and its JSON body as sent.
struct BusEvent {
  uint64_t number = 0;  // 1, 2, ... in the order published
  std::string type;
  std::string data;
  // The same without the plan's "original" and "target" (Marathon's
  // plan-format=light); empty when the event has no such plan.
  std::string light_data;
  const std::string& Data(bool light) const {
    return light && !light_data.empty() ? light_data : data;
  }
};

struct EventBusOptions {
  size_t backlog = 512;             // the last events kept for subscribers that start earlier
  size_t subscriber_buffer = 1024;  // events waiting for one subscriber before it is cut off
};

class EventBus;

// One subscriber's queue. Its methods are thread-safe; the bus must outlive it.
class EventSubscription {
 public:
  ~EventSubscription();  // leaves the bus
  EventSubscription(const EventSubscription&) = delete;
  EventSubscription& operator=(const EventSubscription&) = delete;

  // The events queued since the last call, waiting up to `timeout` for one;
  // empty after the timeout, once cut off or cancelled.
  std::vector<std::shared_ptr<const BusEvent>> Next(std::chrono::milliseconds timeout);
  // Ends the subscription: Next returns at once, now and later (any thread).
  void Cancel();
  // True once the subscriber fell subscriber_buffer events behind: it missed
  // events and should be dropped.
  bool cut_off() const;
  // True once cut off or cancelled.
  bool closed() const;

 private:
  friend class EventBus;
  EventSubscription(EventBus* bus, std::set<std::string> types);
  bool Wants(const std::string& type) const { return types_.empty() || types_.count(type) > 0; }

  EventBus* bus_;
  const std::set<std::string> types_;  // empty: every type
  // All below guarded by the bus's mutex.
  std::condition_variable ready_;
  std::deque<std::shared_ptr<const BusEvent>> queue_;
  bool cut_off_ = false;
  bool cancelled_ = false;
};

class EventBus {
 public:
  explicit EventBus(EventBusOptions options = {});
  // REQUIRES: every subscription has ended.
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Publishes `event`, Marathon's JSON body with its "eventType": serialised
  // once, numbered, kept in the backlog and queued for every subscriber that
  // wants its type. Never blocks beyond a short lock; any thread.
  void Publish(const nlohmann::json& event);

  // A subscriber to the events of `types` (empty: all) published from now
  // on, or, with `after` > 0, from the first kept event numbered above it.
  std::shared_ptr<EventSubscription> Subscribe(std::set<std::string> types, uint64_t after = 0);

  // The kept events numbered above `after`, oldest first.
  std::vector<std::shared_ptr<const BusEvent>> Backlog(uint64_t after = 0) const;
  // The number of the last event published (0: none yet).
  uint64_t last_number() const;
  size_t subscribers() const;

 private:
  friend class EventSubscription;
  void Leave(EventSubscription* subscription);

  const EventBusOptions options_;
  mutable std::mutex mutex_;
  uint64_t last_number_ = 0;
  std::deque<std::shared_ptr<const BusEvent>> backlog_;
  std::list<EventSubscription*> subscriptions_;
};

}  // namespace stoa::service

#include "frameworks/service/event_bus.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/logging.hpp"

namespace stoa::service {

EventSubscription::EventSubscription(EventBus* bus, std::set<std::string> types)
    : bus_(bus), types_(std::move(types)) {}

EventSubscription::~EventSubscription() { bus_->Leave(this); }

std::vector<std::shared_ptr<const BusEvent>> EventSubscription::Next(
    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(bus_->mutex_);
  ready_.wait_for(lock, timeout, [&] { return !queue_.empty() || cut_off_ || cancelled_; });
  std::vector<std::shared_ptr<const BusEvent>> events;
  if (cut_off_ || cancelled_) return events;
  events.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return events;
}

void EventSubscription::Cancel() {
  std::lock_guard<std::mutex> lock(bus_->mutex_);
  cancelled_ = true;
  queue_.clear();
  ready_.notify_all();
}

bool EventSubscription::cut_off() const {
  std::lock_guard<std::mutex> lock(bus_->mutex_);
  return cut_off_;
}

bool EventSubscription::closed() const {
  std::lock_guard<std::mutex> lock(bus_->mutex_);
  return cut_off_ || cancelled_;
}

EventBus::EventBus(EventBusOptions options) : options_(options) {}

EventBus::~EventBus() = default;

void EventBus::Publish(const nlohmann::json& event) {
  auto published = std::make_shared<BusEvent>();
  auto type = event.find("eventType");
  published->type = type != event.end() && type->is_string() ? type->get<std::string>() : "";
  published->data = event.dump();
  if (auto plan = event.find("plan");
      plan != event.end() && plan->is_object() && plan->contains("original")) {
    nlohmann::json light = event;
    light["plan"].erase("original");
    light["plan"].erase("target");
    published->light_data = light.dump();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  published->number = ++last_number_;
  std::shared_ptr<const BusEvent> shared = std::move(published);
  backlog_.push_back(shared);
  while (backlog_.size() > options_.backlog) backlog_.pop_front();
  for (EventSubscription* subscription : subscriptions_) {
    if (subscription->cut_off_ || subscription->cancelled_ || !subscription->Wants(shared->type)) {
      continue;
    }
    if (subscription->queue_.size() >= options_.subscriber_buffer) {
      // Logged at most once per subscriber: it is dropped from here on.
      Logger("service")->warn(
          "an event stream subscriber fell {} events behind; cutting it off at event {}",
          subscription->queue_.size(), shared->number);
      subscription->cut_off_ = true;
      subscription->queue_.clear();
    } else {
      subscription->queue_.push_back(shared);
    }
    subscription->ready_.notify_all();
  }
}

std::shared_ptr<EventSubscription> EventBus::Subscribe(std::set<std::string> types,
                                                       uint64_t after) {
  std::shared_ptr<EventSubscription> subscription(new EventSubscription(this, std::move(types)));
  std::lock_guard<std::mutex> lock(mutex_);
  if (after > 0) {
    for (const auto& event : backlog_) {
      if (event->number > after && subscription->Wants(event->type)) {
        subscription->queue_.push_back(event);
      }
    }
  }
  subscriptions_.push_back(subscription.get());
  return subscription;
}

std::vector<std::shared_ptr<const BusEvent>> EventBus::Backlog(uint64_t after) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<const BusEvent>> events;
  for (const auto& event : backlog_) {
    if (event->number > after) events.push_back(event);
  }
  return events;
}

uint64_t EventBus::last_number() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_number_;
}

size_t EventBus::subscribers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return subscriptions_.size();
}

void EventBus::Leave(EventSubscription* subscription) {
  std::lock_guard<std::mutex> lock(mutex_);
  subscriptions_.remove(subscription);
}

}  // namespace stoa::service

// The core's launch queue as /v2/queue shows it (the apps waiting for
// launches, their backoff and the offers they saw), the reset of a backoff,
// and the counters /metrics shows.
#include "common/logging.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

std::vector<QueuedApp> ServiceCore::LaunchQueue() const {
  std::lock_guard<std::mutex> lock(mutex_);
  double now = Now();
  std::vector<QueuedApp> queue;
  for (const auto& [id, plan] : Plans(now)) {
    int count = plan.launches;
    if (count <= 0) continue;
    const AppDefinition& app = apps_.at(id);
    QueuedApp queued;
    queued.app = app;
    queued.count = count;
    double until = delays_.NotBefore(app);
    queued.delay_left = until > now ? until - now : 0;
    if (const AppOfferStats* stats = offer_stats_.Of(id)) {
      queued.offers = *stats;
    } else {
      queued.offers.since = now;
    }
    queue.push_back(std::move(queued));
  }
  return queue;
}

ChangeOutcome ServiceCore::ResetDelay(const PathId& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto app = apps_.find(id);
  if (app == apps_.end() || Plan(app->second, Now()).launches <= 0) {
    ChangeOutcome outcome;
    outcome.refusal = Refusal::kNotFound;
    outcome.message = "Application " + id.ToString() + " not found in tasks queue.";
    return outcome;
  }
  Logger("service")->info("the launch delay of {} was reset", id.ToString());
  delays_.Reset(id);
  Converge();  // offers are wanted again at once
  ChangeOutcome outcome;
  outcome.app = app->second;
  return outcome;
}

CoreCounters ServiceCore::Counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

}  // namespace stoa::service

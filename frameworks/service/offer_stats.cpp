#include "frameworks/service/offer_stats.hpp"

namespace stoa::service {

std::vector<FunnelStep> RejectFunnel(int processed, const ReasonCounts& declined) {
  std::vector<FunnelStep> steps;
  for (int i = 0; i < kNoMatchReasonCount; ++i) {
    steps.push_back({static_cast<NoMatchReason>(i), declined[i], processed});
    processed -= declined[i];
  }
  return steps;
}

ReasonCounts LastOffersSummary(const AppOfferStats& stats) {
  ReasonCounts counts{};
  for (const auto& [agent, unused] : stats.last_unused) {
    if (!unused.reasons.empty()) ++counts[static_cast<int>(unused.reasons.front())];
  }
  return counts;
}

void OfferStatistics::Waiting(const std::map<PathId, int>& wanted, double now) {
  for (auto it = apps_.begin(); it != apps_.end();) {
    auto want = wanted.find(it->first);
    it = want == wanted.end() || want->second <= 0 ? apps_.erase(it) : std::next(it);
  }
  for (const auto& [id, count] : wanted) {
    if (count > 0) Entry(id, now);
  }
}

AppOfferStats& OfferStatistics::Entry(const PathId& app, double now) {
  auto [it, added] = apps_.try_emplace(app);
  if (added) it->second.since = now;
  return it->second;
}

void OfferStatistics::Used(const PathId& app, double now) {
  AppOfferStats& stats = Entry(app, now);
  ++stats.processed;
  stats.last_used_at = now;
}

void OfferStatistics::Unused(const PathId& app, const Offer& offer,
                             std::vector<NoMatchReason> reasons, double now) {
  AppOfferStats& stats = Entry(app, now);
  ++stats.processed;
  ++stats.unused;
  stats.last_unused_at = now;
  if (!reasons.empty()) ++stats.rejected[static_cast<int>(reasons.front())];
  stats.last_unused[offer.agent_id] = UnusedOffer{offer, std::move(reasons), now};
}

const AppOfferStats* OfferStatistics::Of(const PathId& app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? nullptr : &it->second;
}

}  // namespace stoa::service

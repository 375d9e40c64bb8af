// What /v2/queue says about each app waiting for launches, as Marathon 1.4's
// processedOffersSummary and lastUnusedOffers: since when it waits, how many
// offers it looked at and used, why the others did not fit (each counted under
// its first reason in Marathon's funnel), and the last unused offer of each
// agent. An app's statistics start when it begins to wait and are forgotten
// when it waits no more. Not thread-safe: the core's lock guards it.
#pragma once

#include <array>
#include <map>
#include <vector>

#include "frameworks/service/offer_matcher.hpp"
#include "frameworks/service/path_id.hpp"

namespace stoa::service {

struct UnusedOffer {
  Offer offer;  // what was left of it when the app looked at it
  std::vector<NoMatchReason> reasons;
  double timestamp = 0;
};

using ReasonCounts = std::array<int, kNoMatchReasonCount>;

struct AppOfferStats {
  double since = 0;  // when the app began to wait
  int processed = 0;
  int unused = 0;
  double last_used_at = 0;  // 0: none yet
  double last_unused_at = 0;
  ReasonCounts rejected{};                     // unused offers by their first reason
  std::map<AgentId, UnusedOffer> last_unused;  // per agent, its last unused offer
};

// One step of Marathon's reject funnel: of the offers that got this far
// (processed), how many this reason turned away (declined).
struct FunnelStep {
  NoMatchReason reason;
  int declined = 0;
  int processed = 0;
};
// Every reason in funnel order, starting from `processed` offers.
std::vector<FunnelStep> RejectFunnel(int processed, const ReasonCounts& declined);
// The first reasons of the last unused offer of each agent.
ReasonCounts LastOffersSummary(const AppOfferStats& stats);

class OfferStatistics {
 public:
  // The apps that want launches (count > 0) wait from `now` on, unless they
  // already did; every other app's statistics are dropped.
  void Waiting(const std::map<PathId, int>& wanted, double now);
  // `app` launched on an offer at `now`.
  void Used(const PathId& app, double now);
  // `app` found nothing it could use in `offer` at `now`, for `reasons`.
  void Unused(const PathId& app, const Offer& offer, std::vector<NoMatchReason> reasons,
              double now);
  // nullptr when the app does not wait.
  const AppOfferStats* Of(const PathId& app) const;

 private:
  AppOfferStats& Entry(const PathId& app, double now);
  std::map<PathId, AppOfferStats> apps_;
};

}  // namespace stoa::service

// /v2/queue: the apps waiting for launches with Marathon 1.4's
// processedOffersSummary (and lastUnusedOffers with embed=lastUnusedOffers),
// and DELETE /v2/queue/{id}/delay, which ends an app's backoff.
#include <algorithm>
#include <cmath>

#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/api_util.hpp"
#include "frameworks/service/timestamp.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

json OfferJson(const Offer& offer) {
  json resources = json::array();
  for (const auto& resource : offer.resources.entries()) {
    json out = {{"name", resource.name}, {"role", resource.role}};
    switch (resource.type) {
      case Resource::Type::kScalar:
        out["scalar"] = resource.scalar();
        break;
      case Resource::Type::kRanges: {
        json ranges = json::array();
        for (const auto& range : resource.ranges) {
          ranges.push_back({{"begin", range.begin}, {"end", range.end}});
        }
        out["ranges"] = ranges;
        break;
      }
      case Resource::Type::kSet:
        out["set"] = resource.set;
        break;
    }
    resources.push_back(out);
  }
  json attributes = json::array();
  for (const auto& [name, value] : offer.attributes) {
    attributes.push_back({{"name", name}, {"text", value}});
  }
  return {{"id", offer.id},
          {"hostname", offer.hostname},
          {"agentId", offer.agent_id},
          {"resources", resources},
          {"attributes", attributes}};
}

json FunnelJson(int processed, const ReasonCounts& declined) {
  json steps = json::array();
  for (const auto& step : RejectFunnel(processed, declined)) {
    steps.push_back({{"reason", ToString(step.reason)},
                     {"declined", step.declined},
                     {"processed", step.processed}});
  }
  return steps;
}

json QueuedAppJson(const QueuedApp& queued, bool unused_offers) {
  const AppOfferStats& offers = queued.offers;
  json summary = {
      {"processedOffersCount", offers.processed},
      {"unusedOffersCount", offers.unused},
      {"rejectSummaryLastOffers",
       FunnelJson(static_cast<int>(offers.last_unused.size()), LastOffersSummary(offers))},
      {"rejectSummaryLaunchAttempt", FunnelJson(offers.processed, offers.rejected)}};
  if (offers.last_unused_at > 0)
    summary["lastUnusedOfferAt"] = FormatTimestamp(offers.last_unused_at);
  if (offers.last_used_at > 0) summary["lastUsedOfferAt"] = FormatTimestamp(offers.last_used_at);
  json out = {{"app", AppJson(queued.app)},
              {"count", queued.count},
              {"delay",
               {{"timeLeftSeconds", static_cast<int64_t>(std::floor(queued.delay_left))},
                {"overdue", queued.delay_left <= 0}}},
              {"since", FormatTimestamp(offers.since)},
              {"processedOffersSummary", summary}};
  if (unused_offers) {
    json unused = json::array();
    for (const auto& [agent, offer] : offers.last_unused) {
      json reasons = json::array();
      for (NoMatchReason reason : offer.reasons) reasons.push_back(ToString(reason));
      unused.push_back({{"offer", OfferJson(offer.offer)},
                        {"reason", reasons},
                        {"timestamp", FormatTimestamp(offer.timestamp)}});
    }
    out["lastUnusedOffers"] = unused;
  }
  return out;
}

HttpResponse Queue(ServiceCore* core, const HttpRequest& request) {
  std::vector<std::string> embeds = ParamValues(request, "embed");
  bool unused_offers = std::find(embeds.begin(), embeds.end(), "lastUnusedOffers") != embeds.end();
  json queue = json::array();
  for (const auto& queued : core->LaunchQueue())
    queue.push_back(QueuedAppJson(queued, unused_offers));
  return JsonResponse(200, {{"queue", queue}});
}

HttpResponse ResetDelay(ServiceCore* core, const HttpRequest& request) {
  ChangeOutcome outcome = core->ResetDelay(PathId::Parse(request.matches.at(0)));
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  HttpResponse response;
  response.status = 204;
  return response;
}

}  // namespace

void AddQueueRoutes(HttpServer& server, ServiceCore* core) {
  server.Route("GET", "/v2/queue/?", [core](const HttpRequest& r) { return Queue(core, r); });
  server.Route("DELETE", "/v2/queue/(.+)/delay/?",
               [core](const HttpRequest& r) { return ResetDelay(core, r); });
}

}  // namespace stoa::service

// PUT and PATCH /v2/apps with an array: several apps updated (PUT also
// creates) in one deployment, each a partial update unless
// partialUpdate=false (PUT), as Marathon's.
#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/api_util.hpp"
#include "frameworks/service/tree_plan.hpp"

namespace stoa::service {
namespace {

HttpResponse ChangeApps(ServiceCore* core, const HttpRequest& request, bool allow_create) {
  HttpResponse error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  auto partial = BoolParam(request, "partialUpdate", true, &error);
  if (!partial) return error;
  auto body = JsonBody(request, &error);
  if (!body) return error;
  bool merge = *partial || !allow_create;
  ChangeOutcome outcome = core->ChangeTree(
      [&](const AppMap& apps, const GroupMap& groups) {
        return PlanAppsUpdate(*body, merge, allow_create, apps, groups);
      },
      *force);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  return DeploymentResponse(200, outcome.deployment);
}

}  // namespace

void AddAppBatchRoutes(HttpServer& server, ServiceCore* core) {
  server.Route("PUT", "/v2/apps/?",
               [core](const HttpRequest& r) { return ChangeApps(core, r, true); });
  server.Route("PATCH", "/v2/apps/?",
               [core](const HttpRequest& r) { return ChangeApps(core, r, false); });
}

}  // namespace stoa::service

// GET /v2/endpoints and /v2/apps/{id}/endpoints (Stoa's extension): every
// app's, or one app's, instances that should get traffic (endpoints.hpp).
#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/api_util.hpp"
#include "frameworks/service/endpoints.hpp"

namespace stoa::service {

using json = nlohmann::json;

void AddEndpointsRoutes(HttpServer& server, ServiceCore* core) {
  server.Route("GET", "/v2/endpoints/?", [core](const HttpRequest&) {
    bool settling = core->HealthSettling();
    json apps = json::array();
    for (const auto& view : core->View().apps) apps.push_back(EndpointsJson(view));
    return JsonResponse(200, {{"apps", apps}, {"settling", settling}});
  });
  server.Route("GET", "/v2/apps/(.+)/endpoints/?", [core](const HttpRequest& request) {
    PathId id = PathId::Parse(request.matches.at(0));
    auto view = core->ViewApp(id);
    if (!view) return MessageResponse(404, "App '" + id.ToString() + "' does not exist");
    return JsonResponse(200, EndpointsJson(*view));
  });
}

}  // namespace stoa::service

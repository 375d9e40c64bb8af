// AddServiceApi: every route of the service's API, in the order they are tried.
#include "frameworks/service/api.hpp"

#include "frameworks/service/api_routes.hpp"

namespace stoa::service {

void AddServiceApi(HttpServer& server, ServiceCore* core, const ApiInfo* info) {
  AddGroupAppsRoute(server, core);
  AddBaseRoutes(server, core, info);
  AddAppBatchRoutes(server, core);
  AddGroupRoutes(server, core);
}

}  // namespace stoa::service

// AddServiceApi: every route of the service's API, in the order they are tried.
#include "frameworks/service/api.hpp"

#include "frameworks/service/api_routes.hpp"

namespace stoa::service {

void AddServiceApi(HttpServer& server, ServiceCore* core, const ApiInfo* info) {
  AddEndpointsRoutes(server, core);
  AddGroupAppsRoute(server, core);
  AddBaseRoutes(server, core, info);
  AddAppBatchRoutes(server, core);
  AddTaskDeleteRoutes(server, core);
  AddGroupRoutes(server, core);
  AddQueueRoutes(server, core);
  AddMetricsRoutes(server, core);
}

}  // namespace stoa::service

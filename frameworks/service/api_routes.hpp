// The API's route files, each adding its routes; AddServiceApi (api.cpp) calls
// them in the order the routes must be tried.
#pragma once

#include "common/http_server.hpp"
#include "frameworks/service/api.hpp"

namespace stoa::service {

// /v2/apps and its tasks, /v2/tasks, /v2/deployments, /v2/info, /v2/leader, /ping.
void AddBaseRoutes(HttpServer& server, ServiceCore* core, const ApiInfo* info);
// GET /v2/endpoints and /v2/apps/{id}/endpoints: before /v2/apps/{id}.
void AddEndpointsRoutes(HttpServer& server, ServiceCore* core);
// GET /v2/apps/{group}/*: before /v2/apps/{id}, which would take it.
void AddGroupAppsRoute(HttpServer& server, ServiceCore* core);
// PUT and PATCH /v2/apps with several apps.
void AddAppBatchRoutes(HttpServer& server, ServiceCore* core);
// POST /v2/tasks/delete.
void AddTaskDeleteRoutes(HttpServer& server, ServiceCore* core);
// /v2/groups.
void AddGroupRoutes(HttpServer& server, ServiceCore* core);
// /v2/queue.
void AddQueueRoutes(HttpServer& server, ServiceCore* core);
// /metrics (and /metrics/prometheus), and the counting of every HTTP answer.
void AddMetricsRoutes(HttpServer& server, ServiceCore* core);

}  // namespace stoa::service

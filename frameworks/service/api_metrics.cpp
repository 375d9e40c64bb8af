// /metrics (and /metrics/prometheus, where Marathon 1.7 serves Prometheus'
// format): the service's metrics in Prometheus' text format, HTTP answers
// counted as they go out.
#include <memory>

#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/metrics.hpp"

namespace stoa::service {

void AddMetricsRoutes(HttpServer& server, ServiceCore* core) {
  auto requests = std::make_shared<HttpRequestCounter>();
  server.OnResponse(
      [requests](const std::string& method, int status) { requests->Count(method, status); });
  auto handler = [core, requests](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body =
        RenderMetrics(core->View(), core->Counters(), core->LaunchQueue(), requests->Snapshot());
    return response;
  };
  server.Route("GET", "/metrics/?", handler);
  server.Route("GET", "/metrics/prometheus/?", handler);
}

}  // namespace stoa::service

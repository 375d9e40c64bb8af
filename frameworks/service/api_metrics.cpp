// /metrics (and /metrics/prometheus, where Marathon 1.7 serves Prometheus'
// format): the service's metrics in Prometheus' text format, or in
// Marathon's JSON for a client that accepts JSON at /metrics; HTTP answers
// counted as they go out.
#include <memory>

#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/metrics.hpp"

namespace stoa::service {

void AddMetricsRoutes(HttpServer& server, ServiceCore* core) {
  auto requests = std::make_shared<HttpRequestCounter>();
  server.OnResponse(
      [requests](const std::string& method, int status) { requests->Count(method, status); });
  auto render = [core, requests](const HttpRequest& request, bool negotiate) {
    std::string text =
        RenderMetrics(core->View(), core->Counters(), core->LaunchQueue(), requests->Snapshot());
    HttpResponse response;
    // Marathon's clients (marathon-python) ask /metrics for JSON; Prometheus,
    // curl and promtool get the text.
    if (negotiate && request.header("accept").find("application/json") != std::string::npos) {
      response.body = MetricsJson(text).dump();
      return response;
    }
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = std::move(text);
    return response;
  };
  server.Route("GET", "/metrics/?", [render](const HttpRequest& r) { return render(r, true); });
  server.Route("GET", "/metrics/prometheus/?",
               [render](const HttpRequest& r) { return render(r, false); });
}

}  // namespace stoa::service

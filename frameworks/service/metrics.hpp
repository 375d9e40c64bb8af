// /metrics of the service in Prometheus' text format (0.0.4): every metric
// with its name, type and help here, in one place; RenderMetrics writes them
// from the core's view, counters and queue, and the HTTP answers counted.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "frameworks/service/core.hpp"

namespace stoa::service {

struct MetricInfo {
  const char* name;
  const char* type;  // "gauge" or "counter"
  const char* help;
};

namespace metric {
inline constexpr MetricInfo kApps{"stoa_service_apps", "gauge", "Apps the service keeps."};
inline constexpr MetricInfo kGroups{"stoa_service_groups", "gauge",
                                    "Groups there are, the root group included."};
inline constexpr MetricInfo kInstances{"stoa_service_app_instances", "gauge",
                                       "Instances the apps ask for, all apps together."};
inline constexpr MetricInfo kTasks{"stoa_service_tasks", "gauge",
                                   "Tasks the service holds a record of, by task state."};
inline constexpr MetricInfo kLaunches{"stoa_service_task_launches_total", "counter",
                                      "Tasks launched since the service started."};
inline constexpr MetricInfo kKills{"stoa_service_task_kills_total", "counter",
                                   "Tasks the service decided to kill since it started."};
inline constexpr MetricInfo kOffers{"stoa_service_offers_total", "counter",
                                    "Offers the service used or declined since it started."};
inline constexpr MetricInfo kDeployments{"stoa_service_deployments", "gauge",
                                         "Deployments in progress."};
inline constexpr MetricInfo kDeploymentsStarted{"stoa_service_deployments_started_total", "counter",
                                                "Deployments started since the service started."};
inline constexpr MetricInfo kQueueApps{"stoa_service_launch_queue_apps", "gauge",
                                       "Apps waiting for launches."};
inline constexpr MetricInfo kQueueInstances{"stoa_service_launch_queue_instances", "gauge",
                                            "Instances waiting to be launched."};
inline constexpr MetricInfo kSubscribed{"stoa_service_subscribed", "gauge",
                                        "1 while the service is subscribed to the master."};
inline constexpr MetricInfo kHttpRequests{"stoa_service_http_requests_total", "counter",
                                          "HTTP requests answered, by method and status code."};
}  // namespace metric

// The HTTP answers by method and status. Thread-safe.
class HttpRequestCounter {
 public:
  void Count(const std::string& method, int status);
  std::map<std::pair<std::string, int>, uint64_t> Snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> counts_;
};

std::string RenderMetrics(const ServiceView& view, const CoreCounters& counters,
                          const std::vector<QueuedApp>& queue,
                          const std::map<std::pair<std::string, int>, uint64_t>& http);

// The same metrics in the JSON of Marathon's /metrics (Dropwizard's:
// "version", "gauges" {name: {"value"}}, "counters" {name: {"count"}} and
// empty "histograms", "meters", "timers"), from RenderMetrics' text; a
// sample's labels stay in its name (`stoa_service_tasks{state="TASK_RUNNING"}`).
nlohmann::json MetricsJson(const std::string& text);

}  // namespace stoa::service

// The agent's HTTP API: GET /state (frameworks, executors, tasks, sandboxes),
// /metrics, /health, /monitor/statistics (each container's usage, Mesos's field names)
// and /files/read (see SandboxFiles).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/containerizer.hpp"
#include "agent/executor_manager.hpp"
#include "agent/master_link.hpp"
#include "common/http_server.hpp"

namespace stoa::agent {

// The /state document. Resources are objects, as in the master's /state.
nlohmann::json StateJson(const AgentInfo& info, const MasterLink& link,
                         const ExecutorManager& executors, const std::string& work_dir);

// /metrics, Prometheus' text: what the agent actor knows (MetricsText, on
// its thread) and the containers' usage (UsageMetricsText, on the HTTP thread).
std::string MetricsText(const MasterLink& link, const ExecutorManager& executors);
std::string UsageMetricsText(const std::vector<ContainerUsage>& usages);

// The /monitor/statistics document.
nlohmann::json StatisticsJson(const std::vector<ContainerUsage>& usages);

// Registers every route on `http`; `state` renders /state and `metrics` the
// agent's part of /metrics (by asking the agent actor), the others run on the
// HTTP thread.
void AddAgentRoutes(HttpServer& http, std::function<std::string()> state,
                    std::function<std::string()> metrics,
                    std::shared_ptr<Containerizer> containerizer, const std::string& work_dir);

}  // namespace stoa::agent

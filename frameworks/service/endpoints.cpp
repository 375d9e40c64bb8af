#include "frameworks/service/endpoints.hpp"

#include <nlohmann/json.hpp>

namespace stoa::service {

using json = nlohmann::json;

bool InRotation(const TaskRecord& task, const AppDefinition& app) {
  if (task.state != TaskState::kRunning || task.kill_requested || task.unreachable_since > 0) {
    return false;
  }
  if (!app.health_checks.empty() && !(task.health.reported && task.health.alive)) return false;
  bool current = task.config_version == app.version_info.last_config_change_at;
  return !current || app.readiness_checks.empty() || task.health.ready;
}

json EndpointsJson(const AppView& view) {
  const AppDefinition& app = view.app;
  json service_ports = json::array(), definitions = json::array();
  for (const auto& port : app.port_definitions) {
    service_ports.push_back(port.port);
    json definition = {{"port", port.port}, {"protocol", port.protocol}, {"labels", port.labels}};
    if (!port.name.empty()) definition["name"] = port.name;
    definitions.push_back(std::move(definition));
  }
  json endpoints = json::array();
  int running = 0;
  for (const auto& task : view.tasks) {
    if (task.state == TaskState::kRunning) ++running;
    if (!InRotation(task, app)) continue;
    endpoints.push_back({{"taskId", task.id},
                         {"host", task.host},
                         {"agentId", task.agent_id},
                         {"ports", task.ports},
                         {"version", task.version}});
  }
  return {{"id", app.id.ToString()},        {"servicePorts", service_ports},
          {"portDefinitions", definitions}, {"labels", app.labels},
          {"tasksRunning", running},        {"endpoints", endpoints}};
}

}  // namespace stoa::service

#include "frameworks/service/api_json.hpp"

#include "frameworks/service/app_json.hpp"
#include "frameworks/service/timestamp.hpp"

namespace stoa::service {

using json = nlohmann::json;

Embeds ParseEmbeds(const std::vector<std::string>& values) {
  Embeds embeds;
  for (std::string value : values) {
    for (const char* prefix : {"apps.", "app."}) {
      if (value.rfind(prefix, 0) == 0) value = value.substr(std::string(prefix).size());
    }
    if (value == "count") value = "counts";
    if (value == "failures") {
      embeds.insert({"tasks", "counts", "deployments", "lastTaskFailure"});
    } else {
      embeds.insert(value);
    }
  }
  // As Marathon: tasks come with their deployments.
  if (embeds.count("tasks")) embeds.insert("deployments");
  return embeds;
}

json TaskJson(const TaskRecord& task, const AppDefinition* app) {
  json out = {{"id", task.id},
              {"appId", task.app_id.ToString()},
              {"host", task.host},
              {"ports", task.ports},
              {"servicePorts", app != nullptr ? ServicePorts(*app) : std::vector<int>{}},
              {"slaveId", task.agent_id},
              {"state", ToString(task.state)},
              {"stagedAt", FormatTimestamp(task.staged_at)},
              {"version", task.version},
              {"ipAddresses", json::array()},
              {"localVolumes", json::array()}};
  if (task.started_at > 0) out["startedAt"] = FormatTimestamp(task.started_at);
  if (app != nullptr && !app->health_checks.empty()) out["healthCheckResults"] = json::array();
  return out;
}

json TaskFailureJson(const TaskFailure& failure) {
  return {{"appId", failure.app_id.ToString()}, {"host", failure.host},
          {"message", failure.message},         {"state", ToString(failure.state)},
          {"taskId", failure.task_id},          {"timestamp", FormatTimestamp(failure.timestamp)},
          {"version", failure.version},         {"slaveId", failure.agent_id}};
}

json AppInfoJson(const AppView& view, const Embeds& embeds) {
  json out = AppJson(view.app);
  if (embeds.count("counts")) {
    int staged = 0, running = 0;
    for (const auto& task : view.tasks) {
      if (task.state == TaskState::kStaging || task.state == TaskState::kStarting) ++staged;
      if (task.state == TaskState::kRunning) ++running;
    }
    out["tasksStaged"] = staged;
    out["tasksRunning"] = running;
    out["tasksHealthy"] = 0;  // until health checks run (planned)
    out["tasksUnhealthy"] = 0;
  }
  if (embeds.count("deployments")) {
    json deployments = json::array();
    for (const auto& id : view.deployment_ids) deployments.push_back({{"id", id}});
    out["deployments"] = deployments;
  }
  if (embeds.count("tasks")) {
    json tasks = json::array();
    for (const auto& task : view.tasks) tasks.push_back(TaskJson(task, &view.app));
    out["tasks"] = tasks;
  }
  if (embeds.count("lastTaskFailure") && view.last_failure) {
    out["lastTaskFailure"] = TaskFailureJson(*view.last_failure);
  }
  if (embeds.count("readiness")) out["readinessCheckResults"] = json::array();
  return out;
}

json DeploymentInfoJson(const Deployment& deployment) {
  std::string app = deployment.app_id.ToString();
  json steps = json::array();
  for (const auto& action : deployment.steps) {
    steps.push_back({{"actions", json::array({{{"action", action}, {"app", app}}})}});
  }
  return {{"id", deployment.id},
          {"version", deployment.version},
          {"affectedApps", json::array({app})},
          {"affectedPods", json::array()},
          {"steps", steps},
          {"currentActions", json::array({{{"action", deployment.steps.back()},
                                           {"app", app},
                                           {"readinessCheckResults", json::array()}}})},
          {"currentStep", deployment.steps.size()},
          {"totalSteps", deployment.steps.size()}};
}

json DeploymentResultJson(const Deployment& deployment) {
  return {{"version", deployment.version}, {"deploymentId", deployment.id}};
}

json MessageJson(const std::string& message) { return {{"message", message}}; }

}  // namespace stoa::service

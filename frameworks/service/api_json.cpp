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

namespace {

json TimestampOrNull(double seconds) {
  return seconds > 0 ? json(FormatTimestamp(seconds)) : json(nullptr);
}

}  // namespace

json HealthJson(const TaskRecord& task) {
  const TaskHealth& health = task.health;
  return {{"alive", health.alive},
          {"consecutiveFailures", health.consecutive_failures},
          {"firstSuccess", TimestampOrNull(health.first_success)},
          {"lastFailure", TimestampOrNull(health.last_failure)},
          {"lastSuccess", TimestampOrNull(health.last_success)},
          {"lastFailureCause",
           health.last_failure_cause.empty() ? json(nullptr) : json(health.last_failure_cause)},
          {"instanceId", task.id}};
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
  // As Marathon 1.4: no key until a result came (marathon-lb reads a missing
  // key as "not known yet", an empty list as unhealthy).
  if (app != nullptr && !app->health_checks.empty() && task.health.reported) {
    out["healthCheckResults"] = json::array({HealthJson(task)});
  }
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
    int staged = 0, running = 0, healthy = 0, unhealthy = 0;
    bool checked = !view.app.health_checks.empty();
    for (const auto& task : view.tasks) {
      if (task.state == TaskState::kStaging || task.state == TaskState::kStarting) ++staged;
      if (task.state == TaskState::kRunning) ++running;
      // As Marathon counts them: tasks without a health result yet are neither.
      if (checked && task.health.reported) ++(task.health.alive ? healthy : unhealthy);
    }
    out["tasksStaged"] = staged;
    out["tasksRunning"] = running;
    out["tasksHealthy"] = healthy;
    out["tasksUnhealthy"] = unhealthy;
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
  if (embeds.count("readiness")) out["readinessCheckResults"] = ReadinessResultsJson(view);
  if (view.autoscale) {
    const AutoscaleStatus& status = *view.autoscale;
    json shown = {{status.rps ? "requestsPerSecond" : "cpuUtilization",
                   status.measured ? json(*status.measured) : json()},
                  {"measuredAt",
                   status.measured_at > 0 ? json(FormatTimestamp(status.measured_at)) : json()}};
    if (status.changed_at > 0) {
      shown["lastChange"] = {{"at", FormatTimestamp(status.changed_at)},
                             {"from", status.from},
                             {"to", status.to},
                             {"reason", status.reason}};
    }
    out["autoscaleStatus"] = shown;
  }
  return out;
}

json ReadinessResultsJson(const AppView& view) {
  json results = json::array();
  // As Marathon: readiness is checked while a deployment brings tasks of the
  // current config up.
  if (view.app.readiness_checks.empty() || view.deployment_ids.empty()) return results;
  for (const auto& task : view.tasks) {
    if (task.kill_requested || task.state != TaskState::kRunning ||
        task.config_version != view.app.version_info.last_config_change_at) {
      continue;
    }
    results.push_back({{"name", view.app.readiness_checks.front().name},
                       {"taskId", task.id},
                       {"ready", task.health.ready}});
  }
  return results;
}

json DeploymentInfoJson(const Deployment& deployment, const std::map<PathId, json>& readiness) {
  // As Marathon plans a change: first the apps that stop, then those that
  // start, then every scale and restart (of started apps too).
  auto phase = [](const std::string& action) {
    return action == "StopApplication" ? 0 : action == "StartApplication" ? 1 : 2;
  };
  std::vector<DeploymentPart> parts = DeploymentParts(deployment);
  json phases[3] = {json::array(), json::array(), json::array()};
  json current = json::array();
  json affected = json::array();
  for (const auto& part : parts) {
    if (part.steps.empty()) continue;
    std::string app = part.app_id.ToString();
    affected.push_back(app);
    for (const auto& action : part.steps) {
      phases[phase(action)].push_back({{"action", action}, {"app", app}});
    }
    auto results = readiness.find(part.app_id);
    current.push_back(
        {{"action", part.steps.back()},
         {"app", app},
         {"readinessCheckResults", results != readiness.end() ? results->second : json::array()}});
  }
  json steps = json::array();
  for (const auto& actions : phases) {
    if (!actions.empty()) steps.push_back({{"actions", actions}});
  }
  return {{"id", deployment.id},
          {"version", deployment.version},
          {"affectedApps", affected},
          {"affectedPods", json::array()},
          {"steps", steps},
          {"currentActions", current},
          {"currentStep", steps.size()},
          {"totalSteps", steps.size()}};
}

json DeploymentResultJson(const Deployment& deployment) {
  return {{"version", deployment.version}, {"deploymentId", deployment.id}};
}

json MessageJson(const std::string& message) { return {{"message", message}}; }

}  // namespace stoa::service

#include "frameworks/service/event_json.hpp"

#include "frameworks/service/app_json.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

json StepJson(const std::string& action, const PathId& app) {
  return {{"actions", json::array({{{"action", action}, {"app", app.ToString()}}})}};
}

}  // namespace

json ApiPostEventJson(const std::string& client_ip, const std::string& uri,
                      const AppDefinition& app) {
  return {{"clientIp", client_ip}, {"uri", uri}, {"appDefinition", AppJson(app)}};
}

json StatusUpdateEventJson(const TaskRecord& task, TaskState state, const std::string& message) {
  return {{"slaveId", task.agent_id},
          {"taskId", task.id},
          {"taskStatus", ToString(state)},
          {"message", message},
          {"appId", task.app_id.ToString()},
          {"host", task.host},
          {"ipAddresses", json::array()},  // as the task's ipAddresses: none known
          {"ports", task.ports},
          {"version", task.version}};
}

std::string InstanceCondition(TaskState state) {
  switch (state) {
    case TaskState::kStaging:
      return "Staging";
    case TaskState::kStarting:
      return "Starting";
    case TaskState::kRunning:
      return "Running";
    case TaskState::kKilling:
      return "Killing";
    case TaskState::kFinished:
      return "Finished";
    case TaskState::kFailed:
      return "Failed";
    case TaskState::kKilled:
      return "Killed";
    case TaskState::kError:
      return "Error";
    case TaskState::kLost:  // the service forgets a lost task, as a gone one
    case TaskState::kGone:
      return "Gone";
    case TaskState::kDropped:
      return "Dropped";
    case TaskState::kUnreachable:
      return "Unreachable";
    case TaskState::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

json InstanceChangedEventJson(const TaskRecord& task, TaskState state) {
  // One task per instance: the task id names the instance.
  return {{"instanceId", task.id},
          {"condition", InstanceCondition(state)},
          {"runSpecId", task.app_id.ToString()},
          {"agentId", task.agent_id},
          {"host", task.host},
          {"runSpecVersion", task.version}};
}

json AppTerminatedEventJson(const PathId& app) { return {{"appId", app.ToString()}}; }

json DeploymentPlanJson(const Deployment& deployment) {
  json steps = json::array();
  for (const auto& part : DeploymentParts(deployment)) {
    for (const auto& action : part.steps) steps.push_back(StepJson(action, part.app_id));
  }
  return {{"id", deployment.id}, {"steps", steps}, {"version", deployment.version}};
}

json DeploymentInfoEventJson(const Deployment& deployment, const std::string& action,
                             const PathId& app) {
  return {{"plan", DeploymentPlanJson(deployment)}, {"currentStep", StepJson(action, app)}};
}

json DeploymentSuccessEventJson(const Deployment& deployment) {
  return {{"id", deployment.id}, {"plan", DeploymentPlanJson(deployment)}};
}

json DeploymentFailedEventJson(const Deployment& deployment, const std::string& reason) {
  return {{"id", deployment.id}, {"plan", DeploymentPlanJson(deployment)}, {"reason", reason}};
}

json EventStreamEventJson(const std::string& remote_address) {
  return {{"remoteAddress", remote_address}};
}

}  // namespace stoa::service

#include "frameworks/service/records_json.hpp"

#include "frameworks/service/app_json.hpp"

namespace stoa::service {

using json = nlohmann::json;

std::optional<TaskState> TaskStateNamed(const std::string& name) {
  for (int i = 0; i < kTaskStateCount; ++i) {
    auto state = static_cast<TaskState>(i);
    if (name == ToString(state)) return state;
  }
  return std::nullopt;
}

json TaskRecordJson(const TaskRecord& task) {
  return {{"id", task.id},
          {"appId", task.app_id.ToString()},
          {"version", task.version},
          {"configVersion", task.config_version},
          {"agentId", task.agent_id},
          {"host", task.host},
          {"attributes", task.attributes},
          {"ports", task.ports},
          {"state", ToString(task.state)},
          {"stagedAt", task.staged_at},
          {"startedAt", task.started_at},
          {"unreachableSince", task.unreachable_since},
          {"killRequested", task.kill_requested},
          {"message", task.message}};
}

Result<TaskRecord> ParseTaskRecord(const json& in) {
  try {
    TaskRecord task;
    task.id = in.at("id").get<std::string>();
    task.app_id = PathId::Parse(in.at("appId").get<std::string>());
    task.version = in.at("version").get<std::string>();
    task.config_version = in.at("configVersion").get<std::string>();
    task.agent_id = in.at("agentId").get<std::string>();
    task.host = in.at("host").get<std::string>();
    task.attributes = in.value("attributes", std::map<std::string, std::string>{});
    task.ports = in.at("ports").get<std::vector<int>>();
    auto state = TaskStateNamed(in.at("state").get<std::string>());
    if (!state) return Status::Error("unknown task state " + in.at("state").dump());
    task.state = *state;
    task.staged_at = in.at("stagedAt").get<double>();
    task.started_at = in.at("startedAt").get<double>();
    task.unreachable_since = in.value("unreachableSince", 0.0);
    task.kill_requested = in.at("killRequested").get<bool>();
    task.message = in.value("message", "");
    if (task.id.empty()) return Status::Error("a task record without an id");
    return task;
  } catch (const json::exception& e) {
    return Status::Error(std::string("malformed task record: ") + e.what());
  }
}

json DeploymentJson(const Deployment& deployment) {
  json out = {{"id", deployment.id},
              {"version", deployment.version},
              {"appId", deployment.app_id.ToString()},
              {"steps", deployment.steps},
              {"startedAt", deployment.started_at}};
  if (!deployment.more_apps.empty()) {
    json more = json::array();
    for (const auto& part : deployment.more_apps) {
      more.push_back({{"appId", part.app_id.ToString()}, {"steps", part.steps}});
    }
    out["moreApps"] = more;
  }
  if (!deployment.original_versions.empty()) {
    json originals = json::object();
    for (const auto& [app, version] : deployment.original_versions) {
      originals[app.ToString()] = version;
    }
    out["originalVersions"] = originals;
  }
  if (deployment.failures > 0) out["failures"] = deployment.failures;
  if (!deployment.reverts.empty()) out["reverts"] = deployment.reverts;
  return out;
}

Result<Deployment> ParseDeployment(const json& in) {
  try {
    Deployment deployment;
    deployment.id = in.at("id").get<std::string>();
    deployment.version = in.at("version").get<std::string>();
    deployment.app_id = PathId::Parse(in.at("appId").get<std::string>());
    deployment.steps = in.at("steps").get<std::vector<std::string>>();
    deployment.started_at = in.at("startedAt").get<double>();
    for (const auto& part : in.value("moreApps", json::array())) {
      deployment.more_apps.push_back({PathId::Parse(part.at("appId").get<std::string>()),
                                      part.at("steps").get<std::vector<std::string>>()});
      if (deployment.more_apps.back().steps.empty()) {
        return Status::Error("a deployment record with an app without steps");
      }
    }
    if (auto originals = in.find("originalVersions"); originals != in.end()) {
      for (const auto& [app, version] : originals->items()) {
        deployment.original_versions[PathId::Parse(app)] = version.get<std::string>();
      }
    }
    deployment.failures = in.value("failures", 0);
    deployment.reverts = in.value("reverts", "");
    if (deployment.id.empty() || deployment.steps.empty()) {
      return Status::Error("a deployment record without an id or steps");
    }
    return deployment;
  } catch (const json::exception& e) {
    return Status::Error(std::string("malformed deployment record: ") + e.what());
  }
}

json GroupRecordJson(const GroupRecord& group) {
  std::vector<std::string> dependencies;
  for (const auto& id : group.dependencies) dependencies.push_back(id.ToString());
  return {{"id", group.id.ToString()}, {"dependencies", dependencies}, {"version", group.version}};
}

Result<GroupRecord> ParseGroupRecord(const json& in) {
  try {
    GroupRecord group;
    group.id = PathId::Parse(in.at("id").get<std::string>());
    for (const auto& id : in.value("dependencies", std::vector<std::string>{})) {
      group.dependencies.push_back(PathId::Parse(id));
    }
    group.version = in.at("version").get<std::string>();
    if (group.id.root()) return Status::Error("a group record for the root group");
    return group;
  } catch (const json::exception& e) {
    return Status::Error(std::string("malformed group record: ") + e.what());
  }
}

json StoredAppJson(const AppDefinition& app) {
  json out = AppSpecJson(app);
  out["version"] = app.version;
  out["versionInfo"] = {{"lastScalingAt", app.version_info.last_scaling_at},
                        {"lastConfigChangeAt", app.version_info.last_config_change_at}};
  return out;
}

Result<AppDefinition> ParseStoredApp(const json& in) {
  ParsedApp parsed = ParseApp(in);
  if (!parsed.app) return Status::Error("stored app is not valid: " + parsed.errors.Summary());
  try {
    parsed.app->version = in.at("version").get<std::string>();
    const json& info = in.at("versionInfo");
    parsed.app->version_info.last_scaling_at = info.at("lastScalingAt").get<std::string>();
    parsed.app->version_info.last_config_change_at =
        info.at("lastConfigChangeAt").get<std::string>();
  } catch (const json::exception& e) {
    return Status::Error(std::string("stored app without its versions: ") + e.what());
  }
  return std::move(*parsed.app);
}

}  // namespace stoa::service

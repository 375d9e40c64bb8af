#include "frameworks/service/store.hpp"

#include <nlohmann/json.hpp>

#include "common/logging.hpp"
#include "frameworks/service/records_json.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

constexpr const char* kFrameworkKey = "framework/id";

std::string AppKey(const PathId& id) { return "apps/" + id.SafePath(); }
std::string VersionsPrefix(const PathId& id) { return "versions/" + id.SafePath() + "/"; }
std::string TaskKey(const TaskId& id) { return "tasks/" + id; }
std::string DeploymentKey(const std::string& id) { return "deployments/" + id; }
std::string GroupKey(const PathId& id) { return "groups/" + id.SafePath(); }

}  // namespace

ServiceStore::ServiceStore(std::unique_ptr<Storage> storage) : state_(std::move(storage)) {}

Status ServiceStore::Put(const std::string& key, const std::string& value) {
  return state_.Put(key, value);
}

Status ServiceStore::Remove(const std::string& key) { return state_.Remove(key); }

Result<ServiceStore::Contents> ServiceStore::Load() {
  Contents contents;
  auto framework = state_.Get(kFrameworkKey);
  if (!framework.ok()) return framework.status();
  if (framework->has_value()) contents.framework_id = **framework;
  // Each prefix's records, parsed by `parse` (which says why it skips one).
  auto each = [&](const std::string& prefix, auto parse) -> Status {
    auto stored = state_.Scan(prefix);
    if (!stored.ok()) return stored.status();
    for (const auto& [key, text] : *stored) {
      json value = json::parse(text, nullptr, false);
      if (value.is_discarded()) {
        contents.skipped.push_back(key + ": not JSON");
        continue;
      }
      if (std::string why = parse(value); !why.empty())
        contents.skipped.push_back(key + ": " + why);
    }
    return Status::Ok();
  };
  Status s = each("apps/", [&](const json& value) -> std::string {
    auto app = ParseStoredApp(value);
    if (!app.ok()) {
      if (value.is_object() && value.contains("id") && value["id"].is_string()) {
        contents.unreadable_apps.insert(PathId::Parse(value["id"].get<std::string>()));
      }
      return app.error();
    }
    contents.apps.push_back(std::move(*app));
    return "";
  });
  if (!s.ok()) return s;
  s = each("tasks/", [&](const json& value) -> std::string {
    auto task = ParseTaskRecord(value);
    if (!task.ok()) return task.error();
    contents.tasks.push_back(std::move(*task));
    return "";
  });
  if (!s.ok()) return s;
  s = each("deployments/", [&](const json& value) -> std::string {
    auto deployment = ParseDeployment(value);
    if (!deployment.ok()) return deployment.error();
    contents.deployments.push_back(std::move(*deployment));
    return "";
  });
  if (!s.ok()) return s;
  s = each("groups/", [&](const json& value) -> std::string {
    auto group = ParseGroupRecord(value);
    if (!group.ok()) return group.error();
    contents.groups.push_back(std::move(*group));
    return "";
  });
  if (!s.ok()) return s;
  return contents;
}

Status ServiceStore::PutFrameworkId(const FrameworkId& id) { return Put(kFrameworkKey, id); }

Status ServiceStore::PutApp(const AppDefinition& app) {
  auto known = app_versions_.find(app.id);
  if (known == app_versions_.end()) {
    auto kept = AppVersions(app.id);
    if (!kept.ok()) return kept.status();
    known = app_versions_.emplace(app.id, std::set<std::string>(kept->begin(), kept->end())).first;
  }
  std::string value = StoredAppJson(app).dump();
  if (Status s = Put(VersionsPrefix(app.id) + app.version, value); !s.ok()) return s;
  if (Status s = Put(AppKey(app.id), value); !s.ok()) return s;
  std::set<std::string>& kept = known->second;
  kept.insert(app.version);
  // ISO 8601 sorts as time does: the first are the oldest.
  while (kept.size() > kMaxAppVersions) {
    if (Status s = Remove(VersionsPrefix(app.id) + *kept.begin()); !s.ok()) {
      // The app is written; the old version goes with a later write.
      Logger("service")->warn("cannot remove an old version of {}: {}", app.id.ToString(),
                              s.message());
      break;
    }
    kept.erase(kept.begin());
  }
  return Status::Ok();
}

Status ServiceStore::DeleteApp(const PathId& id) {
  app_versions_.erase(id);
  // The current definition goes first: an app without it is gone, whatever
  // versions a failure leaves behind (they are removed with the next delete).
  if (Status s = Remove(AppKey(id)); !s.ok()) return s;
  auto stored = state_.Scan(VersionsPrefix(id));
  if (!stored.ok()) return stored.status();
  for (const auto& [key, value] : *stored) {
    if (Status s = Remove(key); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ServiceStore::AppVersions(const PathId& id) {
  auto stored = state_.Scan(VersionsPrefix(id));
  if (!stored.ok()) return stored.status();
  std::vector<std::string> versions;  // the map is sorted, and ISO 8601 sorts as time does
  for (const auto& [key, value] : *stored)
    versions.push_back(key.substr(VersionsPrefix(id).size()));
  return versions;
}

Result<std::optional<AppDefinition>> ServiceStore::AppAtVersion(const PathId& id,
                                                                const std::string& version) {
  auto stored = state_.Get(VersionsPrefix(id) + version);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<AppDefinition>();
  json value = json::parse(**stored, nullptr, false);
  auto app = ParseStoredApp(value);
  if (!app.ok()) return app.status();
  return std::optional<AppDefinition>(std::move(*app));
}

Status ServiceStore::PutTask(const TaskRecord& task) {
  return Put(TaskKey(task.id), TaskRecordJson(task).dump());
}

Status ServiceStore::DeleteTask(const TaskId& id) { return Remove(TaskKey(id)); }

Status ServiceStore::PutDeployment(const Deployment& deployment) {
  return Put(DeploymentKey(deployment.id), DeploymentJson(deployment).dump());
}

Status ServiceStore::DeleteDeployment(const std::string& id) { return Remove(DeploymentKey(id)); }

Status ServiceStore::PutGroup(const GroupRecord& group) {
  if (group.id.root()) return Status::Error("the root group has no record");
  return Put(GroupKey(group.id), GroupRecordJson(group).dump());
}

Status ServiceStore::DeleteGroup(const PathId& id) {
  if (id.root()) return Status::Ok();
  return Remove(GroupKey(id));
}

}  // namespace stoa::service

// The core's side of the API: each change is checked, gets a version and a
// deployment, is written to the store, and only then takes effect.
#include <algorithm>

#include "common/ids.hpp"
#include "common/logging.hpp"
#include "frameworks/service/core.hpp"
#include "frameworks/service/event_json.hpp"
#include "frameworks/service/service_ports.hpp"

namespace stoa::service {
namespace {

ChangeOutcome Refused(Refusal refusal, std::string message) {
  ChangeOutcome outcome;
  outcome.refusal = refusal;
  outcome.message = std::move(message);
  return outcome;
}

ChangeOutcome UnknownApp(const PathId& id) {
  return Refused(Refusal::kNotFound, "App '" + id.ToString() + "' does not exist");
}

}  // namespace

ChangeOutcome ServiceCore::Locked(const PathId& id) const {
  ChangeOutcome outcome = Refused(Refusal::kLocked,
                                  "App is locked by one or more deployments: give force=true to "
                                  "override them, or see them at /v2/deployments");
  outcome.blocking_deployments = DeploymentsOf(id);
  return outcome;
}

Status ServiceCore::AssignServicePorts(AppDefinition& app, const AppDefinition* current) const {
  return service::AssignServicePorts(app, current, apps_, options_.service_port_min,
                                     options_.service_port_max);
}

ChangeOutcome ServiceCore::Commit(AppDefinition app, Deployment deployment, bool created) {
  auto log = Logger("service");
  std::vector<std::string> superseded = DeploymentsOf(app.id);
  if (auto current = apps_.find(app.id); current != apps_.end()) {
    deployment.original_versions[app.id] = current->second.version;
  }
  if (Status s = store_->PutDeployment(deployment); !s.ok()) {
    return Refused(Refusal::kUnavailable, "cannot store the change, try again: " + s.message());
  }
  if (Status s = store_->PutApp(app); !s.ok()) {
    store_->DeleteDeployment(deployment.id);  // best effort: an orphan one ends by itself
    return Refused(Refusal::kUnavailable, "cannot store the change, try again: " + s.message());
  }
  for (const auto& id : superseded) Abandon(id, "superseded by deployment " + deployment.id);
  log->info("{} {} at version {} (deployment {}: {})", created ? "created" : "changed",
            app.id.ToString(), app.version, deployment.id, deployment.steps.back());
  apps_[app.id] = app;
  unreadable_apps_.erase(app.id);  // readable again: its tasks are its own
  deployments_[deployment.id] = deployment;
  ++counters_.deployments_started;
  PathId group = app.id.Parent();
  Announce(deployment, &group);
  ChangeOutcome outcome;
  outcome.created = created;
  outcome.app = std::move(app);
  outcome.deployment = std::move(deployment);
  Converge();
  return outcome;
}

ChangeOutcome ServiceCore::CreateApp(AppDefinition app) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (apps_.count(app.id)) {
    return Refused(Refusal::kConflict,
                   "An app with id [" + app.id.ToString() + "] already exists.");
  }
  // Apps live in groups: an app cannot hold another app, nor be the group of one.
  for (const auto& [id, other] : apps_) {
    if (id.Contains(app.id) || app.id.Contains(id)) {
      return Refused(Refusal::kConflict, "cannot create app " + app.id.ToString() + ": app " +
                                             id.ToString() +
                                             " is on its path, and apps cannot contain apps");
    }
  }
  if (ChangeOutcome conflict = GroupConflict(app.id); conflict.refusal != Refusal::kNone) {
    return conflict;
  }
  ChangeOutcome invalid;
  if (Status s = AssignServicePorts(app, nullptr); !s.ok()) {
    invalid.refusal = Refusal::kInvalid;
    invalid.errors.Add("/portDefinitions", s.message());
    return invalid;
  }
  std::string version = versions_.Next(Now());
  app.version = version;
  app.version_info = {version, version};
  Deployment deployment{
      NewUuid(), version, app.id, {"StartApplication", "ScaleApplication"}, Now()};
  return Commit(std::move(app), std::move(deployment), true);
}

ChangeOutcome ServiceCore::UpdateApp(const PathId& id, const Builder& build, bool force,
                                     bool allow_create) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto current = apps_.find(id);
  if (current == apps_.end()) {
    if (!allow_create) return UnknownApp(id);
    ParsedApp parsed = build(nullptr);
    if (!parsed.app) {
      ChangeOutcome invalid;
      invalid.refusal = Refusal::kInvalid;
      invalid.errors = std::move(parsed.errors);
      return invalid;
    }
    parsed.app->id = id;
    lock.unlock();
    return CreateApp(std::move(*parsed.app));
  }
  if (!force && !DeploymentsOf(id).empty()) return Locked(id);
  ParsedApp parsed = build(&current->second);
  if (!parsed.app) {
    ChangeOutcome invalid;
    invalid.refusal = Refusal::kInvalid;
    invalid.errors = std::move(parsed.errors);
    return invalid;
  }
  AppDefinition app = std::move(*parsed.app);
  app.id = id;
  if (Status s = AssignServicePorts(app, &current->second); !s.ok()) {
    ChangeOutcome invalid;
    invalid.refusal = Refusal::kInvalid;
    invalid.errors.Add("/portDefinitions", s.message());
    return invalid;
  }
  std::string version = versions_.Next(Now());
  app.version = version;
  Deployment deployment{NewUuid(), version, id, {}, Now()};
  if (OnlyScaled(current->second, app)) {
    app.version_info = {version, current->second.version_info.last_config_change_at};
    deployment.steps = {"ScaleApplication"};
  } else {
    app.version_info = {version, version};
    deployment.steps = {"RestartApplication"};
  }
  return Commit(std::move(app), std::move(deployment), false);
}

ChangeOutcome ServiceCore::RestartApp(const PathId& id, bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto current = apps_.find(id);
  if (current == apps_.end()) return UnknownApp(id);
  if (!force && !DeploymentsOf(id).empty()) return Locked(id);
  AppDefinition app = current->second;
  std::string version = versions_.Next(Now());
  app.version = version;
  app.version_info = {version, version};  // a new config version: every task is replaced
  return Commit(std::move(app), Deployment{NewUuid(), version, id, {"RestartApplication"}, Now()},
                false);
}

ChangeOutcome ServiceCore::RollbackApp(const PathId& id, const std::string& version, bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto current = apps_.find(id);
  if (current == apps_.end()) return UnknownApp(id);
  if (!force && !DeploymentsOf(id).empty()) return Locked(id);
  auto stored = store_->AppAtVersion(id, version);
  if (!stored.ok())
    return Refused(Refusal::kUnavailable, "cannot read the version: " + stored.error());
  if (!stored->has_value()) {
    return Refused(Refusal::kNotFound,
                   "App '" + id.ToString() + "' does not exist in version " + version);
  }
  AppDefinition app = std::move(**stored);
  std::string next = versions_.Next(Now());
  app.version = next;
  Deployment deployment{NewUuid(), next, id, {}, Now()};
  if (OnlyScaled(current->second, app)) {
    app.version_info = {next, current->second.version_info.last_config_change_at};
    deployment.steps = {"ScaleApplication"};
  } else {
    app.version_info = {next, next};
    deployment.steps = {"RestartApplication"};
  }
  return Commit(std::move(app), std::move(deployment), false);
}

std::optional<std::vector<std::string>> ServiceCore::AppVersions(const PathId& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!apps_.count(id)) return std::nullopt;
  auto versions = store_->AppVersions(id);
  if (!versions.ok()) {
    Logger("service")->warn("cannot list the versions of {}: {}", id.ToString(), versions.error());
    return std::vector<std::string>{};
  }
  std::reverse(versions->begin(), versions->end());  // newest first, as Marathon lists them
  return std::move(*versions);
}

std::optional<AppDefinition> ServiceCore::AppAtVersion(const PathId& id,
                                                       const std::string& version) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!apps_.count(id)) return std::nullopt;
  auto stored = store_->AppAtVersion(id, version);
  if (!stored.ok() || !stored->has_value()) return std::nullopt;
  return std::move(**stored);
}

ChangeOutcome ServiceCore::DeleteApp(const PathId& id, bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto current = apps_.find(id);
  if (current == apps_.end()) return UnknownApp(id);
  if (!force && !DeploymentsOf(id).empty()) return Locked(id);
  std::string version = versions_.Next(Now());
  Deployment deployment{NewUuid(), version, id, {"StopApplication"}, Now()};
  std::vector<std::string> superseded = DeploymentsOf(id);
  if (Status s = store_->PutDeployment(deployment); !s.ok()) {
    return Refused(Refusal::kUnavailable, "cannot store the change, try again: " + s.message());
  }
  // Once the app's definition is gone its tasks are killed, even across a
  // restart: tasks of no app are killed on recovery.
  if (Status s = store_->DeleteApp(id); !s.ok()) {
    store_->DeleteDeployment(deployment.id);
    return Refused(Refusal::kUnavailable, "cannot store the change, try again: " + s.message());
  }
  for (const auto& old : superseded) Abandon(old, "superseded by deployment " + deployment.id);
  Logger("service")->info("deleted {} (deployment {})", id.ToString(), deployment.id);
  ChangeOutcome outcome;
  outcome.app = current->second;
  outcome.app.version = version;
  outcome.deployment = deployment;
  apps_.erase(current);
  failures_.erase(id);
  delays_.Reset(id);
  deployments_[deployment.id] = deployment;
  PathId group = id.Parent();
  Announce(deployment, &group);
  ++counters_.deployments_started;
  Converge();
  return outcome;
}

ChangeOutcome ServiceCore::KillTasks(const PathId& id,
                                     const std::function<bool(const TaskRecord&)>& pick, bool scale,
                                     bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto current = apps_.find(id);
  if (current == apps_.end()) return UnknownApp(id);
  std::vector<TaskId> chosen;
  std::vector<TaskRecord> records;
  for (const auto& [task_id, entry] : tasks_) {
    const TaskRecord& record = entry.record;
    if (record.app_id == id && !record.kill_requested && !IsTerminal(record.state) &&
        pick(record)) {
      chosen.push_back(task_id);
      records.push_back(record);
    }
  }
  ChangeOutcome outcome;
  if (scale && current->second.global) {
    outcome.refusal = Refusal::kInvalid;
    outcome.message = "Object is not valid";
    outcome.errors.Add("/instances",
                       "a global app cannot be scaled: it runs one instance on "
                       "every agent its constraints allow");
    return outcome;
  }
  if (scale && !force && !DeploymentsOf(id).empty()) return Locked(id);
  if (scale && !chosen.empty()) {
    // The chosen tasks count as going while the smaller app is committed, so
    // that its planner does not pick others of its own; they are killed (and
    // that written) only once the smaller app is.
    for (const auto& task_id : chosen) tasks_.at(task_id).record.kill_requested = true;
    AppDefinition app = current->second;
    app.instances = std::max(0, app.instances - static_cast<int>(chosen.size()));
    std::string version = versions_.Next(Now());
    app.version = version;
    app.version_info.last_scaling_at = version;
    outcome = Commit(std::move(app),
                     Deployment{NewUuid(), version, id, {"ScaleApplication"}, Now()}, false);
    for (const auto& task_id : chosen) tasks_.at(task_id).record.kill_requested = false;
    if (outcome.refusal != Refusal::kNone) return outcome;
  }
  for (const auto& task_id : chosen) {
    auto it = tasks_.find(task_id);
    if (it != tasks_.end()) KillTask(it->second);
  }
  outcome.tasks = std::move(records);
  Converge();
  return outcome;
}

bool ServiceCore::HealthSettling() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Now() - recovered_at_ >= kSettleSeconds) return false;
  for (const auto& [id, entry] : tasks_) {
    auto app = apps_.find(entry.record.app_id);
    if (entry.recovered && entry.record.state == TaskState::kRunning && app != apps_.end() &&
        !app->second.health_checks.empty() && !entry.record.health.reported) {
      return true;
    }
  }
  return false;
}

ServiceView ServiceCore::View() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ServiceView view;
  view.framework_id = framework_id_;
  view.subscribed = subscribed_;
  for (const auto& [id, app] : apps_) {
    AppView app_view;
    app_view.app = app;
    for (const TaskRecord* task : TasksOf(id)) app_view.tasks.push_back(*task);
    app_view.deployment_ids = DeploymentsOf(id);
    if (auto failure = failures_.find(id); failure != failures_.end()) {
      app_view.last_failure = failure->second;
    }
    if (auto status = autoscale_.find(id); status != autoscale_.end()) {
      app_view.autoscale = status->second;
    }
    view.apps.push_back(std::move(app_view));
  }
  for (const auto& [id, deployment] : deployments_) view.deployments.push_back(deployment);
  for (const auto& [id, group] : groups_) view.groups.push_back(group);
  return view;
}

std::optional<AppView> ServiceCore::ViewApp(const PathId& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto app = apps_.find(id);
  if (app == apps_.end()) return std::nullopt;
  AppView view;
  view.app = app->second;
  for (const TaskRecord* task : TasksOf(id)) view.tasks.push_back(*task);
  view.deployment_ids = DeploymentsOf(id);
  if (auto failure = failures_.find(id); failure != failures_.end()) {
    view.last_failure = failure->second;
  }
  if (auto status = autoscale_.find(id); status != autoscale_.end())
    view.autoscale = status->second;
  return view;
}

}  // namespace stoa::service

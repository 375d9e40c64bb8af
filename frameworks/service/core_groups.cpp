// The core's side of changes to several apps and groups at once (PUT /v2/apps
// with several, the group API, kills that scale): the new state is checked,
// every app that changes gets the change's version and a part of one
// deployment, and each record is written before it takes effect.
#include <algorithm>

#include "common/ids.hpp"
#include "common/logging.hpp"
#include "frameworks/service/core.hpp"
#include "frameworks/service/event_json.hpp"
#include "frameworks/service/service_ports.hpp"
#include "frameworks/service/tree_plan.hpp"

namespace stoa::service {
namespace {

constexpr const char* kSameIdentifier = "Groups and Applications may not have the same identifier.";

ChangeOutcome Invalid(const std::string& path, const std::string& message) {
  ChangeOutcome outcome;
  outcome.refusal = Refusal::kInvalid;
  outcome.errors.Add(path, message);
  return outcome;
}

ChangeOutcome Unavailable(const Status& status) {
  ChangeOutcome outcome;
  outcome.refusal = Refusal::kUnavailable;
  outcome.message = "cannot store the change, try again: " + status.message();
  return outcome;
}

// The first app of `apps` that is `id` or lies above it, other than `id`'s own entry.
const AppDefinition* AppOnPath(const std::map<PathId, AppDefinition>& apps, const PathId& id,
                               bool include_self) {
  for (PathId at = id;; at = at.Parent()) {
    if (include_self || !(at == id)) {
      auto it = apps.find(at);
      if (it != apps.end()) return &it->second;
    }
    if (at.root()) return nullptr;
  }
}

// What is wrong with `apps` and `groups` as a tree, or empty.
std::string TreeProblem(const std::map<PathId, AppDefinition>& apps,
                        const std::map<PathId, GroupRecord>& groups) {
  for (const auto& [id, app] : apps) {
    if (const AppDefinition* above = AppOnPath(apps, id, false)) {
      return "app " + id.ToString() + " lies in app " + above->id.ToString() + ": " +
             kSameIdentifier;
    }
  }
  for (const auto& [id, group] : groups) {
    if (const AppDefinition* app = AppOnPath(apps, id, true)) {
      return "group " + id.ToString() + " and app " + app->id.ToString() + ": " + kSameIdentifier;
    }
  }
  return "";
}

}  // namespace

ChangeOutcome ServiceCore::GroupConflict(const PathId& id) const {
  for (const auto& [group_id, group] : groups_) {
    if (id.Contains(group_id)) {
      return Invalid("/", "group " + group_id.ToString() + " is there: " + kSameIdentifier);
    }
  }
  return ChangeOutcome{};
}

ChangeOutcome ServiceCore::ChangeTree(const TreeBuilder& build, bool force, bool dry_run) {
  std::lock_guard<std::mutex> lock(mutex_);
  TreeChange change = build(apps_, groups_);
  if (change.refusal != Refusal::kNone) {
    ChangeOutcome outcome;
    outcome.refusal = change.refusal;
    outcome.message = std::move(change.message);
    outcome.errors = std::move(change.errors);
    return outcome;
  }
  return CommitTree(std::move(change), force, dry_run);
}

ChangeOutcome ServiceCore::CommitTree(TreeChange change, bool force, bool dry_run) {
  if (std::string problem = TreeProblem(change.apps, change.groups); !problem.empty()) {
    return Invalid("/", problem);
  }
  std::string version = versions_.Next(Now());
  struct Part {
    AppDefinition app;
    std::vector<std::string> steps;
  };
  std::vector<Part> puts;
  std::vector<PathId> removes;
  bool created = false;
  // Apps there were first, so that they keep their service ports; then the
  // new ones, each seeing the ports given before it.
  std::vector<std::pair<const PathId, AppDefinition>*> order;
  for (auto& entry : change.apps) {
    if (apps_.count(entry.first)) order.push_back(&entry);
  }
  for (auto& entry : change.apps) {
    if (!apps_.count(entry.first)) order.push_back(&entry);
  }
  for (auto* entry : order) {
    const PathId& id = entry->first;
    AppDefinition& next = entry->second;
    auto current = apps_.find(id);
    const AppDefinition* before = current == apps_.end() ? nullptr : &current->second;
    if (before != nullptr && next == *before) continue;  // untouched
    next.id = id;
    if (Status s = service::AssignServicePorts(next, before, change.apps, options_.service_port_min,
                                               options_.service_port_max);
        !s.ok()) {
      return Invalid("/portDefinitions", "app " + id.ToString() + ": " + s.message());
    }
    Part part{next, {}};
    if (before == nullptr) {
      part.app.version_info = {version, version};
      part.steps = {"StartApplication", "ScaleApplication"};
      created = true;
    } else if (change.restored.count(id)) {
      // Back to an earlier definition: the tasks of its config keep running.
      part.app.version_info = {version, next.version_info.last_config_change_at};
      part.steps = {OnlyScaled(*before, part.app) ? "ScaleApplication" : "RestartApplication"};
    } else {
      AppDefinition same = next;
      same.version = before->version;
      same.version_info = before->version_info;
      if (same == *before) continue;  // the same definition, given again
      if (OnlyScaled(*before, next)) {
        part.app.version_info = {version, before->version_info.last_config_change_at};
        part.steps = {"ScaleApplication"};
      } else {
        part.app.version_info = {version, version};
        part.steps = {"RestartApplication"};
      }
    }
    part.app.version = version;
    puts.push_back(std::move(part));
  }
  for (const auto& [id, app] : apps_) {
    if (!change.apps.count(id)) removes.push_back(id);
  }
  std::vector<GroupRecord> put_groups;
  std::vector<PathId> remove_groups;
  for (auto& [id, group] : change.groups) {
    group.id = id;
    if (group.version.empty()) group.version = version;
    auto current = groups_.find(id);
    if (current == groups_.end() || !(current->second == group)) put_groups.push_back(group);
  }
  for (const auto& [id, group] : groups_) {
    if (!change.groups.count(id)) remove_groups.push_back(id);
  }

  // Changed apps with deployments of their own are locked, unless forced.
  std::set<std::string> superseded;
  for (const auto& part : puts) {
    for (const auto& id : DeploymentsOf(part.app.id)) superseded.insert(id);
  }
  for (const auto& id : removes) {
    for (const auto& deployment : DeploymentsOf(id)) superseded.insert(deployment);
  }
  if (!force && !superseded.empty()) {
    ChangeOutcome outcome;
    outcome.refusal = Refusal::kLocked;
    outcome.message =
        "App is locked by one or more deployments: give force=true to override them, or see "
        "them at /v2/deployments";
    outcome.blocking_deployments.assign(superseded.begin(), superseded.end());
    return outcome;
  }

  ChangeOutcome outcome;
  outcome.created = created;
  outcome.deployment = Deployment{NewUuid(), version, PathId(), {}, Now()};
  Deployment& deployment = outcome.deployment;
  deployment.reverts = change.reverts;
  for (const auto& part : puts) {
    if (auto before = apps_.find(part.app.id); before != apps_.end()) {
      deployment.original_versions[part.app.id] = before->second.version;
    }
    if (deployment.steps.empty()) {
      deployment.app_id = part.app.id;
      deployment.steps = part.steps;
    } else {
      deployment.more_apps.push_back({part.app.id, part.steps});
    }
  }
  for (const auto& id : removes) {
    deployment.original_versions[id] = apps_.at(id).version;
    if (deployment.steps.empty()) {
      deployment.app_id = id;
      deployment.steps = {"StopApplication"};
    } else {
      deployment.more_apps.push_back({id, {"StopApplication"}});
    }
  }
  if (dry_run) return outcome;
  // Written first: should a later write fail, what was written is in effect
  // and the deployment follows it (memory keeps to what is stored).
  bool deploys = !deployment.steps.empty();
  if (deploys) {
    if (Status s = store_->PutDeployment(deployment); !s.ok()) return Unavailable(s);
    deployments_[deployment.id] = deployment;
    ++counters_.deployments_started;
  }
  auto log = Logger("service");
  auto finish = [&](const Status& failed) {
    if (failed.ok()) {
      for (const auto& id : superseded) {
        Abandon(id, change.reason.empty() ? "superseded by deployment " + deployment.id
                                          : change.reason);
      }
    }
    if (deploys) Announce(deployment, failed.ok() ? &change.group : nullptr);
    Converge();
    if (!failed.ok()) return Unavailable(failed);
    return outcome;
  };
  for (auto& part : puts) {
    if (Status s = store_->PutApp(part.app); !s.ok()) return finish(s);
    log->info("{} {} at version {} (deployment {})",
              apps_.count(part.app.id) ? "changed" : "created", part.app.id.ToString(), version,
              deployment.id);
    outcome.app = part.app;
    unreadable_apps_.erase(part.app.id);
    apps_[part.app.id] = std::move(part.app);
  }
  for (const auto& group : put_groups) {
    if (Status s = store_->PutGroup(group); !s.ok()) return finish(s);
    groups_[group.id] = group;
  }
  // Removed apps' tasks are killed once their definitions are gone.
  for (const auto& id : removes) {
    if (Status s = store_->DeleteApp(id); !s.ok()) return finish(s);
    log->info("deleted {} (deployment {})", id.ToString(), deployment.id);
    apps_.erase(id);
    failures_.erase(id);
    delays_.Reset(id);
  }
  for (const auto& id : remove_groups) {
    if (Status s = store_->DeleteGroup(id); !s.ok()) return finish(s);
    groups_.erase(id);
  }
  return finish(Status::Ok());
}

std::map<PathId, AppPlan> ServiceCore::Plans(double now) const {
  std::map<PathId, AppPlan> plans;
  std::set<PathId> reached;  // apps at their goal before any waits
  for (const auto& [id, app] : apps_) {
    AppPlan& plan = plans[id] = Plan(app, now);
    if (plan.goal_reached) reached.insert(id);
  }
  for (auto& [id, plan] : plans) {
    if (!plan.goal_reached && WaitsForDependencies(apps_.at(id), reached)) {
      plan = AppPlan{};  // nothing yet: what it depends on comes first
    }
  }
  return plans;
}

bool ServiceCore::WaitsForDependencies(const AppDefinition& app,
                                       const std::set<PathId>& reached) const {
  std::vector<PathId> dependencies;
  if (auto listed = app.kept.find("dependencies"); listed != app.kept.end() && listed->is_array()) {
    for (const auto& dependency : *listed) {
      if (dependency.is_string()) {
        dependencies.push_back(ResolveId(dependency.get<std::string>(), app.id.Parent()));
      }
    }
  }
  for (const auto& [id, group] : groups_) {
    if (id.Contains(app.id)) {
      dependencies.insert(dependencies.end(), group.dependencies.begin(), group.dependencies.end());
    }
  }
  if (dependencies.empty()) return false;
  // An app that depends on this one in turn is not waited for: a cycle
  // (which Marathon refuses) must not hold both for ever.
  auto depends_on_app = [&](const PathId& other) {
    auto found = apps_.find(other);
    if (found == apps_.end()) return false;
    auto listed = found->second.kept.find("dependencies");
    if (listed == found->second.kept.end() || !listed->is_array()) return false;
    for (const auto& dependency : *listed) {
      if (dependency.is_string() &&
          ResolveId(dependency.get<std::string>(), other.Parent()).Contains(app.id)) {
        return true;
      }
    }
    return false;
  };
  for (const auto& [id, deployment] : deployments_) {
    std::vector<PathId> changed = DeploymentApps(deployment);
    if (std::find(changed.begin(), changed.end(), app.id) == changed.end()) continue;
    for (const PathId& other : changed) {
      if (other == app.id || reached.count(other) || !apps_.count(other)) continue;
      for (const PathId& dependency : dependencies) {
        if (dependency.Contains(other) && !depends_on_app(other)) return true;
      }
    }
  }
  return false;
}

}  // namespace stoa::service

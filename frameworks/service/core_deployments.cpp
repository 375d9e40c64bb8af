// Deployments that end without reaching their goal: reverted by an operator
// (DELETE /v2/deployments/{id}), stopped (force), or rolled back by the core
// itself once too many tasks of the new config failed (Stoa's extension,
// upgradeStrategy.rollback).
#include <fmt/format.h>

#include "common/logging.hpp"
#include "frameworks/service/core.hpp"
#include "frameworks/service/event_json.hpp"

namespace stoa::service {
namespace {

bool Changes(const Deployment& deployment, const PathId& app, const std::string& action) {
  for (const auto& part : DeploymentParts(deployment)) {
    if (part.app_id != app) continue;
    for (const auto& step : part.steps) {
      if (step == action) return true;
    }
  }
  return false;
}

// A task that ended by itself: crashed, or killed by its health check. Not
// one lost with its agent, nor one the service killed.
bool FailedByItself(const TaskStatus& status) {
  return status.state == TaskState::kFailed || status.state == TaskState::kError ||
         (status.state == TaskState::kKilled && status.healthy == false);
}

}  // namespace

void ServiceCore::Announce(const Deployment& deployment, const PathId* group) const {
  if (group != nullptr) {
    Emit("group_change_success", {{"groupId", group->ToString()}, {"version", deployment.version}});
  }
  for (const DeploymentPart& part : DeploymentParts(deployment)) {
    for (size_t step = 0; step < part.steps.size(); ++step) {
      Emit("deployment_info", DeploymentInfoEventJson(deployment, part.steps[step], part.app_id));
      if (step + 1 < part.steps.size()) {
        Emit("deployment_step_success",
             DeploymentInfoEventJson(deployment, part.steps[step], part.app_id));
      }
    }
  }
}

void ServiceCore::Abandon(const std::string& id, const std::string& reason) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return;
  if (Status s = store_->DeleteDeployment(id); !s.ok()) {
    Logger("service")->warn("cannot delete deployment {}: {}", id, s.message());
  }
  Logger("service")->info("deployment {} ends without its goal: {}", id, reason);
  for (const DeploymentPart& part : DeploymentParts(it->second)) {
    Emit("deployment_step_failure",
         DeploymentInfoEventJson(it->second, part.steps.back(), part.app_id));
  }
  Emit("deployment_failed", DeploymentFailedEventJson(it->second, reason));
  deployments_.erase(it);
}

void ServiceCore::AddPlanStates(nlohmann::json& plan) const {
  auto it = deployments_.find(plan.value("id", ""));
  if (it == deployments_.end()) return;
  const Deployment& deployment = it->second;
  auto root = [](const std::string& version) {
    return nlohmann::json{{"id", "/"},
                          {"apps", nlohmann::json::array()},
                          {"groups", nlohmann::json::array()},
                          {"pods", nlohmann::json::array()},
                          {"dependencies", nlohmann::json::array()},
                          {"version", version}};
  };
  std::string before;  // the latest version among the apps it changes, as they were
  for (const auto& [id, version] : deployment.original_versions) before = std::max(before, version);
  nlohmann::json original = root(before.empty() ? deployment.version : before);
  nlohmann::json target = root(deployment.version);
  for (const PathId& id : DeploymentApps(deployment)) {
    if (auto app = apps_.find(id); app != apps_.end()) {
      target["apps"].push_back(AppSpecJson(app->second));
    }
    auto version = deployment.original_versions.find(id);
    if (version == deployment.original_versions.end()) continue;
    auto stored = store_->AppAtVersion(id, version->second);
    if (stored.ok() && stored->has_value()) original["apps"].push_back(AppSpecJson(**stored));
  }
  plan["original"] = std::move(original);
  plan["target"] = std::move(target);
}

ChangeOutcome ServiceCore::CancelDeployment(const std::string& id, bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  ChangeOutcome outcome;
  auto it = deployments_.find(id);
  if (it == deployments_.end()) {
    outcome.refusal = Refusal::kNotFound;
    outcome.message = "DeploymentPlan " + id + " does not exist";
    return outcome;
  }
  if (!force) {
    Deployment reverted = it->second;
    return Revert(reverted, "reverted through DELETE /v2/deployments/" + id);
  }
  outcome.deployment = it->second;
  Abandon(id, "stopped through DELETE /v2/deployments/" + id +
                  "?force=true: the apps stay as they are");
  Converge();
  return outcome;
}

ChangeOutcome ServiceCore::Revert(const Deployment& reverted, const std::string& reason) {
  auto log = Logger("service");
  TreeChange change;
  change.apps = apps_;
  change.groups = groups_;
  change.reverts = reverted.id;
  for (const PathId& id : DeploymentApps(reverted)) {
    auto original = reverted.original_versions.find(id);
    if (original == reverted.original_versions.end()) {
      // Created by it: removed. (A deployment recorded before original
      // versions were kept says nothing of what was: left as it is.)
      if (Changes(reverted, id, "StartApplication")) change.apps.erase(id);
      continue;
    }
    auto stored = store_->AppAtVersion(id, original->second);
    if (!stored.ok()) {
      ChangeOutcome outcome;
      outcome.refusal = Refusal::kUnavailable;
      outcome.message = "cannot read version " + original->second + " of " + id.ToString() +
                        ", try again: " + stored.error();
      return outcome;
    }
    if (!stored->has_value()) {
      // Versions go with their app: a removed app stays removed.
      log->warn("cannot restore {} at version {}: no such version is kept", id.ToString(),
                original->second);
      continue;
    }
    change.apps[id] = std::move(**stored);
    change.restored.insert(id);
  }
  change.reason = reason;
  ChangeOutcome outcome = CommitTree(std::move(change), /*force=*/true);
  if (outcome.refusal != Refusal::kNone) return outcome;
  if (outcome.deployment.steps.empty()) {
    Abandon(reverted.id, reason + " (nothing could be changed back)");
    outcome.refusal = Refusal::kConflict;
    outcome.message = "Deployment " + reverted.id +
                      " is stopped, but nothing it changed can be changed back (a removed app "
                      "stays removed)";
    return outcome;
  }
  log->warn("deployment {} failed: {}; deployment {} reverts it", reverted.id, reason,
            outcome.deployment.id);
  return outcome;
}

void ServiceCore::CountFailure(const TaskRecord& record, const TaskStatus& status) {
  if (!FailedByItself(status)) return;
  auto app = apps_.find(record.app_id);
  if (app == apps_.end() ||
      record.config_version != app->second.version_info.last_config_change_at) {
    return;  // a task of an older config: its failure says nothing of the new one
  }
  RollbackPolicy policy = app->second.upgrade_strategy.rollback_policy();
  if (!policy.enabled) return;
  for (const std::string& id : DeploymentsOf(record.app_id)) {
    Deployment& deployment = deployments_.at(id);
    // Only a change of config has a version to go back to.
    if (!deployment.reverts.empty() || !deployment.original_versions.count(record.app_id) ||
        !Changes(deployment, record.app_id, "RestartApplication")) {
      continue;
    }
    ++deployment.failures;
    if (Status s = store_->PutDeployment(deployment); !s.ok()) {
      Logger("service")->warn("cannot store deployment {}'s failures: {}", id, s.message());
    }
    if (deployment.failures < policy.max_failures) continue;
    std::string reason = fmt::format(
        "{} tasks of {} at version {} failed (the last, {}: {} {}); rolled back to version {} "
        "(upgradeStrategy.rollback.maxFailures is {})",
        deployment.failures, record.app_id.ToString(), app->second.version, record.id,
        ToString(status.state), status.message, deployment.original_versions.at(record.app_id),
        policy.max_failures);
    Deployment failed = deployment;
    ChangeOutcome outcome = Revert(failed, reason);
    if (outcome.refusal != Refusal::kNone) {
      Logger("service")->error("cannot roll back deployment {}: {}", id, outcome.message);
    }
    return;  // Revert changed the deployments
  }
}

}  // namespace stoa::service

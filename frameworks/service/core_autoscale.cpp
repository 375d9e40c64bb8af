// The core's side of autoscaling: which apps the autoscaler looks at, and a
// decision carried out as a scale deployment with its reason in an event.
#include "common/logging.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

std::vector<AutoscaleTarget> ServiceCore::AutoscaleTargets() const {
  std::lock_guard<std::mutex> lock(mutex_);
  double now = Now();
  std::vector<AutoscaleTarget> targets;
  for (const auto& [id, app] : apps_) {
    if (!app.autoscale || !DeploymentsOf(id).empty()) continue;
    AutoscaleTarget target{id, *app.autoscale, app.instances, app.cpus, 1e18, {}};
    if (auto status = autoscale_.find(id);
        status != autoscale_.end() && status->second.changed_at) {
      target.since_change = now - status->second.changed_at;
    }
    for (const TaskRecord* task : TasksOf(id)) {
      auto agent = agents_.find(task->agent_id);
      if (task->state != TaskState::kRunning || agent == agents_.end() ||
          agent->second.http_address.empty()) {
        continue;
      }
      target.tasks.emplace_back(task->id, agent->second.http_address);
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

void ServiceCore::Autoscale(const PathId& id, std::optional<double> measured,
                            const std::optional<AutoscaleDecision>& decision) {
  int from = 0;
  std::string figure = "cpuUtilization";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto app = apps_.find(id);
    if (app == apps_.end()) return;
    from = app->second.instances;
    AutoscaleStatus& status = autoscale_[id];
    status.measured = measured;
    status.rps = app->second.autoscale && app->second.autoscale->target_rps > 0;
    status.measured_at = Now();
    if (status.rps) figure = "requestsPerSecond";
  }
  if (!decision || decision->instances == from) return;
  ChangeOutcome outcome = ChangeTree(
      [&](const std::map<PathId, AppDefinition>& apps,
          const std::map<PathId, GroupRecord>& groups) {
        TreeChange change;
        change.apps = apps;
        change.groups = groups;
        if (auto app = change.apps.find(id); app != change.apps.end()) {
          app->second.instances = decision->instances;
        }
        return change;
      },
      false);
  std::lock_guard<std::mutex> lock(mutex_);
  if (outcome.refusal != Refusal::kNone) {
    Logger("service")->warn("autoscaling {} to {} instances was refused: {}", id.ToString(),
                            decision->instances, outcome.message);
    return;
  }
  AutoscaleStatus& status = autoscale_[id];
  status.changed_at = Now();
  status.from = from;
  status.to = decision->instances;
  status.reason = decision->reason;
  Logger("service")->info("autoscaling {}: {}", id.ToString(), decision->reason);
  Emit("autoscale_event", {{"appId", id.ToString()},
                           {"from", from},
                           {"to", decision->instances},
                           {"reason", decision->reason},
                           {figure, measured ? nlohmann::json(*measured) : nlohmann::json()},
                           {"deploymentId", outcome.deployment.id}});
}

}  // namespace stoa::service

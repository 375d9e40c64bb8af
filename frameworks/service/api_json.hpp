// The JSON bodies of the service's HTTP API, in Marathon's shapes: an app with
// its embedded tasks, counts, deployments and last failure; tasks;
// deployments; deployment results; error bodies.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "frameworks/service/core.hpp"

namespace stoa::service {

// What to embed in an app: "tasks", "counts", "deployments", "lastTaskFailure",
// "readiness" (Marathon's embed values without their "app."/"apps." prefix).
using Embeds = std::set<std::string>;
// The embeds a request asked for (embed=apps.tasks&embed=apps.counts); the
// shorthand "failures" stands for tasks, counts, deployments and lastTaskFailure.
Embeds ParseEmbeds(const std::vector<std::string>& values);

nlohmann::json AppInfoJson(const AppView& view, const Embeds& embeds);
// With healthCheckResults (Marathon's Health, one per health check that
// reported) when `app` has health checks.
nlohmann::json TaskJson(const TaskRecord& task, const AppDefinition* app);
// One task's health as Marathon shows it: alive, consecutiveFailures,
// firstSuccess, lastSuccess, lastFailure (ISO timestamps or null),
// lastFailureCause and instanceId.
nlohmann::json HealthJson(const TaskRecord& task);
// `readiness`: ReadinessResultsJson of the apps it changes, for their current actions.
nlohmann::json DeploymentInfoJson(const Deployment& deployment,
                                  const std::map<PathId, nlohmann::json>& readiness = {});
// Marathon's readinessCheckResults of an app: {name, taskId, ready} for each
// running task of its current config while a deployment is in progress.
nlohmann::json ReadinessResultsJson(const AppView& view);
// {"version": ..., "deploymentId": ...}
nlohmann::json DeploymentResultJson(const Deployment& deployment);
nlohmann::json TaskFailureJson(const TaskFailure& failure);
// {"message": ...}
nlohmann::json MessageJson(const std::string& message);

}  // namespace stoa::service

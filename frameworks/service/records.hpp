// What the service framework keeps about what it runs: a record per task it
// launched (written before the launch) and one per deployment in progress
// (written with the change that started it). With the apps, these are its
// whole state; everything else is learned again from the master.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "frameworks/service/path_id.hpp"
#include "protocols/messages.hpp"

namespace stoa::service {

// What the executor's health and readiness checks last reported of a task.
// Not stored: after a failover, reconciliation's answers report it again.
struct TaskHealth {
  bool reported = false;  // a health result came (apps without health checks: never)
  bool alive = false;     // the last result
  int consecutive_failures = 0;
  double first_success = 0;  // seconds since the epoch; 0: never
  double last_success = 0;
  double last_failure = 0;
  std::string last_failure_cause;
  bool ready = false;  // the readiness check passed (apps without one: unused)
  bool operator==(const TaskHealth&) const = default;
};

struct TaskRecord {
  TaskId id;
  PathId app_id;
  std::string version;  // the app's version it was launched from
  std::string
      config_version;  // the app's lastConfigChangeAt then: tasks of older ones are replaced
  AgentId agent_id;
  std::string host;
  std::map<std::string, std::string> attributes;  // the agent's, for constraints
  std::vector<int> ports;  // host ports, in the order of the app's port definitions
  TaskState state = TaskState::kStaging;
  double staged_at = 0;          // seconds since the epoch
  double started_at = 0;         // first RUNNING; 0: not yet
  double unreachable_since = 0;  // 0: reachable
  bool kill_requested = false;   // the service decided to kill it (written before the kill)
  std::string message;           // of the last status update
  TaskHealth health;             // not stored (see TaskHealth)

  bool operator==(const TaskRecord&) const = default;
};

// One more app a deployment changes, with its own steps (as Deployment::steps).
struct DeploymentPart {
  PathId app_id;
  std::vector<std::string> steps;
  bool operator==(const DeploymentPart&) const = default;
};

// A change to an app (or several, at once) being carried out, as
// /v2/deployments shows it.
struct Deployment {
  std::string id;
  std::string version;  // the app version it deploys
  PathId app_id;
  // One action per step: StartApplication, ScaleApplication, RestartApplication,
  // StopApplication. The last step is the one that runs until the app's goal is met.
  std::vector<std::string> steps;
  double started_at = 0;
  // The other apps the same deployment changes (PUT /v2/apps with several,
  // the group API); it ends when each of them, and app_id, meets its goal.
  std::vector<DeploymentPart> more_apps = {};
  // The version each changed app had before (an app it creates has none):
  // what DELETE /v2/deployments/{id} and the automatic rollback go back to.
  std::map<PathId, std::string> original_versions = {};
  // Tasks of the new config that failed since it started (automatic rollback).
  int failures = 0;
  // The deployment this one reverts (a revert is never rolled back itself).
  std::string reverts = {};

  bool operator==(const Deployment&) const = default;
};

// Every app a deployment changes with its steps: app_id's first, then more_apps.
inline std::vector<DeploymentPart> DeploymentParts(const Deployment& deployment) {
  std::vector<DeploymentPart> parts{{deployment.app_id, deployment.steps}};
  parts.insert(parts.end(), deployment.more_apps.begin(), deployment.more_apps.end());
  return parts;
}

// Every app a deployment changes: app_id first, then more_apps.
inline std::vector<PathId> DeploymentApps(const Deployment& deployment) {
  std::vector<PathId> apps{deployment.app_id};
  for (const auto& part : deployment.more_apps) apps.push_back(part.app_id);
  return apps;
}

// A group that exists of its own (created by the group API), not only because
// apps live in it. Groups holding apps exist without a record.
struct GroupRecord {
  PathId id;
  std::vector<PathId> dependencies;
  std::string version;  // the last change through the group API
  bool operator==(const GroupRecord&) const = default;
};

}  // namespace stoa::service

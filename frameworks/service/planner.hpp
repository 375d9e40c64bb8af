// What an app needs next, from its definition and its task records alone:
// how many instances to launch, which tasks to kill (scaling down with the
// app's killSelection, replacing tasks of an older config version within the
// upgradeStrategy, killing everything of an app that was deleted), which
// unreachable tasks to forget, and whether the app's goal is met (which ends
// its deployment). Pure and deterministic: no clock of its own, no I/O; the
// offer matcher and the HTTP layer stay outside. A task counts as ready once
// it runs, passed its health check (apps with health checks) and its
// readiness check (tasks of the current config of apps with one).
#pragma once

#include <vector>

#include "frameworks/service/app.hpp"
#include "frameworks/service/records.hpp"

namespace stoa::service {

struct AppPlan {
  int launches = 0;              // instances to launch now
  std::vector<TaskId> kills;     // tasks to kill now
  std::vector<TaskId> expunges;  // unreachable tasks to forget (and kill should they return)
  bool goal_reached = false;     // nothing more to do: the app's deployment is done
};

// `app` is null for an app that was deleted. `tasks` are the records of the
// app's tasks (none terminal); `now` is in seconds since the epoch.
AppPlan PlanApp(const AppDefinition* app, const std::vector<const TaskRecord*>& tasks, double now);

// A task that counts as one of the app's instances: not killed, not
// unreachable for longer than the app's unreachableStrategy allows.
bool IsActive(const TaskRecord& task, const AppDefinition* app, double now);

}  // namespace stoa::service

#include "frameworks/service/planner.hpp"

#include <algorithm>
#include <cmath>

namespace stoa::service {
namespace {

bool Unreachable(const TaskRecord& task) {
  return task.state == TaskState::kUnreachable && task.unreachable_since > 0;
}

// Whether a task serves. One of the app's current config: running, healthy
// when the app has health checks (Marathon counts a task healthy only after a
// passed check) and past its readiness check. One of an older config (whose
// checks may differ): running and not reported unhealthy.
bool Ready(const TaskRecord& task, const AppDefinition& app) {
  if (task.state != TaskState::kRunning) return false;
  if (task.config_version != app.version_info.last_config_change_at) {
    return !(task.health.reported && !task.health.alive);
  }
  if (!app.health_checks.empty() && !(task.health.reported && task.health.alive)) return false;
  return app.readiness_checks.empty() || task.health.ready;
}

// Orders tasks most expendable first: those not running yet, then those out
// of reach, then by age as the app's killSelection says.
void SortForKilling(std::vector<const TaskRecord*>& tasks, KillSelection selection) {
  auto rank = [](const TaskRecord* t) {
    if (t->state == TaskState::kRunning) return 2;
    if (t->state == TaskState::kUnreachable) return 1;
    return 0;
  };
  std::stable_sort(tasks.begin(), tasks.end(), [&](const TaskRecord* a, const TaskRecord* b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (a->staged_at != b->staged_at) {
      return selection == KillSelection::kYoungestFirst ? a->staged_at > b->staged_at
                                                        : a->staged_at < b->staged_at;
    }
    return a->id < b->id;
  });
}

}  // namespace

bool IsActive(const TaskRecord& task, const AppDefinition* app, double now) {
  if (task.kill_requested || IsTerminal(task.state)) return false;
  if (app != nullptr && Unreachable(task) && app->unreachable_strategy.enabled &&
      now - task.unreachable_since >= app->unreachable_strategy.inactive_after_seconds) {
    return false;  // inactive: its replacement is launched
  }
  return true;
}

AppPlan PlanApp(const AppDefinition* app, const std::vector<const TaskRecord*>& tasks, double now) {
  AppPlan plan;
  bool killing = false;  // kills asked for earlier, not finished yet
  std::vector<const TaskRecord*> current, old;
  for (const TaskRecord* task : tasks) {
    if (IsTerminal(task->state)) continue;
    if (task->kill_requested) {
      killing = true;
      continue;
    }
    if (app == nullptr) {
      plan.kills.push_back(task->id);
      continue;
    }
    if (Unreachable(*task) && app->unreachable_strategy.enabled &&
        now - task->unreachable_since >= app->unreachable_strategy.expunge_after_seconds) {
      plan.expunges.push_back(task->id);
      continue;
    }
    if (!IsActive(*task, app, now)) continue;
    (task->config_version == app->version_info.last_config_change_at ? current : old)
        .push_back(task);
  }
  if (app == nullptr) {
    plan.goal_reached = plan.kills.empty() && !killing;
    return plan;
  }
  const int target = app->instances;
  const int now_current = static_cast<int>(current.size());
  if (old.empty()) {
    if (now_current < target) plan.launches = target - now_current;
    if (now_current > target) {
      SortForKilling(current, app->kill_selection);
      for (int i = 0; i < now_current - target; ++i) plan.kills.push_back(current[i]->id);
    }
    bool all_ready = std::all_of(current.begin(), current.end(),
                                 [&](const TaskRecord* t) { return Ready(*t, *app); });
    plan.goal_reached = now_current == target && all_ready && !killing && plan.expunges.empty();
    return plan;
  }

  // Replacing tasks of an older config version: at most `max_total` tasks at
  // once, and at least `min_ready` of them ready all along.
  const UpgradeStrategy& strategy = app->upgrade_strategy;
  const int max_total =
      target + static_cast<int>(std::floor(target * strategy.maximum_over_capacity + 1e-9));
  const int min_ready =
      static_cast<int>(std::ceil(target * strategy.minimum_health_capacity - 1e-9));
  const int total = now_current + static_cast<int>(old.size());
  plan.launches = std::max(0, std::min(target - now_current, max_total - total));
  auto ready_one = [&](const TaskRecord* t) { return Ready(*t, *app); };
  int ready = static_cast<int>(std::count_if(current.begin(), current.end(), ready_one)) +
              static_cast<int>(std::count_if(old.begin(), old.end(), ready_one));
  SortForKilling(old, app->kill_selection);
  int may_kill_ready = std::max(0, ready - min_ready);
  for (const TaskRecord* task : old) {
    if (!ready_one(task)) {
      plan.kills.push_back(task->id);  // serves nobody: costs no capacity
    } else if (may_kill_ready > 0) {
      plan.kills.push_back(task->id);
      --may_kill_ready;
    }
  }
  bool waiting_for_new = std::any_of(current.begin(), current.end(),
                                     [&](const TaskRecord* t) { return !ready_one(t); });
  if (plan.launches == 0 && plan.kills.empty() && !waiting_for_new && !killing) {
    // No room to start a new one and no capacity to spare (for instance
    // minimumHealthCapacity 1 with maximumOverCapacity 0): one old task goes first.
    plan.kills.push_back(old.front()->id);
  }
  return plan;
}

}  // namespace stoa::service

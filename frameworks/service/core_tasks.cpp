// Kills of tasks named by id, across apps (POST /v2/tasks/delete), with
// Marathon's scale (the apps shrink, one deployment) and wipe (the records
// are forgotten at once and the apps replace them).
#include <algorithm>

#include "common/logging.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

ChangeOutcome ServiceCore::KillTasksById(const std::vector<TaskId>& ids, bool scale, bool wipe,
                                         bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TaskId> chosen;
  std::vector<TaskRecord> records;
  std::map<PathId, int> per_app;
  for (const auto& id : ids) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) continue;
    const TaskRecord& record = it->second.record;
    if (!apps_.count(record.app_id) || IsTerminal(record.state)) continue;
    if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) continue;
    // A wipe also forgets a task whose kill was already asked for.
    if (record.kill_requested && !wipe) continue;
    chosen.push_back(id);
    records.push_back(record);
    ++per_app[record.app_id];
  }
  TreeChange smaller;
  for (const auto& [app, count] : per_app) {
    if (scale && apps_.at(app).global) {
      ChangeOutcome outcome;
      outcome.refusal = Refusal::kInvalid;
      outcome.errors.Add("/instances", "app " + app.ToString() +
                                           " is global and cannot be scaled: it runs one "
                                           "instance on every agent its constraints allow");
      return outcome;
    }
  }
  if (scale) {
    smaller.apps = apps_;
    smaller.groups = groups_;
    for (const auto& [app, count] : per_app) {
      AppDefinition& next = smaller.apps.at(app);
      next.instances = std::max(0, next.instances - count);
    }
    // Refused (locked) before anything is killed.
    ChangeOutcome check = CommitTree(smaller, force, /*dry_run=*/true);
    if (check.refusal != Refusal::kNone) return check;
  }
  // The chosen tasks are killed before the apps shrink, so that the planner
  // does not pick others to shed.
  auto log = Logger("service");
  for (const auto& id : chosen) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) continue;
    if (!wipe) {
      KillTask(it->second);
      continue;
    }
    log->info("wiping task {} of {}: killed and forgotten", id,
              it->second.record.app_id.ToString());
    actions_->Kill(id, it->second.record.agent_id);
    if (!it->second.record.kill_requested) ++counters_.tasks_killed;
    ForgetTask(id);
  }
  ChangeOutcome outcome;
  if (scale) {
    outcome = CommitTree(std::move(smaller), force);
    if (outcome.refusal != Refusal::kNone) return outcome;
  }
  outcome.tasks = std::move(records);
  Converge();
  return outcome;
}

}  // namespace stoa::service

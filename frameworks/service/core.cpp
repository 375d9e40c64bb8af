// The core's recovery, subscription and the loop that keeps every app at its
// plan (kills, expunges, deployments done, whether offers are wanted).
#include "frameworks/service/core.hpp"

#include "common/logging.hpp"
#include "frameworks/service/endpoints.hpp"
#include "frameworks/service/event_json.hpp"
#include "frameworks/service/planner.hpp"

namespace stoa::service {

ServiceCore::ServiceCore(ServiceStore* store, sdk::SchedulerActions* actions, CoreOptions options,
                         std::function<double()> clock)
    : store_(store), actions_(actions), options_(std::move(options)), clock_(std::move(clock)) {
  if (!options_.on_fatal) {
    options_.on_fatal = [](const std::string& why) {
      Logger("service")->critical("{}: memory and storage may now disagree", why);
    };
  }
}

Status ServiceCore::Recover() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto contents = store_->Load();
  if (!contents.ok()) return Status::Error("cannot read the service's state: " + contents.error());
  auto log = Logger("service");
  recovered_at_ = Now();
  for (const auto& why : contents->skipped) log->error("skipped an unreadable record: {}", why);
  unreadable_apps_ = contents->unreadable_apps;
  for (const auto& id : unreadable_apps_) {
    log->error("the tasks of {} are left alone: its definition cannot be read", id.ToString());
  }
  framework_id_ = contents->framework_id;
  for (auto& app : contents->apps) {
    versions_.Observe(app.version);
    PathId id = app.id;
    apps_[id] = std::move(app);
  }
  double now = Now();
  for (auto& task : contents->tasks) {
    TaskEntry entry;
    entry.recovered = true;
    entry.record = std::move(task);
    entry.confirmed = false;  // until the master says how it is
    entry.last_update = now;
    tasks_[entry.record.id] = std::move(entry);
  }
  for (auto& deployment : contents->deployments) {
    versions_.Observe(deployment.version);
    deployments_[deployment.id] = std::move(deployment);
  }
  for (auto& group : contents->groups) {
    versions_.Observe(group.version);
    PathId id = group.id;
    groups_[id] = std::move(group);
  }
  log->info("recovered {} apps, {} groups, {} tasks and {} deployments (framework {})",
            apps_.size(), groups_.size(), tasks_.size(), deployments_.size(),
            framework_id_.empty() ? "not yet registered" : framework_id_);
  return Status::Ok();
}

FrameworkId ServiceCore::framework_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return framework_id_;
}

void ServiceCore::Subscribed(const FrameworkId& framework_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (framework_id != framework_id_) {
    // Before any launch: a restart must fail over to this framework, or its
    // tasks would be orphaned.
    if (Status s = store_->PutFrameworkId(framework_id); !s.ok()) {
      options_.on_fatal("cannot store the framework id " + framework_id + ": " + s.message());
      return;
    }
    framework_id_ = framework_id;
  }
  Logger("service")->info("subscribed as framework {}; reconciling {} tasks", framework_id,
                          tasks_.size());
  subscribed_ = true;
  suppressed_ = false;
  // Explicit reconciliation of every task we hold, then an implicit one to
  // learn of tasks we do not (which are killed).
  for (auto& [id, entry] : tasks_) entry.confirmed = false;
  implicit_done_ = false;
  ReconcileUnconfirmed();
  Converge();
}

void ServiceCore::Disconnected() {
  std::lock_guard<std::mutex> lock(mutex_);
  subscribed_ = false;
}

void ServiceCore::ReconcileUnconfirmed() {
  std::vector<std::pair<TaskId, AgentId>> pairs;
  for (const auto& [id, entry] : tasks_) {
    if (!entry.confirmed) pairs.emplace_back(id, entry.record.agent_id);
  }
  double now = Now();
  if (!pairs.empty()) {
    actions_->Reconcile(pairs);
    last_explicit_reconcile_ = now;
  } else if (!implicit_done_) {
    actions_->Reconcile({});
    implicit_done_ = true;
    last_implicit_reconcile_ = now;
  }
}

std::vector<const TaskRecord*> ServiceCore::TasksOf(const PathId& app) const {
  std::vector<const TaskRecord*> tasks;
  for (const auto& [id, entry] : tasks_) {
    if (entry.record.app_id == app) tasks.push_back(&entry.record);
  }
  return tasks;
}

std::vector<std::string> ServiceCore::DeploymentsOf(const PathId& app) const {
  std::vector<std::string> ids;
  for (const auto& [id, deployment] : deployments_) {
    for (const PathId& changed : DeploymentApps(deployment)) {
      if (changed == app) {
        ids.push_back(id);
        break;
      }
    }
  }
  return ids;
}

bool ServiceCore::PutTaskOrDie(const TaskRecord& record) {
  if (Status s = store_->PutTask(record); !s.ok()) {
    options_.on_fatal("cannot store the record of task " + record.id + ": " + s.message());
    return false;
  }
  return true;
}

void ServiceCore::KillTask(TaskEntry& entry) {
  if (!entry.record.kill_requested) {
    auto app = apps_.find(entry.record.app_id);
    bool drain = options_.kill_drain > 0 && app != apps_.end() && !entry.record.ports.empty() &&
                 InRotation(entry.record, app->second);
    entry.record.kill_requested = true;
    if (!PutTaskOrDie(entry.record)) return;
    ++counters_.tasks_killed;
    if (drain) {
      // Out of the endpoints now; the kill goes when the drain is over (Tick).
      entry.drain_until = Now() + options_.kill_drain;
      Logger("service")->info("draining task {} of {} for {} s before its kill", entry.record.id,
                              entry.record.app_id.ToString(), options_.kill_drain);
      Emit("instance_draining_event", {{"appId", entry.record.app_id.ToString()},
                                       {"taskId", entry.record.id},
                                       {"instanceId", entry.record.id},
                                       {"host", entry.record.host},
                                       {"ports", entry.record.ports},
                                       {"drainSeconds", options_.kill_drain}});
      return;
    }
    Logger("service")->info("killing task {} of {}", entry.record.id,
                            entry.record.app_id.ToString());
  }
  if (entry.drain_until > Now()) return;  // still draining
  entry.drain_until = 0;
  actions_->Kill(entry.record.id, entry.record.agent_id);
  entry.last_kill_sent = Now();
}

void ServiceCore::ForgetTask(const TaskId& id) {
  if (Status s = store_->DeleteTask(id); !s.ok()) {
    // Harmless: after a restart the master says the task is gone, and the record goes then.
    Logger("service")->warn("cannot delete the record of ended task {}: {}", id, s.message());
  }
  tasks_.erase(id);
}

void ServiceCore::Converge() {
  double now = Now();
  std::map<PathId, int> wanted;
  std::set<PathId> goals;
  std::set<PathId> seen;
  auto apply = [&](const PathId& id, const AppPlan& plan) {
    for (const auto& task_id : plan.kills) {
      auto it = tasks_.find(task_id);
      if (it != tasks_.end()) KillTask(it->second);
    }
    for (const auto& task_id : plan.expunges) {
      auto it = tasks_.find(task_id);
      if (it == tasks_.end()) continue;
      Logger("service")->info("task {} of {} was unreachable too long; forgetting it", task_id,
                              id.ToString());
      actions_->Kill(task_id, it->second.record.agent_id);  // should it ever come back
      ForgetTask(task_id);
    }
    if (plan.goal_reached) goals.insert(id);
  };
  for (const auto& [id, plan] : Plans(now)) {
    wanted[id] = plan.launches;
    seen.insert(id);
    apply(id, plan);
  }
  // Tasks of apps that are gone (deleted, or unknown after a restart).
  std::set<PathId> orphans;
  for (const auto& [task_id, entry] : tasks_) {
    if (!apps_.count(entry.record.app_id) && !unreadable_apps_.count(entry.record.app_id)) {
      orphans.insert(entry.record.app_id);
    }
  }
  for (const auto& id : orphans) apply(id, PlanApp(nullptr, TasksOf(id), now));
  for (auto it = deployments_.begin(); it != deployments_.end();) {
    const PathId& app = it->second.app_id;
    bool done = true;
    for (const PathId& changed : DeploymentApps(it->second)) {
      done =
          done && (goals.count(changed) > 0 || (!seen.count(changed) && TasksOf(changed).empty()));
    }
    if (!done) {
      ++it;
      continue;
    }
    if (Status s = store_->DeleteDeployment(it->first); !s.ok()) {
      Logger("service")->warn("cannot delete finished deployment {}: {}", it->first, s.message());
      ++it;
      continue;
    }
    Logger("service")->info("deployment {} of {} finished", it->first, app.ToString());
    if (!seen.count(app) && it->second.steps.back() == "StopApplication") {
      Emit("app_terminated_event", AppTerminatedEventJson(app));
    }
    for (const DeploymentPart& part : DeploymentParts(it->second)) {
      Emit("deployment_step_success",
           DeploymentInfoEventJson(it->second, part.steps.back(), part.app_id));
    }
    Emit("deployment_success", DeploymentSuccessEventJson(it->second));
    it = deployments_.erase(it);
  }
  UpdateOfferInterest(wanted);
}

void ServiceCore::UpdateOfferInterest(const std::map<PathId, int>& wanted) {
  offer_stats_.Waiting(wanted, Now());
  if (!subscribed_) return;
  double now = Now();
  int now_total = 0;
  bool later = false;
  for (const auto& [id, count] : wanted) {
    if (count <= 0) continue;
    auto app = apps_.find(id);
    if (app == apps_.end()) continue;
    if (delays_.NotBefore(app->second) <= now) {
      now_total += count;
    } else {
      later = true;
    }
  }
  if (now_total > 0) {
    // New work (or more of it) may fit where offers were refused before:
    // revive, at most once per min_revive_interval, and again while it waits.
    if (suppressed_ || now_total > last_wanted_ || now - last_revive_ >= options_.revive_repeat) {
      revive_pending_ = true;
    }
  } else if (AnyGlobalApp()) {
    // Agents that join later must be seen: offers keep coming (each declined
    // for decline_seconds), never suppressed.
    if (suppressed_) revive_pending_ = true;
  } else if (!later && !suppressed_) {
    actions_->Suppress();
    suppressed_ = true;
    revive_pending_ = false;
  }
  last_wanted_ = now_total;
  if (revive_pending_ && now - last_revive_ >= options_.min_revive_interval) Revive();
}

void ServiceCore::Revive() {
  actions_->Revive();
  suppressed_ = false;
  revive_pending_ = false;
  last_revive_ = Now();
}

void ServiceCore::Publish(const std::string& type, nlohmann::json event) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Emit(type, std::move(event));
}

void ServiceCore::Emit(const std::string& type, nlohmann::json event) const {
  if (!options_.on_event) return;
  if (auto plan = event.find("plan"); plan != event.end()) AddPlanStates(*plan);
  event["eventType"] = type;
  event["timestamp"] = FormatTimestamp(Now());
  options_.on_event(event);
}

}  // namespace stoa::service

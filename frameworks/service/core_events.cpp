// The core's side of the master's events: offers become launches (each task
// recorded before it is launched), status updates move task records along,
// and the timers retry what the master has not answered.
#include "common/logging.hpp"
#include "frameworks/service/core.hpp"
#include "frameworks/service/event_json.hpp"
#include "frameworks/service/offer_matcher.hpp"
#include "frameworks/service/planner.hpp"
#include "frameworks/service/task_builder.hpp"

namespace stoa::service {
namespace {

// Ends that slow the next launch down (Marathon's: not a kill, not a lost agent).
bool DelaysRelaunch(TaskState state) {
  return state == TaskState::kFailed || state == TaskState::kFinished ||
         state == TaskState::kError || state == TaskState::kDropped || state == TaskState::kGone;
}

bool Progresses(TaskState state) {
  return state == TaskState::kStaging || state == TaskState::kStarting ||
         state == TaskState::kRunning;
}

}  // namespace

void ServiceCore::Offers(const std::vector<Offer>& offers) {
  std::lock_guard<std::mutex> lock(mutex_);
  double now = Now();
  for (const auto& offer : offers) NoteAgent(offer);  // global apps want the agents offered
  std::map<PathId, int> wanted;
  std::map<PathId, AppPlan> plans = Plans(now);
  for (const auto& [id, plan] : plans) {
    if (plan.launches > 0 && delays_.NotBefore(apps_.at(id)) <= now) wanted[id] = plan.launches;
  }
  for (const auto& offer : offers) LaunchOn(offer, wanted);
  // Apps in backoff still want their launches, later.
  for (const auto& [id, plan] : plans) {
    if (!wanted.count(id)) wanted[id] = plan.launches;
  }
  UpdateOfferInterest(wanted);
}

void ServiceCore::LaunchOn(const Offer& offer, std::map<PathId, int>& wanted) {
  double now = Now();
  Resources available = offer.resources;
  AgentFacts agent{offer.hostname, {}};
  for (const auto& [name, value] : offer.attributes) agent.attributes[name] = value;
  std::vector<TaskInfo> launches;
  for (auto& [id, count] : wanted) {
    if (count <= 0) continue;
    const AppDefinition& app = apps_.at(id);
    if (app.global && !GlobalRoomOn(app, offer.agent_id, now)) continue;
    std::vector<AgentFacts> placed;  // a global app's spread is one per agent, whatever they say
    for (const TaskRecord* task : TasksOf(id)) {
      if (!app.global && IsActive(*task, &app, now)) {
        placed.push_back(AgentFacts{task->host, task->attributes});
      }
    }
    bool used = false;
    while (count > 0) {
      OfferFit fit = FitOffer(app, available, agent, placed);
      if (!fit.match) {
        if (!used) {  // what /v2/queue says of the app
          Offer left = offer;
          left.resources = available;
          offer_stats_.Unused(id, left, std::move(fit.reasons), now);
        }
        break;
      }
      const InstanceMatch& match = *fit.match;
      TaskEntry entry;
      TaskRecord& record = entry.record;
      record.id = NewTaskId(id);
      record.app_id = id;
      record.version = app.version;
      record.config_version = app.version_info.last_config_change_at;
      record.agent_id = offer.agent_id;
      record.host = offer.hostname;
      record.attributes = agent.attributes;
      record.ports = match.host_ports;
      record.staged_at = now;
      entry.last_update = now;
      if (!PutTaskOrDie(record)) return;  // written before the launch it records
      launches.push_back(BuildTask(app, record, match));
      std::string ports;
      for (int port : record.ports) ports += (ports.empty() ? "" : ",") + std::to_string(port);
      Logger("service")->info("launching task {} of {} on {} (ports {})", record.id, id.ToString(),
                              offer.hostname, ports.empty() ? "none" : ports);
      Emit("status_update_event", StatusUpdateEventJson(record, record.state, ""));
      Emit("instance_changed_event", InstanceChangedEventJson(record, record.state));
      tasks_[record.id] = std::move(entry);
      available -= match.resources;
      placed.push_back(agent);
      --count;
      ++counters_.tasks_launched;
      if (!used) offer_stats_.Used(id, now);
      used = true;
      if (app.global) break;  // one per agent
    }
  }
  bool more = false;
  for (const auto& [id, count] : wanted) more = more || count > 0;
  if (launches.empty()) {
    ++counters_.offers_declined;
    actions_->Decline(offer.id, options_.decline_seconds);
  } else {
    ++counters_.offers_used;
    // What is left of the offer comes back soon while work still waits.
    actions_->Launch(offer, std::move(launches), more ? 5 : options_.decline_seconds);
  }
}

void ServiceCore::Update(const TaskStatus& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto log = Logger("service");
  double now = Now();
  auto it = tasks_.find(status.task_id);
  if (it == tasks_.end()) {
    if (!IsTerminal(status.state) && status.state != TaskState::kUnknown) {
      log->warn("task {} on agent {} is {} but no app of ours has it; killing it", status.task_id,
                status.agent_id, ToString(status.state));
      actions_->Kill(status.task_id, status.agent_id);
    }
    return;
  }
  TaskEntry& entry = it->second;
  TaskRecord& record = entry.record;
  entry.confirmed = true;
  entry.last_update = now;
  auto app = apps_.find(record.app_id);
  UpdateHealth(record, status, app != apps_.end() ? &app->second : nullptr);
  if (IsTerminal(status.state) || status.state == TaskState::kUnknown) {
    if (status.state == TaskState::kGone || status.state == TaskState::kUnknown) {
      NoteAgentLost(record.agent_id);
    }
    if (!record.kill_requested) {
      log->info("task {} of {} is {}: {}", record.id, record.app_id.ToString(),
                ToString(status.state), status.message);
      if (app != apps_.end() && DelaysRelaunch(status.state)) delays_.Failed(app->second, now);
      RecordFailure(record, status);
    }
    Emit("status_update_event", StatusUpdateEventJson(record, status.state, status.message));
    Emit("instance_changed_event", InstanceChangedEventJson(record, status.state));
    TaskRecord ended = record;
    ForgetTask(record.id);
    if (!ended.kill_requested) CountFailure(ended, status);
    Converge();
    return;
  }
  bool changed = false;
  if (status.state == TaskState::kUnreachable) NoteAgentLost(record.agent_id);
  if (status.state == TaskState::kUnreachable) {
    if (record.unreachable_since == 0) {
      record.unreachable_since = now;
      changed = true;
    }
  } else if (record.unreachable_since != 0) {
    record.unreachable_since = 0;
    changed = true;
  }
  if (status.state == TaskState::kRunning && record.started_at == 0) {
    record.started_at = status.timestamp > 0 ? status.timestamp : now;
    changed = true;
  }
  bool state_changed = record.state != status.state;
  if (state_changed) {
    if (app != apps_.end() && Progresses(status.state)) delays_.Progressed(app->second, now);
    record.state = status.state;
    changed = true;
  }
  record.message = status.message;
  if (changed && !PutTaskOrDie(record)) return;
  if (state_changed) {
    Emit("status_update_event", StatusUpdateEventJson(record, status.state, status.message));
    Emit("instance_changed_event", InstanceChangedEventJson(record, status.state));
  }
  Converge();
}

void ServiceCore::RecordFailure(const TaskRecord& record, const TaskStatus& status) {
  TaskFailure failure;
  failure.task_id = record.id;
  failure.app_id = record.app_id;
  failure.host = record.host;
  failure.agent_id = record.agent_id;
  failure.message = status.message;
  failure.state = status.state;
  failure.timestamp = status.timestamp > 0 ? status.timestamp : Now();
  failure.version = record.version;
  failures_[record.app_id] = std::move(failure);
}

void ServiceCore::Tick() {
  std::lock_guard<std::mutex> lock(mutex_);
  double now = Now();
  if (subscribed_) {
    for (auto& [id, entry] : tasks_) {
      // A launch the master never answered is asked about, like a recovered task.
      if (entry.record.state == TaskState::kStaging && entry.confirmed &&
          now - entry.last_update >= options_.launch_confirm_timeout) {
        entry.confirmed = false;
        entry.last_update = now;
      }
      if (entry.record.kill_requested && entry.drain_until > 0 && now >= entry.drain_until) {
        KillTask(entry);  // drained: the kill goes now
      } else if (entry.record.kill_requested && entry.drain_until == 0 &&
                 now - entry.last_kill_sent >= options_.kill_retry) {
        actions_->Kill(id, entry.record.agent_id);
        entry.last_kill_sent = now;
      }
    }
    bool unconfirmed = false;
    for (const auto& [id, entry] : tasks_) unconfirmed = unconfirmed || !entry.confirmed;
    if ((unconfirmed && now - last_explicit_reconcile_ >= options_.reconcile_retry) ||
        (!unconfirmed && !implicit_done_)) {
      ReconcileUnconfirmed();
    }
    if (implicit_done_ && now - last_implicit_reconcile_ >= options_.reconcile_interval) {
      actions_->Reconcile({});
      last_implicit_reconcile_ = now;
    }
  }
  delays_.CleanUp(now);
  Converge();
}

}  // namespace stoa::service

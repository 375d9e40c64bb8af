// The master actor: kills, acknowledgements, reconciliation, agents and
// their registrations, status updates and the periodic tick.
#include "common/duration.hpp"
#include "master/master_shell.hpp"
#include "master/validation.hpp"

namespace stoa::master {

// ---- tasks a framework asks about ----

void MasterActor::Kill(Framework& framework, const call::Kill& kill) {
  Task* task = framework.FindTask(kill.task_id);
  if (task == nullptr) {
    // After a failover, an agent that has not reregistered yet may still run
    // the task: the kill waits for it (as a debt) instead of a LOST that
    // would be untrue; a later reconciliation answers if it never comes.
    std::vector<AgentId> may_know;
    if (kill.agent_id.empty()) {
      may_know.assign(agents_.recovered().begin(), agents_.recovered().end());
    } else if (agents_.IsRecovered(kill.agent_id)) {
      may_know.push_back(kill.agent_id);
    }
    for (const AgentId& agent_id : may_know) {
      agents_.DebtsOf(agent_id).kills.insert({framework.info.id, kill.task_id});
    }
    if (!may_know.empty()) return;
    SendToFramework(framework, event::Update{UnknownTaskStatus(
                                   framework, kill.task_id, kill.agent_id,
                                   "kill of a task this master does not know", WallSeconds())});
    return;
  }
  Agent* agent = agents_.Find(task->info.agent_id);
  if (agent == nullptr || !agent->reachable()) {
    agents_.DebtsOf(task->info.agent_id).kills.insert({framework.info.id, kill.task_id});
    SendToFramework(framework, event::Update{MasterStatus(
                                   *task, TaskState::kUnreachable, Reason::kAgentDisconnected,
                                   "the task's agent is unreachable; the kill will be "
                                   "retried when it comes back",
                                   WallSeconds())});
    return;
  }
  SendToAgent(*agent, agentmsg::KillTask{framework.info.id, kill.task_id});
}

void MasterActor::Acknowledge(Framework& framework, const call::Acknowledge& ack) {
  auto it = framework.tasks.find(ack.task_id);
  Agent* agent = agents_.Find(ack.agent_id);
  if (agent != nullptr && agent->reachable()) {
    SendToAgent(*agent, agentmsg::StatusUpdateAck{framework.info.id, ack.task_id, ack.uuid});
  }
  if (it == framework.tasks.end()) return;
  Task& task = it->second;
  if (IsTerminal(task.state) && !task.statuses.empty() && task.statuses.back().uuid == ack.uuid) {
    Complete(framework, it);
  }
}

void MasterActor::Reconcile(Framework& framework, const call::Reconcile& reconcile) {
  auto answer = [&](const Task& task) {
    TaskStatus status =
        task.statuses.empty()
            ? MasterStatus(task, task.state, Reason::kReconciliation, "", WallSeconds())
            : task.statuses.back();
    const Agent* agent = agents_.Find(task.info.agent_id);
    if (agent != nullptr && !agent->reachable() && !IsTerminal(task.state)) {
      status.state = framework.info.partition_aware ? TaskState::kUnreachable : TaskState::kLost;
    }
    status.reason = Reason::kReconciliation;
    status.source = Source::kMaster;
    status.uuid.clear();  // reconciliation answers need no acknowledgement
    SendToFramework(framework, event::Update{status});
  };
  if (reconcile.tasks.empty()) {
    for (const auto& [id, task] : framework.tasks) answer(task);
    return;
  }
  for (const auto& [task_id, agent_id] : reconcile.tasks) {
    if (const Task* task = framework.FindTask(task_id)) {
      answer(*task);
      continue;
    }
    const Task* completed = framework.completed_tasks.Find(task_id);
    bool agent_may_know =
        agent_id.empty() ? !agents_.recovered().empty() : agents_.IsRecovered(agent_id);
    if (completed != nullptr) {
      answer(*completed);
    } else if (agent_may_know) {
      // After a failover, an agent that has not reregistered yet may still run
      // the task: say nothing rather than something untrue; the framework asks again.
      continue;
    } else if (auto record = registry_.agents.find(agent_id);
               !agent_id.empty() && record != registry_.agents.end() &&
               record->second.state != AgentRecord::State::kAdmitted) {
      // As Mesos answers: the agent is away (UNREACHABLE) or retired (GONE).
      bool gone = record->second.state == AgentRecord::State::kGone;
      TaskStatus status = UnknownTaskStatus(
          framework, task_id, agent_id,
          gone ? "the task's agent was marked gone" : "the task's agent is unreachable",
          WallSeconds());
      if (framework.info.partition_aware) {
        status.state = gone ? TaskState::kGone : TaskState::kUnreachable;
      }
      SendToFramework(framework, event::Update{status});
    } else {
      SendToFramework(framework, event::Update{UnknownTaskStatus(
                                     framework, task_id, agent_id,
                                     "this master does not know the task", WallSeconds())});
    }
  }
}

// ---- agents ----

void MasterActor::OnAgentMessage(const std::string& peer, AgentMessage& message) {
  if (auto* reg = std::get_if<agentmsg::Register>(&message)) {
    RegisterAgent(peer, *reg);
    return;
  }
  Agent* agent = agents_.FindByPeer(peer);
  if (agent == nullptr) {
    Send(peer, Message(AgentMessage(
                   agentmsg::Shutdown{"this master does not know the agent; register again"})));
    return;
  }
  agent->missed_pings = 0;
  std::visit(Overloaded{
                 [&](agentmsg::Pong&) {},
                 [&](agentmsg::UsageReport& usage) { agent->usage = usage; },
                 [&](agentmsg::StatusUpdate& update) { OnStatusUpdate(*agent, update); },
                 [&](auto&) {
                   log_->warn("agent {} sent a message agents do not send; ignored",
                              agent->info.id);
                 },
             },
             message);
}

void MasterActor::RegisterAgent(const std::string& peer, agentmsg::Register& reg) {
  if (admitting_.count(peer) > 0) return;  // a retry while its admission is being written
  AgentInfo& info = reg.info;
  if (info.id.empty()) {
    // A retry of a registration we already answered: the same agent, not a new one.
    if (Agent* known = agents_.FindByPeer(peer)) {
      Send(peer,
           Message(AgentMessage(agentmsg::Registered{known->info.id, master_id_, known->epoch})));
      return;
    }
    info.id = NewId("agent-");
  }
  if (Status s = ValidateId("agent", info.id); !s.ok()) {
    Send(peer, Message(AgentMessage(agentmsg::Shutdown{s.message()})));
    return;
  }
  if (agents_.IsGone(info.id)) {
    Send(peer, Message(AgentMessage(agentmsg::Shutdown{"agent '" + info.id +
                                                       "' was marked gone and cannot come back"})));
    return;
  }
  auto known = registry_.agents.find(info.id);
  if (known != registry_.agents.end() && known->second.state == AgentRecord::State::kAdmitted) {
    AdmitAgent(peer, reg, /*was_unreachable=*/false);
    return;
  }
  bool was_unreachable =
      known != registry_.agents.end() && known->second.state == AgentRecord::State::kUnreachable;
  // New, or back from unreachable: the registry says so before the agent hears it.
  AgentRecord record{info, AgentRecord::State::kAdmitted, WallSeconds()};
  admitting_.insert(peer);
  Durably([record](Registrar& r) { return r.PutAgent(record); },
          [this, peer, reg, record, was_unreachable](const std::string& error) mutable {
            admitting_.erase(peer);
            if (!error.empty()) {
              Send(peer, Message(AgentMessage(
                             agentmsg::Shutdown{"the master cannot record the agent: " + error})));
              return;
            }
            registry_.agents[record.info.id] = record;
            AdmitAgent(peer, reg, was_unreachable);
          });
}

// Frameworks an agent reports that the master does not know are recovered as
// disconnected and wait for their schedulers.
void MasterActor::RecoverFrameworksOf(const agentmsg::Register& reg) {
  for (const auto& info : reg.frameworks) {
    if (frameworks_.Find(info.id) != nullptr || frameworks_.WasRemoved(info.id)) continue;
    Framework& framework = frameworks_.AddRecovered(info, WallSeconds());
    Allocator([id = info.id, roles = framework.info.roles](auto& a) {
      a.AddFramework(id, roles);
      a.DeactivateFramework(id);
    });
    WaitForScheduler(framework, "recovered from an agent's report");
  }
}

void MasterActor::AdmitAgent(const std::string& peer, agentmsg::Register& reg,
                             bool was_unreachable) {
  const AgentInfo& info = reg.info;
  bool reregister =
      agents_.TakeRecovered(info.id) || agents_.Find(info.id) != nullptr || !reg.tasks.empty();
  Registration kind = agents_.Classify(info.id, reg.epoch);
  Agent* existing = agents_.Find(info.id);
  if (kind == Registration::kRetry) {
    // The snapshot it carries predates launches sent since, so it must not
    // end any task. Answer it again, and nothing else.
    agents_.SetPeer(*existing, peer);
    SendToAgent(*existing, agentmsg::Registered{info.id, master_id_, existing->epoch});
    return;
  }
  if (kind == Registration::kNewCycle) {
    agents_.SetPeer(*existing, peer);
    existing->missed_pings = 0;
    existing->epoch = reg.epoch;
    UpdateAgentInfo(*existing, info);
    // A launch the agent does not report was lost on the way (it ignores
    // launches while it is not registered): it never ran.
    EndTasksNotReported(*existing, reg.tasks, TaskState::kDropped,
                        "the agent never received the launch");
    SendToAgent(*existing, agentmsg::Registered{info.id, master_id_, reg.epoch});
    log_->info("agent {} at {} reregistered", info.id, info.address);
    return;
  }
  bool returning = kind == Registration::kReturning;
  if (returning) {
    // Back from unreachable: tasks it no longer runs are gone; the rest is
    // rebuilt from what it reports.
    EndTasksNotReported(*existing, reg.tasks, TaskState::kGone,
                        "the agent came back without the task");
    RemoveAgentBooks(*existing);
    agents_.Erase(info.id);
  }
  Agent& agent = agents_.Add(info, peer, reg.epoch, WallSeconds());
  AgentDebts debts = agents_.TakeDebts(info.id);
  RecoverFrameworksOf(reg);
  if (was_unreachable && !returning) {
    // Unreachable before a failover: its tasks were reported LOST to the
    // frameworks that are not partition-aware, by the master that kept the
    // debts in memory. They must not come back; the others hear that the
    // agent is back.
    returning = true;
    for (const auto& task : reg.tasks) {
      Framework* framework = frameworks_.Find(task.framework_id);
      if (framework != nullptr && !framework->info.partition_aware &&
          framework->FindTask(task.info.task_id) == nullptr) {
        debts.ended.insert({task.framework_id, task.info.task_id});
      }
    }
  }
  std::map<FrameworkId, Allocator::RoleUsage> used;
  std::set<FrameworkId> to_shutdown;
  std::vector<TaskKey> kills;
  struct LiveTasks {
    int count = 0;
    std::string role;  // of the launch that started them
  };
  std::map<std::pair<FrameworkId, ExecutorId>, LiveTasks> live_tasks;  // of the tasks adopted
  for (auto& task : reg.tasks) {
    Framework* framework = frameworks_.Find(task.framework_id);
    if (framework == nullptr) {
      to_shutdown.insert(task.framework_id);
      continue;
    }
    TaskKey key{task.framework_id, task.info.task_id};
    ReportedTask judged = JudgeReportedTask(*framework, info.id, task, debts);
    if (judged == ReportedTask::kKill || judged == ReportedTask::kAdoptAndKill) {
      kills.push_back(key);
    }
    if (judged == ReportedTask::kKill || judged == ReportedTask::kIgnore) continue;
    // The role the agent kept for it, when the framework still has it.
    if (std::find(framework->info.roles.begin(), framework->info.roles.end(), task.role) ==
        framework->info.roles.end()) {
      task.role = framework->info.roles.empty() ? "*" : framework->info.roles.front();
    }
    if (!IsTerminal(task.state)) {
      used[task.framework_id][task.role] += task.info.resources;
      agent.used += task.info.resources;
      LiveTasks& live = live_tasks[{task.framework_id, task.executor_id}];
      ++live.count;
      live.role = task.role;
    }
    agent.tasks.insert(key);
    if (reregister && returning && framework->info.partition_aware) {
      TaskStatus status =
          task.statuses.empty()
              ? MasterStatus(task, task.state, Reason::kAgentReregistered, "", WallSeconds())
              : task.statuses.back();
      status.reason = Reason::kAgentReregistered;
      status.uuid.clear();
      SendToFramework(*framework, event::Update{status});
    }
    framework->tasks[task.info.task_id] = std::move(task);
  }
  // Group executors with live tasks keep their own resources charged.
  for (const ExecutorInfo& executor : reg.executors) {
    auto live = live_tasks.find({executor.framework_id, executor.executor_id});
    if (live == live_tasks.end() || executor.resources.empty()) continue;
    ChargeExecutor(agent, executor.framework_id, executor.executor_id, executor.resources,
                   live->second.count, live->second.role);
    used[executor.framework_id][live->second.role] += executor.resources;
  }
  Allocator([id = info.id, total = info.resources, used](auto& a) { a.AddAgent(id, total, used); });
  SendToAgent(agent, agentmsg::Registered{info.id, master_id_, reg.epoch});
  for (const auto& framework_id : to_shutdown) {
    SendToAgent(agent, agentmsg::ShutdownFramework{framework_id});
  }
  for (const auto& [framework_id, task_id] : kills) {
    SendToAgent(agent, agentmsg::KillTask{framework_id, task_id});
  }
  log_->info("agent {} at {} {} with {} ({} tasks)", info.id, info.address,
             reregister ? "reregistered" : "registered", info.resources.ToString(),
             reg.tasks.size());
}

// Ends the live tasks the master has on `agent` that its reregistration does
// not report: `state` for partition-aware frameworks, LOST otherwise.
void MasterActor::EndTasksNotReported(Agent& agent, const std::vector<Task>& reported,
                                      TaskState state, const std::string& message) {
  std::set<TaskKey> known;
  for (const auto& task : reported) known.insert({task.framework_id, task.info.task_id});
  auto tasks = agent.tasks;
  for (const auto& key : tasks) {
    if (known.count(key) > 0) continue;
    Framework* framework = frameworks_.Find(key.first);
    if (framework == nullptr) continue;
    auto it = framework->tasks.find(key.second);
    if (it == framework->tasks.end() || IsTerminal(it->second.state) ||
        it->second.info.agent_id != agent.info.id) {
      continue;
    }
    Task& task = it->second;
    bool aware = framework->info.partition_aware;
    TaskStatus status = MasterStatus(task, aware ? state : TaskState::kLost,
                                     Reason::kReconciliation, message, WallSeconds());
    ApplyTransition(task, status);
    SendToFramework(*framework, event::Update{status});
    Complete(*framework, it);
  }
}

// A reregistration may bring new resources or addresses (the agent was
// restarted with other flags): the books and the allocator take them.
void MasterActor::UpdateAgentInfo(Agent& agent, const AgentInfo& info) {
  bool resized = !(agent.info.resources == info.resources);
  agent.info = info;
  if (!resized) return;
  RemoveAgentBooks(agent);
  agents_.SetPeer(agent, agent.peer);
  std::map<FrameworkId, Allocator::RoleUsage> used;
  for (const auto& [framework_id, task_id] : agent.tasks) {
    Framework* framework = frameworks_.Find(framework_id);
    if (framework == nullptr) continue;
    const Task* task = framework->FindTask(task_id);
    if (task != nullptr && !IsTerminal(task->state)) {
      used[framework_id][task->role] += task->info.resources;
    }
  }
  for (const auto& [key, charge] : agent.executors) {
    used[key.first][charge.role] += charge.resources;
  }
  Allocator([id = info.id, total = info.resources, used](auto& a) { a.AddAgent(id, total, used); });
}

// Forgets an agent's offers and resources; its tasks stay with their frameworks.
void MasterActor::RemoveAgentBooks(Agent& agent) {
  for (const auto& offer_id : offers_.OnAgent(agent.info.id)) {
    std::optional<Offer> offer = offers_.Take(offer_id);
    if (Framework* framework = frameworks_.Find(offer->framework_id)) {
      SendToFramework(*framework, event::Rescind{offer->id});
    }
  }
  agents_.ForgetPeer(agent);
  Allocator([id = agent.info.id](auto& a) { a.RemoveAgent(id); });
}

// Operator call: the agent is never coming back (its machine was retired).
// Its tasks become GONE and its id can never register again. The answer is
// an empty string once durable, else the reason it was refused.
caf::result<std::string> MasterActor::MarkGone(const AgentId& agent_id) {
  auto known = registry_.agents.find(agent_id);
  if (known == registry_.agents.end() && agents_.Find(agent_id) == nullptr) {
    return "agent '" + agent_id + "' is not known to this master";
  }
  if (agents_.IsGone(agent_id)) return std::string();
  AgentRecord record;
  if (known != registry_.agents.end()) record = known->second;
  if (Agent* agent = agents_.Find(agent_id)) record.info = agent->info;
  record.state = AgentRecord::State::kGone;
  record.changed_time = WallSeconds();
  auto promise = make_response_promise<std::string>();
  Durably([record](Registrar& r) { return r.PutAgent(record); },
          [this, promise, record](const std::string& error) mutable {
            if (!error.empty()) {
              promise.deliver("the registry refused: " + error);
              return;
            }
            const AgentId& id = record.info.id;
            registry_.agents[id] = record;
            if (Agent* agent = agents_.Find(id)) {
              log_->warn("agent {} at {} marked gone by an operator", id, agent->info.address);
              if (agent->reachable()) {
                SendToAgent(*agent, agentmsg::Shutdown{std::string(agentmsg::kAgentGoneReason)});
                RemoveAgentBooks(*agent);
              }
              ReportTasks(id, TaskState::kGone, Reason::kAgentRemoved,
                          "agent " + id + " was marked gone");
            }
            agents_.MarkGone(id);
            promise.deliver(std::string());
          });
  return promise;
}

void MasterActor::MarkUnreachable(Agent& agent) {
  log_->warn("agent {} at {} missed {} pings: marking it unreachable", agent.info.id,
             agent.info.address, agent.missed_pings);
  RemoveAgentBooks(agent);
  agents_.MarkUnreachable(agent);
  AgentRecord record{agent.info, AgentRecord::State::kUnreachable, WallSeconds()};
  registry_.agents[agent.info.id] = record;
  DurablyOrStepDown([record](Registrar& r) { return r.PutAgent(record); },
                    [this, id = agent.info.id] {
                      Agent* agent = agents_.Find(id);
                      if (agent == nullptr || agent->reachable()) return;
                      ReportTasks(id, TaskState::kUnreachable, Reason::kAgentDisconnected,
                                  "agent " + id + " at " + agent->info.address + " is unreachable");
                    });
}

// Ends (or, for UNREACHABLE, suspends) every live task of the agent with
// `state`; frameworks that are not partition-aware hear LOST instead of
// UNREACHABLE or GONE. Ended tasks become debts: they must not come back.
void MasterActor::ReportTasks(const AgentId& agent_id, TaskState state, Reason reason,
                              const std::string& message) {
  Agent* agent = agents_.Find(agent_id);
  if (agent == nullptr) return;
  auto tasks = agent->tasks;
  for (const auto& [framework_id, task_id] : tasks) {
    Framework* framework = frameworks_.Find(framework_id);
    if (framework == nullptr) continue;
    auto it = framework->tasks.find(task_id);
    if (it == framework->tasks.end() || IsTerminal(it->second.state)) continue;
    Task& task = it->second;
    bool aware = framework->info.partition_aware;
    TaskStatus status =
        MasterStatus(task, aware ? state : TaskState::kLost, reason, message, WallSeconds());
    ApplyTransition(task, status);
    SendToFramework(*framework, event::Update{status});
    if (IsTerminal(status.state)) {
      agents_.DebtsOf(agent_id).ended.insert({framework_id, task_id});  // never to come back
      Complete(*framework, it);
    }
  }
}

void MasterActor::OnStatusUpdate(Agent& agent, agentmsg::StatusUpdate& update) {
  TaskStatus& status = update.status;
  ++counters_.status_updates;
  Framework* framework = frameworks_.Find(update.framework_id);
  auto ack_now = [&] {
    if (!status.uuid.empty()) {
      SendToAgent(agent,
                  agentmsg::StatusUpdateAck{update.framework_id, status.task_id, status.uuid});
    }
  };
  if (framework == nullptr) {
    ack_now();  // nobody will acknowledge it: stop the agent retrying
    if (!frameworks_.WasRemoved(update.framework_id)) {
      SendToAgent(agent, agentmsg::ShutdownFramework{update.framework_id});
    }
    return;
  }
  auto it = framework->tasks.find(status.task_id);
  if (it == framework->tasks.end()) {
    ack_now();  // a task the framework was told is gone (e.g. LOST): do not resurrect it
    return;
  }
  Task& task = it->second;
  if (!ReportedByItsAgent(task, agent.info.id)) {
    // The id now names a task on another agent (relaunched after LOST): this
    // update is about the old one, which the master killed or forgot.
    log_->warn("agent {} reports task {} of framework {}, which runs on agent {}; dropped",
               agent.info.id, status.task_id, framework->info.id, task.info.agent_id);
    ack_now();
    return;
  }
  bool was_terminal = IsTerminal(task.state);
  bool repeat =
      !status.uuid.empty() && !task.statuses.empty() && task.statuses.back().uuid == status.uuid;
  bool resent = was_terminal && task.state == status.state;  // a terminal update sent again
  if (!repeat && !resent && !ApplyTransition(task, status)) {
    log_->warn("agent {}: task {} of framework {} cannot go from {} to {}; update dropped",
               agent.info.id, status.task_id, framework->info.id, ToString(task.state),
               ToString(status.state));
    ack_now();
    return;
  }
  SendToFramework(*framework, event::Update{status});
  if (status.uuid.empty() && IsTerminal(status.state)) Complete(*framework, it);
}

// ---- timers ----

void MasterActor::OnTick() {
  double now = Now();
  for (auto& [id, agent] : agents_.all()) {
    if (!agent.reachable()) continue;
    if (agent.missed_pings >= options_.max_agent_ping_timeouts) {
      MarkUnreachable(agent);
      continue;
    }
    ++agent.missed_pings;
    SendToAgent(agent, agentmsg::Ping{master_id_});
  }
  for (auto& [id, framework] : frameworks_.all()) {
    if (!framework.connected()) continue;
    if (now - framework.last_seen > 3 * options_.framework_heartbeat_interval) {
      DisconnectFramework(framework,
                          "no call or keepalive for " + FormatDuration(now - framework.last_seen));
      continue;
    }
    SendToFramework(framework, event::Heartbeat{});
  }
}

}  // namespace stoa::master

// The master actor: plumbing, recovery, frameworks, offers and ACCEPT.
#include <set>

#include "common/duration.hpp"
#include "common/logging.hpp"
#include "master/accept.hpp"
#include "master/agent_book.hpp"
#include "master/allocator_actor.hpp"
#include "master/framework_book.hpp"
#include "master/master_shell.hpp"
#include "master/offer_book.hpp"
#include "master/registrar_actor.hpp"
#include "master/tasks.hpp"
#include "master/validation.hpp"

namespace stoa::master {

MasterActor::MasterActor(caf::actor_config& config, MasterOptions options, Outbox* outbox,
                         std::string address, Registry registry, caf::actor registrar)
    : caf::event_based_actor(config),
      options_(std::move(options)),
      outbox_(outbox),
      address_(std::move(address)),
      log_(Logger("master")),
      registry_(std::move(registry)),
      registrar_(std::move(registrar)),
      frameworks_(options_.max_completed_frameworks, options_.max_completed_tasks_per_framework) {
  master_id_ = options_.id.empty() ? NewId("master-") : options_.id;
  start_time_ = WallSeconds();
}

caf::behavior MasterActor::make_behavior() {
  allocator_ = spawn(AllocatorActor, caf::actor_cast<caf::actor>(this),
                     options_.allocation_interval, options_.allocation_batch);
  link_to(allocator_);
  delayed_send(this, TimerSpan(options_.agent_ping_interval), tick_atom::value);
  RecoverFromRegistry();
  log_->info("master {} serving at {}", master_id_, address_);
  return {
      [this](recv_atom, const std::string& peer, Message& message, const FrameTicket&) {
        OnMessage(peer, message);
      },
      [this](offers_atom, Allocations& allocations, double seconds) {
        OnAllocations(allocations, seconds);
      },
      [this](tick_atom) {
        OnTick();
        delayed_send(this,
                     TimerSpan(std::min(options_.agent_ping_interval,
                                        options_.framework_heartbeat_interval)),
                     tick_atom::value);
      },
      [this](rescind_atom, const std::string& offer_id) { RescindOffer(offer_id, true); },
      [this](failover_atom, const std::string& framework_id, uint64_t generation) {
        OnFailoverTimeout(framework_id, generation);
      },
      [this](reregister_atom) { OnReregisterTimeout(); },
      [this](state_atom) { return AskSnapshot(true); },
      [this](metrics_atom) { return AskSnapshot(false); },
      [this](snapshot_atom) { ServeSnapshots(); },
      [this](gone_atom, const std::string& agent_id) -> caf::result<std::string> {
        return MarkGone(agent_id);
      },
      [](health_atom) { return true; },
  };
}

// ---- plumbing ----

double MasterActor::Now() const { return ClockSeconds(this); }

SnapshotPtr MasterActor::Snapshot(bool with_tasks) {
  ++counters_.snapshots;
  auto snapshot =
      std::make_shared<MasterSnapshot>(TakeSnapshot(frameworks_, agents_, offers_, with_tasks));
  snapshot->master_id = master_id_;
  snapshot->address = address_;
  snapshot->start_time = start_time_;
  snapshot->counters = counters_;
  return snapshot;
}

// Asks that arrive while the snapshot message waits in the mailbox (as Mesos
// batches /state requests) are answered by the same copy: N dashboards polling
// together cost one snapshot.
caf::typed_response_promise<SnapshotPtr> MasterActor::AskSnapshot(bool with_tasks) {
  auto promise = make_response_promise<SnapshotPtr>();
  snapshot_asks_.push_back(promise);
  snapshot_asks_want_tasks_ = snapshot_asks_want_tasks_ || with_tasks;
  if (snapshot_asks_.size() == 1) send(this, snapshot_atom::value);
  return promise;
}

void MasterActor::ServeSnapshots() {
  SnapshotPtr snapshot = Snapshot(snapshot_asks_want_tasks_);
  for (auto& ask : snapshot_asks_) ask.deliver(snapshot);
  snapshot_asks_.clear();
  snapshot_asks_want_tasks_ = false;
}

void MasterActor::Durably(RegistrarCommand command, std::function<void(const std::string&)> then) {
  request(registrar_, caf::infinite, registrar_atom::value, std::move(command))
      .then(
          [this, then](const std::string& error) {
            if (!error.empty()) log_->error("registry write failed: {}", error);
            then(error);
          },
          [this, then](caf::error& error) {
            std::string why = "the registrar failed: " + system().render(error);
            log_->error("{}", why);
            then(why);
          });
}

// Memory has already changed (so that later messages see it), so a failed
// write would leave memory and storage disagreeing: the master stops leading
// instead (as Mesos's registrar aborts), and a restart recovers from storage.
void MasterActor::DurablyOrStepDown(RegistrarCommand command, std::function<void()> then) {
  Durably(std::move(command), [this, then](const std::string& error) {
    if (error.empty()) {
      then();
      return;
    }
    log_->critical("a registry write failed ({}); this master stops leading", error);
    if (options_.on_fatal) options_.on_fatal("registry write failed: " + error);
    quit(caf::exit_reason::user_shutdown);
  });
}

void MasterActor::Allocator(AllocatorCommand command) {
  send(allocator_, command_atom::value, std::move(command));
}

void MasterActor::Recover(const std::optional<Recovery>& recovery) {
  if (!recovery) return;
  Allocator(
      [r = *recovery](auto& a) { a.Recover(r.framework_id, r.agent_id, r.resources, r.role); });
}

void MasterActor::Send(const std::string& peer, Message message) {
  outbox_->Send(peer, std::move(message));
}

void MasterActor::SendToAgent(const Agent& agent, AgentMessage message) {
  Send(agent.peer, Message(std::move(message)));
}

void MasterActor::SendToFramework(const Framework& framework, SchedulerEvent event) {
  if (framework.connected()) Send(framework.peer, Message(std::move(event)));
}

bool MasterActor::ApplyTransition(Task& task, const TaskStatus& status) {
  auto result = Transition(task, agents_.Find(task.info.agent_id), status);
  if (!result.ok()) {
    log_->warn("framework {}: {}", task.framework_id, result.error());
    return false;
  }
  Recover(*result);
  return true;
}

void MasterActor::Complete(Framework& framework, std::map<TaskId, Task>::iterator it) {
  CompleteTask(frameworks_, framework, it, agents_.Find(it->second.info.agent_id));
}

// ---- recovery ----

void MasterActor::RecoverFromRegistry() {
  double wall = WallSeconds();
  for (const auto& [id, record] : registry_.agents) {
    if (record.state == AgentRecord::State::kGone) agents_.AddGone(id);
    if (record.state == AgentRecord::State::kAdmitted) agents_.AddRecovered(id);
  }
  for (const auto& id : registry_.removed_frameworks) frameworks_.AddRemovedId(id);
  for (const auto& [role, weight] : registry_.weights) {
    Allocator([role = role, weight = weight](auto& a) { a.SetWeight(role, weight); });
  }
  bool recovering = !agents_.recovered().empty() || !registry_.frameworks.empty();
  // The window is set before the frameworks wait, since their wait includes it.
  if (recovering) recovery_deadline_ = Now() + options_.agent_reregister_timeout;
  for (const auto& [id, info] : registry_.frameworks) {
    Framework& framework = frameworks_.AddRecovered(info, wall);
    Allocator([id = id, roles = framework.info.roles](auto& a) {
      a.AddFramework(id, roles);
      a.DeactivateFramework(id);
    });
    WaitForScheduler(framework, "recovered from the registry");
  }
  if (recovering) {
    log_->info(
        "recovered {} agents and {} frameworks from the registry; agents have {} to reregister",
        agents_.recovered().size(), registry_.frameworks.size(),
        FormatDuration(options_.agent_reregister_timeout));
    delayed_send(this, TimerSpan(options_.agent_reregister_timeout), reregister_atom::value);
  }
}

// Agents of the registry that did not come back in time are unreachable.
void MasterActor::OnReregisterTimeout() {
  for (const auto& id : agents_.TakeAllRecovered()) {
    log_->warn("agent {} did not reregister within {}; marking it unreachable", id,
               FormatDuration(options_.agent_reregister_timeout));
    AgentRecord record = registry_.agents[id];
    record.state = AgentRecord::State::kUnreachable;
    record.changed_time = WallSeconds();
    registry_.agents[id] = record;
    DurablyOrStepDown([record](Registrar& r) { return r.PutAgent(record); });
  }
}

// `message` was decoded on the transport's I/O thread: frames that do not
// decode never get here (the transport counts them and answers the peer).
void MasterActor::OnMessage(const std::string& peer, Message& message) {
  std::visit(
      Overloaded{
          [&](SchedulerCall& call) { OnCall(peer, call); },
          [&](AgentMessage& agent_message) { OnAgentMessage(peer, agent_message); },
          [&](Keepalive&) {
            if (Framework* framework = frameworks_.FindByPeer(peer)) framework->last_seen = Now();
          },
          [&](ProtocolError& error) {
            log_->warn("peer {} reports a protocol error: {}", PrintablePeer(peer), error.message);
          },
          [&](auto&) {
            ++counters_.refused_messages;
            log_->warn("peer {} sent a message the master does not accept", PrintablePeer(peer));
            Send(peer, Message(ProtocolError{"the master accepts scheduler calls and agent "
                                             "messages only"}));
          },
      },
      message);
}

// ---- frameworks ----

void MasterActor::OnCall(const std::string& peer, SchedulerCall& call) {
  if (auto* subscribe = std::get_if<call::Subscribe>(&call.call)) {
    Subscribe(peer, subscribe->info);
    return;
  }
  Framework* framework = frameworks_.Find(call.framework_id);
  if (framework == nullptr || !framework->connected() || framework->peer != peer) {
    std::string why =
        framework == nullptr
            ? "framework '" + call.framework_id + "' is not subscribed"
            : "framework '" + call.framework_id + "' is subscribed from another connection";
    Send(peer, Message(SchedulerEvent(event::Error{why + "; send SUBSCRIBE first"})));
    return;
  }
  framework->last_seen = Now();
  std::visit(Overloaded{
                 [&](call::Accept& accept) { Accept(*framework, accept); },
                 [&](call::Decline& decline) {
                   for (const auto& offer_id : decline.offer_ids) {
                     DeclineOffer(*framework, offer_id, decline.refuse_seconds);
                   }
                 },
                 [&](call::Revive& revive) {
                   Allocator([id = framework->info.id, roles = revive.roles](auto& a) {
                     a.Revive(id, roles);
                   });
                 },
                 [&](call::Suppress& suppress) {
                   Allocator([id = framework->info.id, roles = suppress.roles](auto& a) {
                     a.Suppress(id, roles);
                   });
                 },
                 [&](call::Kill& kill) { Kill(*framework, kill); },
                 [&](call::Acknowledge& ack) { Acknowledge(*framework, ack); },
                 [&](call::Reconcile& reconcile) { Reconcile(*framework, reconcile); },
                 [&](call::Teardown&) {
                   log_->info("framework {} asked to be torn down", framework->info.id);
                   RemoveFramework(framework->info.id);
                 },
                 [&](call::Message&) {
                   SendToFramework(*framework,
                                   event::Error{"MESSAGE is not supported by this master yet"});
                 },
                 [&](call::Subscribe&) {},
             },
             call.call);
}

void MasterActor::Subscribe(const std::string& peer, FrameworkInfo info) {
  if (info.roles.empty()) info.roles.push_back("*");
  // Huge timeouts (even infinity) mean "never"; timers clamp them (TimerSpan).
  if (!(info.failover_timeout_seconds >= 0)) {
    Send(peer, Message(SchedulerEvent(
                   event::Error{"failover_timeout must be a non-negative number of seconds"})));
    return;
  }
  if (info.id.empty()) {
    // A retry of a subscription we already answered: the same framework.
    if (Framework* known = frameworks_.FindByPeer(peer)) info.id = known->info.id;
  }
  if (info.id.empty()) {
    info.id = NewId("framework-");
  } else if (Status s = ValidateId("framework", info.id); !s.ok()) {
    Send(peer, Message(SchedulerEvent(event::Error{s.message()})));
    return;
  }
  if (frameworks_.WasRemoved(info.id)) {
    Send(peer, Message(SchedulerEvent(event::Error{
                   "framework '" + info.id +
                       "' was torn down (its failover timeout expired or it was removed); "
                       "subscribe without an id to start a new one",
                   /*terminal=*/true})));
    return;
  }
  // A new framework, or a resubscription that changes one (roles, failover
  // timeout, ...): the registry says so before the master acts on it.
  auto recorded = registry_.frameworks.find(info.id);
  bool is_new = recorded == registry_.frameworks.end() && frameworks_.Find(info.id) == nullptr;
  bool changed =
      recorded != registry_.frameworks.end() && !SameFrameworkRecord(recorded->second, info);
  if (is_new || changed) {
    if (!subscribing_.insert(peer).second) return;  // a retry while the write is in flight
    std::string what = is_new ? "the framework" : "the framework's change";
    Durably([info](Registrar& r) { return r.PutFramework(info); },
            [this, peer, info, what](const std::string& error) {
              subscribing_.erase(peer);
              if (!error.empty()) {
                Send(peer, Message(SchedulerEvent(
                               event::Error{"the master cannot record " + what + ": " + error})));
                return;
              }
              registry_.frameworks[info.id] = info;
              FinishSubscribe(peer, info);
            });
    return;
  }
  FinishSubscribe(peer, info);
}

bool MasterActor::SameFrameworkRecord(const FrameworkInfo& a, const FrameworkInfo& b) {
  return a.name == b.name && a.user == b.user && a.principal == b.principal &&
         a.hostname == b.hostname && a.roles == b.roles &&
         a.failover_timeout_seconds == b.failover_timeout_seconds && a.checkpoint == b.checkpoint &&
         a.partition_aware == b.partition_aware;
}

void MasterActor::FinishSubscribe(const std::string& peer, const FrameworkInfo& info) {
  Framework* framework = frameworks_.Find(info.id);
  if (framework == nullptr) {
    framework = &frameworks_.AddConnected(info, peer, Now(), WallSeconds());
    Allocator([id = info.id, roles = info.roles](auto& a) { a.AddFramework(id, roles); });
    log_->info("framework {} ({}) subscribed with roles {}", info.id, info.name,
               fmt::join(info.roles, ","));
  } else {
    if (framework->connected() && framework->peer != peer) {
      Send(framework->peer,
           Message(SchedulerEvent(event::Error{
               "framework " + info.id + " failed over to another scheduler; this one must stop",
               /*terminal=*/true})));
    }
    RescindOffers(*framework);
    if (framework->info.roles != info.roles) {
      // What ran in a dropped role is now charged to the first role, here as
      // in the allocator.
      auto kept = [&](const std::string& role) {
        return std::find(info.roles.begin(), info.roles.end(), role) != info.roles.end();
      };
      for (auto& [task_id, task] : framework->tasks) {
        if (!kept(task.role)) task.role = info.roles.front();
      }
      for (auto& [agent_id, agent] : agents_.all()) {
        for (auto& [key, charge] : agent.executors) {
          if (key.first == info.id && !kept(charge.role)) charge.role = info.roles.front();
        }
      }
      Allocator([id = info.id, roles = info.roles](auto& a) { a.UpdateFrameworkRoles(id, roles); });
      log_->info("framework {} now subscribes to roles {}", info.id, fmt::join(info.roles, ","));
    }
    frameworks_.Connect(*framework, info, peer, Now());
    log_->info("framework {} ({}) resubscribed", info.id, info.name);
  }
  Allocator([id = info.id](auto& a) { a.ActivateFramework(id); });
  SendToFramework(*framework,
                  event::Subscribed{info.id, options_.framework_heartbeat_interval, master_id_});
}

void MasterActor::DisconnectFramework(Framework& framework, const std::string& why) {
  if (!frameworks_.Disconnect(framework, WallSeconds()).ok()) return;
  log_->warn("framework {} disconnected ({}); it has {} to fail over", framework.info.id, why,
             FormatDuration(framework.info.failover_timeout_seconds));
  RescindOffers(framework);
  Allocator([id = framework.info.id](auto& a) { a.DeactivateFramework(id); });
  ArmFailoverTimer(framework, framework.info.failover_timeout_seconds);
}

// A framework this master learned of without its scheduler (registry, or an
// agent's report after a failover) waits for the scheduler as Mesos does: its
// failover timeout starts only once agents have had their window to
// reregister, so that a scheduler that is reconnecting finds its tasks.
void MasterActor::WaitForScheduler(Framework& framework, const std::string& why) {
  double window = std::max(0.0, recovery_deadline_ - Now());
  double wait = window + framework.info.failover_timeout_seconds;
  log_->info("framework {} {}; its scheduler has {} to resubscribe", framework.info.id, why,
             FormatDuration(wait));
  ArmFailoverTimer(framework, wait);
}

void MasterActor::ArmFailoverTimer(const Framework& framework, double seconds) {
  delayed_send(this, TimerSpan(seconds), failover_atom::value, framework.info.id,
               framework.failover_generation);
}

void MasterActor::OnFailoverTimeout(const FrameworkId& id, uint64_t generation) {
  Framework* framework = frameworks_.Find(id);
  if (framework == nullptr || framework->connected() ||
      framework->failover_generation != generation) {
    return;
  }
  log_->warn("framework {} did not fail over within {}; tearing it down", id,
             FormatDuration(framework->info.failover_timeout_seconds));
  RemoveFramework(id);
}

void MasterActor::RemoveFramework(FrameworkId id) {  // a copy: callers pass ids the entry owns
  Framework* framework = frameworks_.Find(id);
  if (framework == nullptr) return;
  RescindOffers(*framework, /*recover=*/false);
  std::set<AgentId> agent_ids;
  for (auto it = framework->tasks.begin(); it != framework->tasks.end();) {
    Task& task = it->second;
    agent_ids.insert(task.info.agent_id);
    if (!IsTerminal(task.state)) {
      ApplyTransition(task, MasterStatus(task, TaskState::kKilled, Reason::kFrameworkRemoved,
                                         "the framework was removed", WallSeconds()));
    }
    Complete(*framework, it++);
  }
  for (const auto& agent_id : agent_ids) {
    if (Agent* agent = agents_.Find(agent_id); agent != nullptr && agent->reachable()) {
      SendToAgent(*agent, agentmsg::ShutdownFramework{id});
    }
  }
  Allocator([id](auto& a) { a.RemoveFramework(id); });
  registry_.frameworks.erase(id);
  DurablyOrStepDown([id](Registrar& r) { return r.RemoveFramework(id); });
  frameworks_.Remove(id);
  log_->info("framework {} removed", id);
}

// ---- offers ----

void MasterActor::OnAllocations(Allocations& allocations, double seconds) {
  ++counters_.allocation_rounds;
  counters_.allocation_seconds_total += seconds;
  counters_.last_allocation_seconds = seconds;
  std::map<FrameworkId, std::vector<Offer>> batches;
  for (auto& allocation : allocations) {
    Framework* framework = frameworks_.Find(allocation.framework_id);
    Agent* agent = agents_.Find(allocation.agent_id);
    if (framework == nullptr || !framework->active() || agent == nullptr || !agent->reachable()) {
      Allocator([allocation](auto& a) {
        a.Recover(allocation.framework_id, allocation.agent_id, allocation.resources,
                  allocation.role);
      });
      continue;
    }
    Offer offer;
    offer.id = NewId("offer-");
    offer.framework_id = framework->info.id;
    offer.agent_id = agent->info.id;
    offer.hostname = agent->info.hostname;
    offer.resources = std::move(allocation.resources);
    offer.agent_http_address = agent->info.http_address;
    offer.role = allocation.role;
    offer.attributes = agent->info.attributes;
    offers_.Add(offer, Now());
    if (options_.offer_timeout > 0) {
      delayed_send(this, TimerSpan(options_.offer_timeout), rescind_atom::value, offer.id);
    }
    batches[framework->info.id].push_back(std::move(offer));
  }
  for (auto& [framework_id, offers] : batches) {
    counters_.offers_sent += offers.size();
    SendToFramework(*frameworks_.Find(framework_id), event::Offers{std::move(offers)});
  }
}

void MasterActor::RescindOffer(const OfferId& offer_id, bool notify) {
  std::optional<Offer> offer = offers_.Take(offer_id);
  if (!offer) return;
  Allocator([offer = *offer](auto& a) {
    a.Recover(offer.framework_id, offer.agent_id, offer.resources, offer.role);
  });
  if (notify) {
    if (Framework* framework = frameworks_.Find(offer->framework_id)) {
      SendToFramework(*framework, event::Rescind{offer->id});
    }
  }
}

void MasterActor::RescindOffers(const Framework& framework, bool recover) {
  for (const auto& offer_id : offers_.OfFramework(framework.info.id)) {
    if (recover) {
      RescindOffer(offer_id, true);
    } else {
      offers_.Take(offer_id);
    }
  }
}

void MasterActor::DeclineOffer(Framework& framework, const OfferId& offer_id,
                               double refuse_seconds) {
  if (!offers_.IsOutstandingFor(framework.info.id, offer_id)) return;  // already rescinded
  Offer offer = *offers_.Take(offer_id);
  Allocator([offer, refuse_seconds, now = Now()](auto& a) {
    a.Decline(offer.framework_id, offer.agent_id, offer.resources, refuse_seconds, now, offer.role);
  });
}

void MasterActor::Accept(Framework& framework, const call::Accept& accept) {
  AcceptPlan plan = PlanAccept(framework, accept, offers_, agents_, NewId, WallSeconds());
  if (plan.offers_valid) {
    for (const auto& offer_id : accept.offer_ids) offers_.Take(offer_id);
  } else {
    // Offers that are valid go back to the allocator; the tasks are dropped.
    for (const auto& offer_id : plan.offers_to_recover) RescindOffer(offer_id, false);
  }
  for (auto& event : plan.events) {
    if (auto* update = std::get_if<event::Update>(&event)) {
      log_->warn("framework {}: refused task '{}': {}", framework.info.id, update->status.task_id,
                 update->status.message);
    }
    SendToFramework(framework, std::move(event));
  }
  Agent* agent = agents_.Find(plan.agent_id);
  for (auto& launch : plan.launches) {
    if (launch.group) {
      ChargeExecutor(*agent, framework.info.id, launch.executor.executor_id, launch.executor_charge,
                     static_cast<int>(launch.tasks.size()), plan.role);
    }
    for (const auto& task : launch.tasks) {
      BookLaunch(framework, *agent, launch.executor, task, plan.role);
      ++counters_.tasks_launched;
    }
    SendToAgent(*agent,
                agentmsg::RunTask{framework.info, launch.executor, launch.tasks, plan.role});
  }
  // Whatever was offered and not used goes back, filtered for a while.
  if (plan.offers_valid && !plan.leftover.empty()) {
    Allocator([id = framework.info.id, agent_id = plan.agent_id, leftover = plan.leftover,
               now = Now(), role = plan.role, refuse = accept.refuse_seconds](auto& a) {
      a.Decline(id, agent_id, leftover, refuse, now, role);
    });
  }
}

caf::actor SpawnMasterActor(caf::actor_system& system, MasterOptions options, Outbox* outbox,
                            std::string address, Registry registry, caf::actor registrar) {
  return system.spawn<MasterActor>(std::move(options), outbox, std::move(address),
                                   std::move(registry), std::move(registrar));
}

}  // namespace stoa::master

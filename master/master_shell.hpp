// The master actor's class, shared by its two implementation files
// (master_actor.cpp: plumbing, frameworks, offers; master_agents.cpp: agents,
// task updates, timers). Only those files and master_actor.hpp's spawn
// function use it: everyone else talks to the actor by messages.
#pragma once

#include <caf/all.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/logging.hpp"
#include "master/agent_book.hpp"
#include "master/allocator_actor.hpp"
#include "master/framework_book.hpp"
#include "master/master_actor.hpp"
#include "master/offer_book.hpp"
#include "master/registrar_actor.hpp"
#include "master/tasks.hpp"
#include "master/views.hpp"

namespace stoa::master {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using rescind_atom = caf::atom_constant<caf::atom("rescind")>;
using failover_atom = caf::atom_constant<caf::atom("failover")>;
using reregister_atom = caf::atom_constant<caf::atom("reregtime")>;
// The master to itself: serve the /state and /metrics asks that are waiting.
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;

class MasterActor : public caf::event_based_actor {
 public:
  MasterActor(caf::actor_config& config, MasterOptions options, Outbox* outbox, std::string address,
              Registry registry, caf::actor registrar);
  const char* name() const override { return "stoa.master"; }
  caf::behavior make_behavior() override;

 private:
  // ---- plumbing (master_actor.cpp) ----
  double Now() const;  // the actor system's clock, in seconds
  SnapshotPtr Snapshot(bool with_tasks);
  // Answers a /state or /metrics ask with the next snapshot, which every ask
  // waiting by then shares.
  caf::typed_response_promise<SnapshotPtr> AskSnapshot(bool with_tasks);
  void ServeSnapshots();
  void Durably(RegistrarCommand command, std::function<void(const std::string&)> then);
  void DurablyOrStepDown(
      RegistrarCommand command, std::function<void()> then = [] {});
  void Allocator(AllocatorCommand command);
  void Recover(const std::optional<Recovery>& recovery);
  void Send(const std::string& peer, Message message);
  void SendToAgent(const Agent& agent, AgentMessage message);
  void SendToFramework(const Framework& framework, SchedulerEvent event);
  bool ApplyTransition(Task& task, const TaskStatus& status);
  void Complete(Framework& framework, std::map<TaskId, Task>::iterator it);
  void RecoverFromRegistry();
  void OnReregisterTimeout();
  void OnMessage(const std::string& peer, Message& message);

  // ---- frameworks and offers (master_actor.cpp) ----
  void OnCall(const std::string& peer, SchedulerCall& call);
  void Subscribe(const std::string& peer, FrameworkInfo info);
  static bool SameFrameworkRecord(const FrameworkInfo& a, const FrameworkInfo& b);
  void FinishSubscribe(const std::string& peer, const FrameworkInfo& info);
  void DisconnectFramework(Framework& framework, const std::string& why);
  void WaitForScheduler(Framework& framework, const std::string& why);
  void ArmFailoverTimer(const Framework& framework, double seconds);
  void OnFailoverTimeout(const FrameworkId& id, uint64_t generation);
  void RemoveFramework(FrameworkId id);
  void OnAllocations(Allocations& allocations, double seconds);
  void RescindOffer(const OfferId& offer_id, bool notify);
  void RescindOffers(const Framework& framework, bool recover = true);
  void DeclineOffer(Framework& framework, const OfferId& offer_id, double refuse_seconds);
  void Accept(Framework& framework, const call::Accept& accept);

  // ---- agents and tasks (master_agents.cpp) ----
  void Kill(Framework& framework, const call::Kill& kill);
  void Acknowledge(Framework& framework, const call::Acknowledge& ack);
  void Reconcile(Framework& framework, const call::Reconcile& reconcile);
  void OnAgentMessage(const std::string& peer, AgentMessage& message);
  void RegisterAgent(const std::string& peer, agentmsg::Register& reg);
  // `was_unreachable`: the registry says the agent was unreachable, which a
  // master that failed over since knows only from there.
  void AdmitAgent(const std::string& peer, agentmsg::Register& reg, bool was_unreachable);
  void RecoverFrameworksOf(const agentmsg::Register& reg);
  void EndTasksNotReported(Agent& agent, const std::vector<Task>& reported, TaskState state,
                           const std::string& message);
  void UpdateAgentInfo(Agent& agent, const AgentInfo& info);
  void RemoveAgentBooks(Agent& agent);
  caf::result<std::string> MarkGone(const AgentId& agent_id);
  void MarkUnreachable(Agent& agent);
  void ReportTasks(const AgentId& agent_id, TaskState state, Reason reason,
                   const std::string& message);
  void OnStatusUpdate(Agent& agent, agentmsg::StatusUpdate& update);
  void OnTick();

  MasterOptions options_;
  Outbox* outbox_;
  std::string address_;
  std::shared_ptr<spdlog::logger> log_;
  std::string master_id_;
  double start_time_ = 0;
  caf::actor allocator_;
  Registry registry_;  // what the registrar has made durable
  caf::actor registrar_;

  FrameworkBook frameworks_;
  AgentBook agents_;
  OfferBook offers_;
  double recovery_deadline_ = 0;       // end of the agents' reregistration window (actor clock)
  std::set<std::string> admitting_;    // peers whose admission is being written
  std::set<std::string> subscribing_;  // peers whose framework is being written
  MasterCounters counters_;
  std::vector<caf::typed_response_promise<SnapshotPtr>> snapshot_asks_;  // waiting for one
  bool snapshot_asks_want_tasks_ = false;
};

}  // namespace stoa::master

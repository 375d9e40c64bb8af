#include "master/master.hpp"

#include <caf/all.hpp>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/duration.hpp"
#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "common/transport.hpp"
#include "master/allocator.hpp"
#include "master/registrar.hpp"
#include "master/validation.hpp"
#include "protocols/codec.hpp"

namespace stoa::master {
using AllocatorCommand = std::function<void(Allocator&)>;
using Allocations = std::vector<Allocation>;
using RegistrarCommand = std::function<Status(Registrar&)>;
}  // namespace stoa::master

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::AllocatorCommand)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::Allocations)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::RegistrarCommand)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::Registry)

namespace stoa::master {
namespace {

using json = nlohmann::json;

using recv_atom = caf::atom_constant<caf::atom("recv")>;
using command_atom = caf::atom_constant<caf::atom("command")>;
using round_atom = caf::atom_constant<caf::atom("round")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using offers_atom = caf::atom_constant<caf::atom("offers")>;
using state_atom = caf::atom_constant<caf::atom("state")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using rescind_atom = caf::atom_constant<caf::atom("rescind")>;
using failover_atom = caf::atom_constant<caf::atom("failover")>;
using registrar_atom = caf::atom_constant<caf::atom("registrar")>;
using reregister_atom = caf::atom_constant<caf::atom("reregtime")>;
using gone_atom = caf::atom_constant<caf::atom("gone")>;

caf::timespan Seconds(double seconds) { return TimerSpan(seconds); }

// ---------------------------------------------------------------------------
// The allocator actor: serialises access to the Allocator, runs a round every
// allocation interval and soon after any change, and sends the master what it
// allocated together with how long the round took.

struct AllocatorState {
  Allocator allocator;
  bool round_pending = false;
  static inline const char* name = "stoa.allocator";
};

// Changes (freed resources, new agents and frameworks) are batched for
// `batch` seconds and then allocated over the agents that changed only.
caf::behavior AllocatorActor(caf::stateful_actor<AllocatorState>* self, caf::actor master,
                             double interval, double batch) {
  auto round = [self, master](bool all) {
    double start = MonotonicSeconds();
    Allocator& allocator = self->state.allocator;
    Allocations allocations = all ? allocator.Allocate(start) : allocator.AllocateChanged(start);
    double seconds = MonotonicSeconds() - start;
    if (all || !allocations.empty()) {
      self->send(master, offers_atom::value, std::move(allocations), seconds);
    }
  };
  self->delayed_send(self, Seconds(interval), tick_atom::value);
  return {
      [self, batch](command_atom, const AllocatorCommand& command) {
        command(self->state.allocator);
        if (!self->state.round_pending && self->state.allocator.HasChanges()) {
          self->state.round_pending = true;
          self->delayed_send(self, Seconds(batch), round_atom::value);
        }
      },
      [self, round](round_atom) {
        self->state.round_pending = false;
        round(false);
      },
      [self, round, interval](tick_atom) {
        round(true);
        self->delayed_send(self, Seconds(interval), tick_atom::value);
      },
  };
}

// ---------------------------------------------------------------------------
// The registrar actor: registry writes block on disk or ZooKeeper, so they run
// here, one at a time, in the order the master asked for them. The reply is
// empty on success, else the error.

caf::behavior RegistrarActor(caf::event_based_actor*, std::shared_ptr<Registrar> registrar) {
  return {
      [registrar](registrar_atom, const RegistrarCommand& command) -> std::string {
        Status status = command(*registrar);
        return status.ok() ? std::string() : status.message();
      },
  };
}

// ---------------------------------------------------------------------------
// The master actor.

json ResourcesJson(const Resources& resources) {
  json out = json::object();
  for (const auto& name : resources.ScalarNames()) out[name] = resources.Get(name);
  for (const auto& entry : resources.entries()) {
    if (entry.type == Resource::Type::kRanges && !out.contains(entry.name)) {
      Resources only = resources.Filter([&](const Resource& r) { return r.name == entry.name; });
      std::string text = only.ToString();
      auto colon = text.find(':');
      out[entry.name] = colon == std::string::npos ? text : text.substr(colon + 1);
    }
  }
  return out;
}

json StatusJson(const TaskStatus& status) {
  json out = {{"state", ToString(status.state)},
              {"timestamp", status.timestamp},
              {"source", ToString(status.source)}};
  if (status.reason != Reason::kNone) out["reason"] = ToString(status.reason);
  if (!status.message.empty()) out["message"] = status.message;
  if (status.exit_status >= 0) out["exit_status"] = status.exit_status;
  return out;
}

json TaskJson(const Task& task) {
  json statuses = json::array();
  for (const auto& status : task.statuses) statuses.push_back(StatusJson(status));
  return {{"id", task.info.task_id},
          {"name", task.info.name},
          {"framework_id", task.framework_id},
          {"agent_id", task.info.agent_id},
          {"executor_id", task.executor_id},
          {"state", ToString(task.state)},
          {"resources", ResourcesJson(task.info.resources)},
          {"command", task.info.command.value},
          {"statuses", statuses}};
}

struct OfferEntry {
  Offer offer;
  double created = 0;
};

struct FrameworkEntry {
  FrameworkInfo info;
  std::string peer;
  bool connected = false;
  bool active = false;
  double last_seen = 0;
  double registered_time = 0;
  double disconnected_time = 0;
  uint64_t failover_generation = 0;
  std::map<TaskId, Task> tasks;  // not yet terminal-and-acknowledged
  std::deque<Task> completed_tasks;
  std::set<OfferId> offers;
};

struct AgentEntry {
  AgentInfo info;
  std::string peer;
  uint64_t epoch = 0;  // of the registration the master last answered
  bool reachable = true;
  int missed_pings = 0;
  double registered_time = 0;
  Resources used;
  Resources offered;
  std::set<std::pair<FrameworkId, TaskId>> tasks;
  std::set<OfferId> offers;
  agentmsg::UsageReport usage;  // what its running containers use, as of its last pong
  // Executors of task groups and what they were charged, until their last task ends.
  struct ExecutorCharge {
    Resources resources;
    int live_tasks = 0;
  };
  std::map<std::pair<FrameworkId, ExecutorId>, ExecutorCharge> executors;
};

// What the master owes an agent that is away: tasks it ended there (LOST,
// GONE) that must not come back, and kills to deliver when it returns.
struct AgentDebts {
  std::set<std::pair<FrameworkId, TaskId>> ended;
  std::set<std::pair<FrameworkId, TaskId>> kills;
};

class MasterActor : public caf::event_based_actor {
 public:
  MasterActor(caf::actor_config& config, MasterOptions options, ZmqEndpoint* endpoint,
              std::string address, Registry registry, caf::actor registrar)
      : caf::event_based_actor(config),
        options_(std::move(options)),
        endpoint_(endpoint),
        address_(std::move(address)),
        log_(Logger("master")),
        registry_(std::move(registry)),
        registrar_(std::move(registrar)) {
    master_id_ = options_.id.empty() ? NewId("master-") : options_.id;
    start_time_ = WallSeconds();
  }

  const char* name() const override { return "stoa.master"; }

  caf::behavior make_behavior() override {
    allocator_ = spawn(AllocatorActor, caf::actor_cast<caf::actor>(this),
                       options_.allocation_interval, options_.allocation_batch);
    link_to(allocator_);
    delayed_send(this, Seconds(options_.agent_ping_interval), tick_atom::value);
    RecoverFromRegistry();
    log_->info("master {} serving at {}", master_id_, address_);
    return {
        [this](recv_atom, const std::string& peer, const std::string& frame) {
          OnFrame(peer, frame);
        },
        [this](offers_atom, Allocations& allocations, double seconds) {
          OnAllocations(allocations, seconds);
        },
        [this](tick_atom) {
          OnTick();
          delayed_send(this,
                       Seconds(std::min(options_.agent_ping_interval,
                                        options_.framework_heartbeat_interval)),
                       tick_atom::value);
        },
        [this](rescind_atom, const std::string& offer_id) { RescindOffer(offer_id, true); },
        [this](failover_atom, const std::string& framework_id, uint64_t generation) {
          OnFailoverTimeout(framework_id, generation);
        },
        [this](reregister_atom) { OnReregisterTimeout(); },
        [this](state_atom) -> std::string { return StateJson().dump(); },
        [this](metrics_atom) -> std::string { return MetricsText(); },
        [this](gone_atom, const std::string& agent_id) -> caf::result<std::string> {
          return MarkGone(agent_id);
        },
    };
  }

 private:
  // ---- plumbing ----

  // Runs `command` on the registrar; `then` gets "" once it is durable, or the error.
  void Durably(RegistrarCommand command, std::function<void(const std::string&)> then) {
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

  // Runs `command` on the registrar and `then` once it is durable. The caller
  // has already changed memory (so that later messages see it), so a failed write would leave
  // memory and storage disagreeing: the master stops leading instead (Mesos's registrar aborts the
  // same way), and a restart recovers from what storage holds.
  void DurablyOrStepDown(
      RegistrarCommand command, std::function<void()> then = [] {}) {
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

  // ---- recovery ----

  void RecoverFromRegistry() {
    double now = WallSeconds();
    for (const auto& [id, record] : registry_.agents) {
      if (record.state == AgentRecord::State::kGone) gone_agents_.insert(id);
      if (record.state == AgentRecord::State::kAdmitted) recovered_agents_.insert(id);
    }
    for (const auto& id : registry_.removed_frameworks) completed_framework_ids_.insert(id);
    for (const auto& [role, weight] : registry_.weights) {
      Allocator([role = role, weight = weight](auto& a) { a.SetWeight(role, weight); });
    }
    if (!recovered_agents_.empty() || !registry_.frameworks.empty()) {
      recovery_deadline_ = MonotonicSeconds() + options_.agent_reregister_timeout;
    }
    for (const auto& [id, info] : registry_.frameworks) {
      FrameworkEntry& framework = frameworks_[id];
      framework.info = info;
      framework.registered_time = now;
      Allocator([id = id, roles = info.roles](auto& a) {
        a.AddFramework(id, roles);
        a.DeactivateFramework(id);
      });
      WaitForScheduler(framework, "recovered from the registry");
    }
    if (!recovered_agents_.empty() || !registry_.frameworks.empty()) {
      log_->info(
          "recovered {} agents and {} frameworks from the registry; agents have {} to "
          "reregister",
          recovered_agents_.size(), registry_.frameworks.size(),
          FormatDuration(options_.agent_reregister_timeout));
      delayed_send(this, Seconds(options_.agent_reregister_timeout), reregister_atom::value);
    }
  }

  // Agents of the registry that did not come back in time are unreachable.
  void OnReregisterTimeout() {
    for (const auto& id : recovered_agents_) {
      log_->warn("agent {} did not reregister within {}; marking it unreachable", id,
                 FormatDuration(options_.agent_reregister_timeout));
      AgentRecord record = registry_.agents[id];
      record.state = AgentRecord::State::kUnreachable;
      record.changed_time = WallSeconds();
      registry_.agents[id] = record;
      DurablyOrStepDown([record](Registrar& r) { return r.PutAgent(record); });
    }
    recovered_agents_.clear();
  }

  void Allocator(AllocatorCommand command) {
    send(allocator_, command_atom::value, std::move(command));
  }

  void SendToPeer(const std::string& peer, const Message& message) {
    endpoint_->SendToPeer(peer, Encode(message));
  }
  void SendToAgent(const AgentEntry& agent, AgentMessage message) {
    SendToPeer(agent.peer, Message(std::move(message)));
  }
  void SendToFramework(const FrameworkEntry& framework, SchedulerEvent event) {
    if (framework.connected) SendToPeer(framework.peer, Message(std::move(event)));
  }

  void OnFrame(const std::string& peer, const std::string& frame) {
    ++frames_received_;
    Result<Message> decoded = Decode(frame);
    if (!decoded.ok()) {
      ++invalid_frames_;
      log_->warn("dropped an invalid frame of {} bytes from peer {}: {}", frame.size(),
                 PrintablePeer(peer), decoded.error());
      SendToPeer(peer, Message(ProtocolError{"invalid frame: " + decoded.error()}));
      return;
    }
    std::visit(
        Overloaded{
            [&](SchedulerCall& call) { OnCall(peer, call); },
            [&](AgentMessage& message) { OnAgentMessage(peer, message); },
            [&](Keepalive&) { Touch(peer); },
            [&](ProtocolError& error) {
              log_->warn("peer {} reports a protocol error: {}", PrintablePeer(peer),
                         error.message);
            },
            [&](auto&) {
              ++invalid_frames_;
              log_->warn("peer {} sent a message the master does not accept", PrintablePeer(peer));
              SendToPeer(peer, Message(ProtocolError{"the master accepts scheduler calls and agent "
                                                     "messages only"}));
            },
        },
        *decoded);
  }

  static std::string PrintablePeer(const std::string& peer) {
    std::string out;
    for (unsigned char c : peer.substr(0, 24)) {
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
    }
    if (peer.size() > 24) out += "...";
    return out;
  }

  void Touch(const std::string& peer) {
    auto it = peer_frameworks_.find(peer);
    if (it == peer_frameworks_.end()) return;
    if (auto* framework = FindFramework(it->second)) framework->last_seen = MonotonicSeconds();
  }

  FrameworkEntry* FindFramework(const FrameworkId& id) {
    auto it = frameworks_.find(id);
    return it == frameworks_.end() ? nullptr : &it->second;
  }
  AgentEntry* FindAgent(const AgentId& id) {
    auto it = agents_.find(id);
    return it == agents_.end() ? nullptr : &it->second;
  }

  // ---- frameworks ----

  void OnCall(const std::string& peer, SchedulerCall& call) {
    if (auto* subscribe = std::get_if<call::Subscribe>(&call.call)) {
      Subscribe(peer, subscribe->info);
      return;
    }
    FrameworkEntry* framework = FindFramework(call.framework_id);
    if (framework == nullptr || !framework->connected || framework->peer != peer) {
      std::string why =
          framework == nullptr
              ? "framework '" + call.framework_id + "' is not subscribed"
              : "framework '" + call.framework_id + "' is subscribed from another connection";
      SendToPeer(peer, Message(SchedulerEvent(event::Error{why + "; send SUBSCRIBE first"})));
      return;
    }
    framework->last_seen = MonotonicSeconds();
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

  void Subscribe(const std::string& peer, FrameworkInfo info) {
    if (info.roles.empty()) info.roles.push_back("*");
    // Huge timeouts (even infinity) mean "never"; timers clamp them (TimerSpan).
    if (!(info.failover_timeout_seconds >= 0)) {
      SendToPeer(peer, Message(SchedulerEvent(event::Error{
                           "failover_timeout must be a non-negative number of seconds"})));
      return;
    }
    if (info.id.empty()) {
      // A retry of a subscription we already answered: the same framework.
      auto known_peer = peer_frameworks_.find(peer);
      if (known_peer != peer_frameworks_.end()) info.id = known_peer->second;
    }
    if (info.id.empty()) {
      info.id = NewId("framework-");
    } else if (Status s = ValidateId("framework", info.id); !s.ok()) {
      SendToPeer(peer, Message(SchedulerEvent(event::Error{s.message()})));
      return;
    }
    if (completed_framework_ids_.count(info.id) > 0) {
      SendToPeer(peer, Message(SchedulerEvent(event::Error{
                           "framework '" + info.id +
                               "' was torn down (its failover timeout expired or it was removed); "
                               "subscribe without an id to start a new one",
                           /*terminal=*/true})));
      return;
    }
    if (FindFramework(info.id) == nullptr && registry_.frameworks.count(info.id) == 0) {
      if (!subscribing_.insert(peer).second) return;  // a retry while the write is in flight
      Durably([info](Registrar& r) { return r.PutFramework(info); },
              [this, peer, info](const std::string& error) {
                subscribing_.erase(peer);
                if (!error.empty()) {
                  SendToPeer(peer, Message(SchedulerEvent(event::Error{
                                       "the master cannot record the framework: " + error})));
                  return;
                }
                registry_.frameworks[info.id] = info;
                FinishSubscribe(peer, info);
              });
      return;
    }
    FinishSubscribe(peer, info);
  }

  void FinishSubscribe(const std::string& peer, const FrameworkInfo& info) {
    double now = MonotonicSeconds();
    auto [it, inserted] = frameworks_.try_emplace(info.id);
    FrameworkEntry& framework = it->second;
    if (inserted) {
      framework.registered_time = WallSeconds();
      Allocator([id = info.id, roles = info.roles](auto& a) { a.AddFramework(id, roles); });
      log_->info("framework {} ({}) subscribed with roles {}", info.id, info.name,
                 fmt::join(info.roles, ","));
    } else {
      if (framework.connected && framework.peer != peer) {
        SendToPeer(
            framework.peer,
            Message(SchedulerEvent(event::Error{
                "framework " + info.id + " failed over to another scheduler; this one must stop",
                /*terminal=*/true})));
      }
      RescindOffers(framework);
      peer_frameworks_.erase(framework.peer);
      log_->info("framework {} ({}) resubscribed", info.id, info.name);
    }
    framework.info = info;
    framework.peer = peer;
    framework.connected = true;
    framework.active = true;
    framework.last_seen = now;
    ++framework.failover_generation;  // cancels a pending failover timeout
    peer_frameworks_[peer] = info.id;
    Allocator([id = info.id](auto& a) { a.ActivateFramework(id); });
    SendToFramework(framework,
                    event::Subscribed{info.id, options_.framework_heartbeat_interval, master_id_});
  }

  void DisconnectFramework(FrameworkEntry& framework, const std::string& why) {
    if (!framework.connected) return;
    log_->warn("framework {} disconnected ({}); it has {} to fail over", framework.info.id, why,
               FormatDuration(framework.info.failover_timeout_seconds));
    framework.connected = false;
    framework.active = false;
    framework.disconnected_time = WallSeconds();
    peer_frameworks_.erase(framework.peer);
    RescindOffers(framework);
    Allocator([id = framework.info.id](auto& a) { a.DeactivateFramework(id); });
    ArmFailoverTimer(framework, framework.info.failover_timeout_seconds);
  }

  // A framework this master learned of without its scheduler (registry, or an
  // agent's report after a failover) waits for the scheduler as Mesos does:
  // its failover timeout starts only once agents have had their window to
  // reregister, so that a scheduler that is reconnecting finds its tasks.
  void WaitForScheduler(FrameworkEntry& framework, const std::string& why) {
    framework.connected = false;
    framework.active = false;
    framework.disconnected_time = WallSeconds();
    double window = std::max(0.0, recovery_deadline_ - MonotonicSeconds());
    double wait = window + framework.info.failover_timeout_seconds;
    log_->info("framework {} {}; its scheduler has {} to resubscribe", framework.info.id, why,
               FormatDuration(wait));
    ArmFailoverTimer(framework, wait);
  }

  void ArmFailoverTimer(const FrameworkEntry& framework, double seconds) {
    delayed_send(this, Seconds(seconds), failover_atom::value, framework.info.id,
                 framework.failover_generation);
  }

  void OnFailoverTimeout(const FrameworkId& id, uint64_t generation) {
    FrameworkEntry* framework = FindFramework(id);
    if (framework == nullptr || framework->connected ||
        framework->failover_generation != generation) {
      return;
    }
    log_->warn("framework {} did not fail over within {}; tearing it down", id,
               FormatDuration(framework->info.failover_timeout_seconds));
    RemoveFramework(id);
  }

  void RemoveFramework(FrameworkId id) {  // a copy: callers pass ids owned by the entry
    auto it = frameworks_.find(id);
    if (it == frameworks_.end()) return;
    FrameworkEntry& framework = it->second;
    RescindOffers(framework, /*recover=*/false);
    std::set<AgentId> agents;
    for (auto& [task_id, task] : framework.tasks) {
      AgentEntry* agent = FindAgent(task.info.agent_id);
      if (agent != nullptr) {
        agents.insert(agent->info.id);
        agent->tasks.erase({id, task_id});
      }
      if (!IsTerminal(task.state)) {
        Transition(framework, task,
                   MasterStatus(task, TaskState::kKilled, Reason::kFrameworkRemoved,
                                "the framework was removed"));
      }
      framework.completed_tasks.push_back(std::move(task));
    }
    framework.tasks.clear();
    for (const auto& agent_id : agents) {
      if (AgentEntry* agent = FindAgent(agent_id); agent != nullptr && agent->reachable) {
        SendToAgent(*agent, agentmsg::ShutdownFramework{id});
      }
    }
    if (framework.connected) peer_frameworks_.erase(framework.peer);
    Allocator([id](auto& a) { a.RemoveFramework(id); });
    completed_framework_ids_.insert(id);
    registry_.frameworks.erase(id);
    DurablyOrStepDown([id](Registrar& r) { return r.RemoveFramework(id); });
    completed_frameworks_.push_back(std::move(framework));
    while (completed_frameworks_.size() > options_.max_completed_frameworks) {
      completed_frameworks_.pop_front();
    }
    frameworks_.erase(it);
    log_->info("framework {} removed", id);
  }

  TaskStatus MasterStatus(const Task& task, TaskState state, Reason reason,
                          const std::string& message) {
    TaskStatus status;
    status.task_id = task.info.task_id;
    status.state = state;
    status.reason = reason;
    status.source = Source::kMaster;
    status.message = message;
    status.agent_id = task.info.agent_id;
    status.executor_id = task.executor_id;
    status.timestamp = WallSeconds();
    return status;
  }

  // A task the framework asked about that the master does not know.
  TaskStatus UnknownTaskStatus(const FrameworkEntry& framework, const TaskId& task_id,
                               const AgentId& agent_id, const std::string& message) {
    TaskStatus status;
    status.task_id = task_id;
    status.agent_id = agent_id;
    status.state = framework.info.partition_aware ? TaskState::kUnknown : TaskState::kLost;
    status.reason = Reason::kReconciliation;
    status.source = Source::kMaster;
    status.message = message;
    status.timestamp = WallSeconds();
    return status;
  }

  // ---- offers ----

  void OnAllocations(Allocations& allocations, double seconds) {
    ++allocation_rounds_;
    allocation_seconds_total_ += seconds;
    last_allocation_seconds_ = seconds;
    std::map<FrameworkId, std::vector<Offer>> batches;
    for (auto& allocation : allocations) {
      FrameworkEntry* framework = FindFramework(allocation.framework_id);
      AgentEntry* agent = FindAgent(allocation.agent_id);
      if (framework == nullptr || !framework->active || agent == nullptr || !agent->reachable) {
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
      framework->offers.insert(offer.id);
      agent->offers.insert(offer.id);
      agent->offered += offer.resources;
      offers_[offer.id] = OfferEntry{offer, MonotonicSeconds()};
      if (options_.offer_timeout > 0) {
        delayed_send(this, Seconds(options_.offer_timeout), rescind_atom::value, offer.id);
      }
      batches[framework->info.id].push_back(std::move(offer));
    }
    for (auto& [framework_id, offers] : batches) {
      offers_sent_ += offers.size();
      SendToFramework(frameworks_.at(framework_id), event::Offers{std::move(offers)});
    }
  }

  // Removes an offer from the books; returns it (empty id when unknown).
  Offer TakeOffer(const OfferId& offer_id) {
    auto it = offers_.find(offer_id);
    if (it == offers_.end()) return Offer{};
    Offer offer = std::move(it->second.offer);
    offers_.erase(it);
    if (auto* framework = FindFramework(offer.framework_id)) framework->offers.erase(offer.id);
    if (auto* agent = FindAgent(offer.agent_id)) {
      agent->offers.erase(offer.id);
      agent->offered -= offer.resources;
    }
    return offer;
  }

  void RescindOffer(const OfferId& offer_id, bool notify) {
    Offer offer = TakeOffer(offer_id);
    if (offer.id.empty()) return;
    Allocator([offer](auto& a) {
      a.Recover(offer.framework_id, offer.agent_id, offer.resources, offer.role);
    });
    if (notify) {
      if (auto* framework = FindFramework(offer.framework_id)) {
        SendToFramework(*framework, event::Rescind{offer.id});
      }
    }
  }

  void RescindOffers(FrameworkEntry& framework, bool recover = true) {
    std::set<OfferId> offers = framework.offers;
    for (const auto& offer_id : offers) {
      if (recover) {
        RescindOffer(offer_id, true);
      } else {
        TakeOffer(offer_id);
      }
    }
  }

  void DeclineOffer(FrameworkEntry& framework, const OfferId& offer_id, double refuse_seconds) {
    if (framework.offers.count(offer_id) == 0) return;  // already rescinded: nothing to do
    Offer offer = TakeOffer(offer_id);
    double now = MonotonicSeconds();
    Allocator([offer, refuse_seconds, now](auto& a) {
      a.Decline(offer.framework_id, offer.agent_id, offer.resources, refuse_seconds, now,
                offer.role);
    });
  }

  void Accept(FrameworkEntry& framework, call::Accept& accept) {
    // The offers must be outstanding, this framework's, and all on one agent.
    std::string offer_error;
    Resources offered;
    AgentId agent_id;
    std::vector<Offer> taken;
    if (accept.offer_ids.empty()) offer_error = "ACCEPT names no offers";
    std::set<OfferId> seen;
    for (const auto& offer_id : accept.offer_ids) {
      if (!offer_error.empty()) break;
      if (!seen.insert(offer_id).second) {
        offer_error = "offer '" + offer_id + "' is named twice";
      } else if (framework.offers.count(offer_id) == 0) {
        offer_error = "offer '" + offer_id +
                      "' is not outstanding for this framework (rescinded, declined, used or "
                      "never made)";
      } else if (!agent_id.empty() && offers_.at(offer_id).offer.agent_id != agent_id) {
        offer_error = "offers of one ACCEPT must all be on the same agent";
      } else {
        agent_id = offers_.at(offer_id).offer.agent_id;
      }
    }
    std::string role;  // the allocation role of the launched tasks: the first offer's
    if (offer_error.empty()) {
      for (const auto& offer_id : accept.offer_ids) {
        taken.push_back(TakeOffer(offer_id));
        offered += taken.back().resources;
        if (role.empty()) role = taken.back().role;
      }
    } else {
      // Offers that are valid go back to the allocator; the tasks are dropped.
      for (const auto& offer_id : accept.offer_ids) {
        if (framework.offers.count(offer_id) > 0) RescindOffer(offer_id, false);
      }
    }

    AgentEntry* agent = offer_error.empty() ? FindAgent(agent_id) : nullptr;
    Resources remaining = offered;
    std::set<TaskId> ids_in_use;
    for (const auto& [id, task] : framework.tasks) ids_in_use.insert(id);
    size_t task_count = 0;
    for (auto& operation : accept.operations) task_count += operation.tasks.size();

    for (auto& operation : accept.operations) {
      if (operation.type != Operation::Type::kLaunch &&
          operation.type != Operation::Type::kLaunchGroup) {
        SendToFramework(framework,
                        event::Error{std::string("operation ") + ToString(operation.type) +
                                     " is not supported by this master yet"});
        continue;
      }
      std::string group_error;
      if (!offer_error.empty()) {
        group_error = offer_error;
      } else if (agent == nullptr || !agent->reachable) {
        group_error = "agent '" + agent_id + "' is no longer reachable";
      } else if (task_count > kMaxTasksPerAccept) {
        group_error = "ACCEPT launches " + std::to_string(task_count) + " tasks; at most " +
                      std::to_string(kMaxTasksPerAccept) + " are allowed";
      } else if (operation.tasks.empty()) {
        SendToFramework(framework, event::Error{"a launch operation has no tasks"});
        continue;
      }
      ExecutorInfo executor = operation.executor;
      executor.framework_id = framework.info.id;
      Resources executor_charge;  // what a new group executor itself takes from the offer
      if (group_error.empty() && operation.type == Operation::Type::kLaunchGroup) {
        if (executor.executor_id.empty()) executor.executor_id = NewId("executor-");
        if (Status s = ValidateId("executor", executor.executor_id); !s.ok()) {
          group_error = s.message();
        } else if (agent->executors.count({framework.info.id, executor.executor_id}) == 0 &&
                   !executor.resources.empty()) {
          if (Status r = ValidateTaskResources(executor.resources); !r.ok()) {
            group_error = "executor '" + executor.executor_id + "': " + r.message();
          } else if (!remaining.Contains(executor.resources)) {
            group_error = "executor '" + executor.executor_id + "': resources " +
                          executor.resources.ToString() + " are not in the offered " +
                          remaining.ToString();
          } else {
            executor_charge = executor.resources;
          }
        }
      }
      Resources before = remaining;
      remaining -= executor_charge;
      // Validate every task; a group is launched whole or not at all.
      std::set<TaskId> group_ids = ids_in_use;
      std::vector<std::pair<size_t, std::string>> task_errors;
      for (size_t i = 0; i < operation.tasks.size() && group_error.empty(); ++i) {
        TaskInfo& task = operation.tasks[i];
        Status valid = ValidateTask(task, agent_id, remaining, group_ids);
        if (!valid.ok()) {
          task_errors.emplace_back(i, valid.message());
          continue;
        }
        task.agent_id = agent_id;
        remaining -= task.resources;
        group_ids.insert(task.task_id);
      }
      bool is_group = operation.type == Operation::Type::kLaunchGroup;
      if (is_group && !task_errors.empty() && group_error.empty()) {
        group_error = "the task group is invalid: " + task_errors.front().second;
        remaining = before;
      }
      std::vector<TaskInfo> launched;
      for (size_t i = 0; i < operation.tasks.size(); ++i) {
        TaskInfo& task = operation.tasks[i];
        std::string error = group_error;
        for (const auto& [index, message] : task_errors) {
          if (index == i && error.empty()) error = message;
        }
        if (!error.empty()) {
          Task rejected;
          rejected.info = task;
          rejected.framework_id = framework.info.id;
          bool dropped = !offer_error.empty() || (agent == nullptr || !agent->reachable);
          TaskStatus status =
              MasterStatus(rejected, dropped ? TaskState::kDropped : TaskState::kError,
                           dropped ? Reason::kInvalidOffers : Reason::kTaskInvalid, error);
          if (dropped && !framework.info.partition_aware) status.state = TaskState::kLost;
          log_->warn("framework {}: refused task '{}': {}", framework.info.id, task.task_id, error);
          SendToFramework(framework, event::Update{status});
          continue;
        }
        launched.push_back(task);
      }
      if (launched.empty()) continue;
      if (!is_group) {
        for (auto& task : launched) {
          ExecutorInfo command_executor;
          // Its own id, not the task's: a task id reused while the old
          // container is still being torn down on the agent names a new one.
          command_executor.executor_id = NewId(
              task.task_id.size() <= kMaxIdLength - 46 ? task.task_id + ".executor-" : "executor-");
          command_executor.framework_id = framework.info.id;
          LaunchTasks(framework, *agent, command_executor, {task}, role);
        }
      } else {
        executor.group = true;
        auto [charged, fresh] =
            agent->executors.try_emplace({framework.info.id, executor.executor_id},
                                         AgentEntry::ExecutorCharge{executor_charge, 0});
        if (fresh) agent->used += executor_charge;
        charged->second.live_tasks += static_cast<int>(launched.size());
        LaunchTasks(framework, *agent, executor, launched, role);
      }
      for (const auto& task : launched) ids_in_use.insert(task.task_id);
    }

    // Whatever was offered and not used goes back, filtered for a while.
    if (offer_error.empty() && !remaining.empty()) {
      double now = MonotonicSeconds();
      Allocator([id = framework.info.id, agent_id, remaining, now, role,
                 refuse = accept.refuse_seconds](auto& a) {
        a.Decline(id, agent_id, remaining, refuse, now, role);
      });
    }
  }

  void LaunchTasks(FrameworkEntry& framework, AgentEntry& agent, const ExecutorInfo& executor,
                   const std::vector<TaskInfo>& tasks, const std::string& role) {
    for (const auto& info : tasks) {
      Task task;
      task.role = role;
      task.info = info;
      task.framework_id = framework.info.id;
      task.executor_id = executor.executor_id;
      task.state = TaskState::kStaging;
      agent.used += info.resources;
      agent.tasks.insert({framework.info.id, info.task_id});
      framework.tasks[info.task_id] = std::move(task);
      ++tasks_launched_;
    }
    SendToAgent(agent, agentmsg::RunTask{framework.info, executor, tasks});
  }

  void Kill(FrameworkEntry& framework, const call::Kill& kill) {
    auto it = framework.tasks.find(kill.task_id);
    if (it == framework.tasks.end()) {
      SendToFramework(framework,
                      event::Update{UnknownTaskStatus(framework, kill.task_id, kill.agent_id,
                                                      "kill of a task this master does not know")});
      return;
    }
    AgentEntry* agent = FindAgent(it->second.info.agent_id);
    if (agent == nullptr || !agent->reachable) {
      debts_[it->second.info.agent_id].kills.insert({framework.info.id, kill.task_id});
      SendToFramework(framework,
                      event::Update{MasterStatus(it->second, TaskState::kUnreachable,
                                                 Reason::kAgentDisconnected,
                                                 "the task's agent is unreachable; the kill "
                                                 "will be retried when it comes back")});
      return;
    }
    SendToAgent(*agent, agentmsg::KillTask{framework.info.id, kill.task_id});
  }

  void Acknowledge(FrameworkEntry& framework, const call::Acknowledge& ack) {
    auto it = framework.tasks.find(ack.task_id);
    AgentEntry* agent = FindAgent(ack.agent_id);
    if (agent != nullptr && agent->reachable) {
      SendToAgent(*agent, agentmsg::StatusUpdateAck{framework.info.id, ack.task_id, ack.uuid});
    }
    if (it == framework.tasks.end()) return;
    Task& task = it->second;
    if (IsTerminal(task.state) && !task.statuses.empty() && task.statuses.back().uuid == ack.uuid) {
      CompleteTask(framework, it);
    }
  }

  void CompleteTask(FrameworkEntry& framework, std::map<TaskId, Task>::iterator it) {
    if (AgentEntry* agent = FindAgent(it->second.info.agent_id)) {
      agent->tasks.erase({framework.info.id, it->first});
    }
    framework.completed_tasks.push_back(std::move(it->second));
    while (framework.completed_tasks.size() > options_.max_completed_tasks_per_framework) {
      framework.completed_tasks.pop_front();
    }
    framework.tasks.erase(it);
  }

  void Reconcile(FrameworkEntry& framework, const call::Reconcile& reconcile) {
    auto answer = [&](const Task& task) {
      TaskStatus status = task.statuses.empty()
                              ? MasterStatus(task, task.state, Reason::kReconciliation, "")
                              : task.statuses.back();
      AgentEntry* agent = FindAgent(task.info.agent_id);
      if (agent != nullptr && !agent->reachable && !IsTerminal(task.state)) {
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
      auto it = framework.tasks.find(task_id);
      if (it != framework.tasks.end()) {
        answer(it->second);
        continue;
      }
      const Task* completed = nullptr;
      for (const auto& task : framework.completed_tasks) {
        if (task.info.task_id == task_id) completed = &task;
      }
      bool agent_may_know =
          agent_id.empty() ? !recovered_agents_.empty() : recovered_agents_.count(agent_id) > 0;
      if (completed != nullptr) {
        answer(*completed);
      } else if (agent_may_know) {
        // After a failover, an agent that has not reregistered yet may still
        // run the task: say nothing rather than something untrue; the
        // framework asks again.
        continue;
      } else if (auto record = registry_.agents.find(agent_id);
                 !agent_id.empty() && record != registry_.agents.end() &&
                 record->second.state != AgentRecord::State::kAdmitted) {
        // As Mesos answers: the agent is away (UNREACHABLE) or retired (GONE).
        bool gone = record->second.state == AgentRecord::State::kGone;
        TaskStatus status = UnknownTaskStatus(
            framework, task_id, agent_id,
            gone ? "the task's agent was marked gone" : "the task's agent is unreachable");
        if (framework.info.partition_aware) {
          status.state = gone ? TaskState::kGone : TaskState::kUnreachable;
        }
        SendToFramework(framework, event::Update{status});
      } else {
        SendToFramework(framework,
                        event::Update{UnknownTaskStatus(framework, task_id, agent_id,
                                                        "this master does not know the task")});
      }
    }
  }

  // ---- agents ----

  void OnAgentMessage(const std::string& peer, AgentMessage& message) {
    if (auto* reg = std::get_if<agentmsg::Register>(&message)) {
      RegisterAgent(peer, *reg);
      return;
    }
    auto pit = peer_agents_.find(peer);
    AgentEntry* agent = pit == peer_agents_.end() ? nullptr : FindAgent(pit->second);
    if (agent == nullptr) {
      SendToPeer(peer, Message(AgentMessage(agentmsg::Shutdown{
                           "this master does not know the agent; register again"})));
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

  void RegisterAgent(const std::string& peer, agentmsg::Register& reg) {
    if (admitting_.count(peer) > 0) return;  // a retry while its admission is being written
    AgentInfo& info = reg.info;
    if (info.id.empty()) {
      // A retry of a registration we already answered: the same agent, not a new one.
      auto known_peer = peer_agents_.find(peer);
      if (known_peer != peer_agents_.end() && FindAgent(known_peer->second) != nullptr) {
        SendToPeer(peer,
                   Message(AgentMessage(agentmsg::Registered{
                       known_peer->second, master_id_, FindAgent(known_peer->second)->epoch})));
        return;
      }
      info.id = NewId("agent-");
    }
    if (Status s = ValidateId("agent", info.id); !s.ok()) {
      SendToPeer(peer, Message(AgentMessage(agentmsg::Shutdown{s.message()})));
      return;
    }
    if (gone_agents_.count(info.id) > 0) {
      SendToPeer(peer, Message(AgentMessage(agentmsg::Shutdown{
                           "agent '" + info.id + "' was marked gone and cannot come back"})));
      return;
    }
    auto known = registry_.agents.find(info.id);
    if (known != registry_.agents.end() && known->second.state == AgentRecord::State::kAdmitted) {
      AdmitAgent(peer, reg);
      return;
    }
    // New, or back from unreachable: the registry says so before the agent hears it.
    AgentRecord record{info, AgentRecord::State::kAdmitted, WallSeconds()};
    admitting_.insert(peer);
    Durably([record](Registrar& r) { return r.PutAgent(record); },
            [this, peer, reg, record](const std::string& error) mutable {
              admitting_.erase(peer);
              if (!error.empty()) {
                SendToPeer(peer, Message(AgentMessage(agentmsg::Shutdown{
                                     "the master cannot record the agent: " + error})));
                return;
              }
              registry_.agents[record.info.id] = record;
              AdmitAgent(peer, reg);
            });
  }

  void AdmitAgent(const std::string& peer, agentmsg::Register& reg) {
    const AgentInfo& info = reg.info;
    bool reregister =
        recovered_agents_.erase(info.id) > 0 || FindAgent(info.id) != nullptr || !reg.tasks.empty();
    AgentEntry* existing = FindAgent(info.id);
    if (existing != nullptr && existing->reachable && reg.epoch != 0 &&
        reg.epoch <= existing->epoch) {
      // A retry of a registration already answered (or an older one that was
      // delayed): the snapshot it carries predates launches sent since, so it
      // must not end any task. Answer it again, and nothing else.
      peer_agents_.erase(existing->peer);
      existing->peer = peer;
      peer_agents_[peer] = info.id;
      SendToAgent(*existing, agentmsg::Registered{info.id, master_id_, existing->epoch});
      return;
    }
    if (existing != nullptr && existing->reachable) {
      // Same agent, new registration cycle (it restarted, or lost the master).
      peer_agents_.erase(existing->peer);
      existing->peer = peer;
      existing->missed_pings = 0;
      existing->epoch = reg.epoch;
      peer_agents_[peer] = info.id;
      UpdateAgentInfo(*existing, info);
      // A launch the agent does not report was lost on the way (it ignores
      // launches while it is not registered): it never ran.
      EndTasksNotReported(*existing, reg.tasks, TaskState::kDropped,
                          "the agent never received the launch");
      SendToAgent(*existing, agentmsg::Registered{info.id, master_id_, reg.epoch});
      log_->info("agent {} at {} reregistered", info.id, info.address);
      return;
    }
    bool returning = existing != nullptr;
    if (returning) {
      // Coming back from unreachable: tasks it no longer runs are gone; the
      // rest is rebuilt from what it reports.
      EndTasksNotReported(*existing, reg.tasks, TaskState::kGone,
                          "the agent came back without the task");
      RemoveAgentBooks(*existing);
      agents_.erase(info.id);
    }
    AgentEntry& agent = agents_[info.id];
    agent.info = info;
    agent.peer = peer;
    agent.epoch = reg.epoch;
    agent.registered_time = WallSeconds();
    peer_agents_[peer] = info.id;
    AgentDebts debts;
    if (auto owed = debts_.find(info.id); owed != debts_.end()) {
      debts = std::move(owed->second);
      debts_.erase(owed);
    }

    // Tasks the agent runs (reregistration): frameworks the master does not
    // know are recovered as disconnected and get their failover timeout.
    for (const auto& framework_info : reg.frameworks) {
      if (FindFramework(framework_info.id) != nullptr ||
          completed_framework_ids_.count(framework_info.id) > 0) {
        continue;
      }
      FrameworkEntry& framework = frameworks_[framework_info.id];
      framework.info = framework_info;
      if (framework.info.roles.empty()) framework.info.roles.push_back("*");
      framework.registered_time = WallSeconds();
      Allocator([id = framework_info.id, roles = framework.info.roles](auto& a) {
        a.AddFramework(id, roles);
        a.DeactivateFramework(id);
      });
      WaitForScheduler(framework, "recovered from an agent's report");
    }
    std::map<FrameworkId, Resources> used;
    std::set<FrameworkId> to_shutdown;
    std::vector<std::pair<FrameworkId, TaskId>> kills;
    for (auto& task : reg.tasks) {
      FrameworkEntry* framework = FindFramework(task.framework_id);
      if (framework == nullptr) {
        to_shutdown.insert(task.framework_id);
        continue;
      }
      // A task the framework was told had ended (e.g. LOST while its agent
      // was unreachable), or whose id now runs elsewhere, must not come back.
      auto known = framework->tasks.find(task.info.task_id);
      bool elsewhere = known != framework->tasks.end() && known->second.info.agent_id != info.id &&
                       !IsTerminal(known->second.state);
      std::pair<FrameworkId, TaskId> key{task.framework_id, task.info.task_id};
      bool ended_here = known == framework->tasks.end() && debts.ended.count(key) > 0;
      if (elsewhere || ended_here) {
        if (!IsTerminal(task.state)) kills.push_back(key);
        continue;
      }
      // A kill asked for while the agent was away is delivered now; the task
      // stays booked until the agent reports that it ended.
      if (debts.kills.count(key) > 0 && !IsTerminal(task.state)) kills.push_back(key);
      if (!IsTerminal(task.state)) {
        used[task.framework_id] += task.info.resources;
        agent.used += task.info.resources;
      }
      agent.tasks.insert({task.framework_id, task.info.task_id});
      if (reregister && returning && framework->info.partition_aware) {
        TaskStatus status = task.statuses.empty()
                                ? MasterStatus(task, task.state, Reason::kAgentReregistered, "")
                                : task.statuses.back();
        status.reason = Reason::kAgentReregistered;
        status.uuid.clear();
        SendToFramework(*framework, event::Update{status});
      }
      framework->tasks[task.info.task_id] = std::move(task);
    }
    Allocator(
        [id = info.id, total = info.resources, used](auto& a) { a.AddAgent(id, total, used); });
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

  // Ends the live tasks the master has on `agent` that its reregistration
  // does not report: `state` for partition-aware frameworks, LOST otherwise.
  void EndTasksNotReported(AgentEntry& agent, const std::vector<Task>& reported, TaskState state,
                           const std::string& message) {
    std::set<std::pair<FrameworkId, TaskId>> known;
    for (const auto& task : reported) known.insert({task.framework_id, task.info.task_id});
    auto tasks = agent.tasks;
    for (const auto& key : tasks) {
      if (known.count(key) > 0) continue;
      FrameworkEntry* framework = FindFramework(key.first);
      if (framework == nullptr) continue;
      auto it = framework->tasks.find(key.second);
      if (it == framework->tasks.end() || IsTerminal(it->second.state) ||
          it->second.info.agent_id != agent.info.id) {
        continue;
      }
      Task& task = it->second;
      bool aware = framework->info.partition_aware;
      TaskStatus status =
          MasterStatus(task, aware ? state : TaskState::kLost, Reason::kReconciliation, message);
      Transition(*framework, task, status);
      SendToFramework(*framework, event::Update{status});
      CompleteTask(*framework, it);
    }
  }

  // A reregistration may bring new resources or addresses (the agent was
  // restarted with other flags): the books and the allocator take them.
  void UpdateAgentInfo(AgentEntry& agent, const AgentInfo& info) {
    bool resized = !(agent.info.resources == info.resources);
    agent.info = info;
    if (!resized) return;
    RemoveAgentBooks(agent);
    peer_agents_[agent.peer] = info.id;
    std::map<FrameworkId, Resources> used;
    for (const auto& [framework_id, task_id] : agent.tasks) {
      FrameworkEntry* framework = FindFramework(framework_id);
      if (framework == nullptr) continue;
      auto it = framework->tasks.find(task_id);
      if (it != framework->tasks.end() && !IsTerminal(it->second.state)) {
        used[framework_id] += it->second.info.resources;
      }
    }
    for (const auto& [key, charge] : agent.executors) used[key.first] += charge.resources;
    Allocator(
        [id = info.id, total = info.resources, used](auto& a) { a.AddAgent(id, total, used); });
  }

  // Forgets an agent's offers and resources; its tasks stay with their frameworks.
  void RemoveAgentBooks(AgentEntry& agent) {
    std::set<OfferId> offers = agent.offers;
    for (const auto& offer_id : offers) {
      Offer offer = TakeOffer(offer_id);
      if (auto* framework = FindFramework(offer.framework_id)) {
        SendToFramework(*framework, event::Rescind{offer.id});
      }
    }
    peer_agents_.erase(agent.peer);
    Allocator([id = agent.info.id](auto& a) { a.RemoveAgent(id); });
  }

  // Operator call: the agent is never coming back (its machine was retired).
  // Its tasks become GONE and its id can never register again. The answer is
  // an empty string once durable, else the reason it was refused.
  caf::result<std::string> MarkGone(const AgentId& agent_id) {
    auto known = registry_.agents.find(agent_id);
    if (known == registry_.agents.end() && FindAgent(agent_id) == nullptr) {
      return "agent '" + agent_id + "' is not known to this master";
    }
    if (gone_agents_.count(agent_id) > 0) return std::string();
    AgentRecord record;
    if (known != registry_.agents.end()) record = known->second;
    if (AgentEntry* agent = FindAgent(agent_id)) record.info = agent->info;
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
              gone_agents_.insert(id);
              recovered_agents_.erase(id);
              if (AgentEntry* agent = FindAgent(id)) {
                log_->warn("agent {} at {} marked gone by an operator", id, agent->info.address);
                if (agent->reachable) {
                  SendToAgent(*agent, agentmsg::Shutdown{std::string(agentmsg::kAgentGoneReason)});
                  RemoveAgentBooks(*agent);
                }
                ReportTasks(*agent, TaskState::kGone, Reason::kAgentRemoved,
                            "agent " + id + " was marked gone");
                agents_.erase(id);
              }
              promise.deliver(std::string());
            });
    return promise;
  }

  void MarkUnreachable(AgentEntry& agent) {
    log_->warn("agent {} at {} missed {} pings: marking it unreachable", agent.info.id,
               agent.info.address, agent.missed_pings);
    agent.reachable = false;
    RemoveAgentBooks(agent);
    AgentRecord record{agent.info, AgentRecord::State::kUnreachable, WallSeconds()};
    registry_.agents[agent.info.id] = record;
    DurablyOrStepDown([record](Registrar& r) { return r.PutAgent(record); },
                      [this, id = agent.info.id] {
                        AgentEntry* agent = FindAgent(id);
                        if (agent != nullptr && !agent->reachable) ReportUnreachableTasks(*agent);
                      });
  }

  void ReportUnreachableTasks(AgentEntry& agent) {
    ReportTasks(agent, TaskState::kUnreachable, Reason::kAgentDisconnected,
                "agent " + agent.info.id + " at " + agent.info.address + " is unreachable");
  }

  // Ends (or, for UNREACHABLE, suspends) every live task of `agent` with
  // `state`; frameworks that are not partition-aware hear LOST instead of
  // UNREACHABLE or GONE.
  void ReportTasks(AgentEntry& agent, TaskState state, Reason reason, const std::string& message) {
    auto tasks = agent.tasks;
    for (const auto& [framework_id, task_id] : tasks) {
      FrameworkEntry* framework = FindFramework(framework_id);
      if (framework == nullptr) continue;
      auto it = framework->tasks.find(task_id);
      if (it == framework->tasks.end() || IsTerminal(it->second.state)) continue;
      Task& task = it->second;
      bool aware = framework->info.partition_aware;
      TaskStatus status = MasterStatus(task, aware ? state : TaskState::kLost, reason, message);
      Transition(*framework, task, status);
      SendToFramework(*framework, event::Update{status});
      if (IsTerminal(status.state)) {
        debts_[agent.info.id].ended.insert({framework_id, task_id});  // never to come back
        CompleteTask(*framework, it);
      }
    }
  }

  void OnStatusUpdate(AgentEntry& agent, agentmsg::StatusUpdate& update) {
    TaskStatus& status = update.status;
    ++status_updates_;
    FrameworkEntry* framework = FindFramework(update.framework_id);
    auto ack_now = [&] {
      if (!status.uuid.empty()) {
        SendToAgent(agent,
                    agentmsg::StatusUpdateAck{update.framework_id, status.task_id, status.uuid});
      }
    };
    if (framework == nullptr) {
      ack_now();  // nobody will acknowledge it: stop the agent retrying
      if (completed_framework_ids_.count(update.framework_id) == 0) {
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
    if (task.info.agent_id != agent.info.id) {
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
    if (!repeat && !IsValidTransition(task.state, status.state) &&
        !(was_terminal && task.state == status.state)) {
      log_->warn("agent {}: task {} of framework {} cannot go from {} to {}; update dropped",
                 agent.info.id, status.task_id, framework->info.id, ToString(task.state),
                 ToString(status.state));
      ack_now();
      return;
    }
    if (!repeat && !was_terminal) Transition(*framework, task, status);
    if (framework->connected) {
      SendToFramework(*framework, event::Update{status});
    }
    if (status.uuid.empty() && IsTerminal(status.state)) CompleteTask(*framework, it);
  }

  // The one place a task changes state. Resources move exactly once: a task
  // holds them while live and not UNREACHABLE (whose agent the allocator has
  // already dropped); leaving that set frees them on the agent, and gives them
  // back to the allocator while the agent is reachable. A group executor's own
  // resources go back with the last of its tasks.
  void Transition(FrameworkEntry& framework, Task& task, const TaskStatus& status) {
    auto holds = [](TaskState state) {
      return !IsTerminal(state) && state != TaskState::kUnreachable;
    };
    TaskState from = task.state;
    task.statuses.push_back(status);
    task.state = status.state;
    AgentEntry* agent = FindAgent(task.info.agent_id);
    if (agent == nullptr) return;
    Resources freed;
    if (holds(from) && !holds(task.state)) {
      agent->used -= task.info.resources;
      freed += task.info.resources;
    }
    if (!IsTerminal(from) && IsTerminal(task.state)) {
      auto executor = agent->executors.find({framework.info.id, task.executor_id});
      if (executor != agent->executors.end() && --executor->second.live_tasks <= 0) {
        agent->used -= executor->second.resources;
        freed += executor->second.resources;
        agent->executors.erase(executor);
      }
    }
    if (agent->reachable && !freed.empty()) {
      Allocator([fid = framework.info.id, aid = agent->info.id, freed, role = task.role](auto& a) {
        a.Recover(fid, aid, freed, role);
      });
    }
  }

  // ---- timers ----

  void OnTick() {
    double now = MonotonicSeconds();
    for (auto& [id, agent] : agents_) {
      if (!agent.reachable) continue;
      if (agent.missed_pings >= options_.max_agent_ping_timeouts) {
        MarkUnreachable(agent);
        continue;
      }
      ++agent.missed_pings;
      SendToAgent(agent, agentmsg::Ping{master_id_});
    }
    for (auto& [id, framework] : frameworks_) {
      if (!framework.connected) continue;
      if (now - framework.last_seen > 3 * options_.framework_heartbeat_interval) {
        DisconnectFramework(
            framework, "no call or keepalive for " + FormatDuration(now - framework.last_seen));
        continue;
      }
      SendToFramework(framework, event::Heartbeat{});
    }
  }

  // ---- operator views ----

  json FrameworkJson(const FrameworkEntry& framework) const {
    json tasks = json::array(), completed = json::array();
    for (const auto& [id, task] : framework.tasks) tasks.push_back(TaskJson(task));
    for (const auto& task : framework.completed_tasks) completed.push_back(TaskJson(task));
    Resources used;
    for (const auto& [id, task] : framework.tasks) {
      if (!IsTerminal(task.state)) used += task.info.resources;
    }
    return {{"id", framework.info.id},
            {"name", framework.info.name},
            {"user", framework.info.user},
            {"roles", framework.info.roles},
            {"connected", framework.connected},
            {"active", framework.active},
            {"partition_aware", framework.info.partition_aware},
            {"failover_timeout", framework.info.failover_timeout_seconds},
            {"registered_time", framework.registered_time},
            {"used_resources", ResourcesJson(used)},
            {"offers", framework.offers.size()},
            {"tasks", tasks},
            {"completed_tasks", completed}};
  }

  json StateJson() const {
    json agents = json::array();
    for (const auto& [id, agent] : agents_) {
      agents.push_back({{"id", id},
                        {"hostname", agent.info.hostname},
                        {"address", agent.info.address},
                        {"http_address", agent.info.http_address},
                        {"active", agent.reachable},
                        {"registered_time", agent.registered_time},
                        {"resources", ResourcesJson(agent.info.resources)},
                        {"used_resources", ResourcesJson(agent.used)},
                        {"offered_resources", ResourcesJson(agent.offered)}});
    }
    json frameworks = json::array(), completed = json::array();
    for (const auto& [id, framework] : frameworks_) frameworks.push_back(FrameworkJson(framework));
    for (const auto& framework : completed_frameworks_) {
      completed.push_back(FrameworkJson(framework));
    }
    return {
        {"id", master_id_},   {"version", "0.1.0"},        {"address", address_},
        {"leader", address_}, {"start_time", start_time_}, {"recovered_agents", recovered_agents_},
        {"agents", agents},   {"frameworks", frameworks},  {"completed_frameworks", completed}};
  }

  std::string MetricsText() const {
    std::string out;
    auto metric = [&out](const std::string& name, const std::string& type,
                         const std::string& help) {
      out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto sample = [&out](const std::string& name, const std::string& labels, double value) {
      out +=
          name + (labels.empty() ? "" : "{" + labels + "}") + " " + fmt::format("{}", value) + "\n";
    };
    int active_agents = 0, unreachable_agents = 0;
    Resources total, used, offered;
    for (const auto& [id, agent] : agents_) {
      (agent.reachable ? active_agents : unreachable_agents)++;
      if (!agent.reachable) continue;
      total += agent.info.resources;
      used += agent.used;
      offered += agent.offered;
    }
    metric("stoa_master_agents", "gauge", "Agents by state.");
    sample("stoa_master_agents", "state=\"active\"", active_agents);
    sample("stoa_master_agents", "state=\"unreachable\"", unreachable_agents);

    int connected = 0, disconnected = 0;
    std::vector<int> by_state(kTaskStateCount, 0);
    auto count_tasks = [&](const FrameworkEntry& framework) {
      for (const auto& [id, task] : framework.tasks) by_state[static_cast<int>(task.state)]++;
      for (const auto& task : framework.completed_tasks) by_state[static_cast<int>(task.state)]++;
    };
    for (const auto& [id, framework] : frameworks_) {
      (framework.connected ? connected : disconnected)++;
      count_tasks(framework);
    }
    for (const auto& framework : completed_frameworks_) count_tasks(framework);
    metric("stoa_master_frameworks", "gauge", "Frameworks by state.");
    sample("stoa_master_frameworks", "state=\"connected\"", connected);
    sample("stoa_master_frameworks", "state=\"disconnected\"", disconnected);
    sample("stoa_master_frameworks", "state=\"completed\"",
           static_cast<double>(completed_frameworks_.size()));

    metric("stoa_master_tasks", "gauge", "Tasks the master knows (active and completed) by state.");
    for (int i = 0; i < kTaskStateCount; ++i) {
      sample("stoa_master_tasks", fmt::format("state=\"{}\"", ToString(static_cast<TaskState>(i))),
             by_state[i]);
    }
    metric("stoa_master_tasks_launched_total", "counter", "Tasks launched since start.");
    sample("stoa_master_tasks_launched_total", "", static_cast<double>(tasks_launched_));

    std::set<std::string> names;
    for (const auto& name : total.ScalarNames()) names.insert(name);
    metric("stoa_master_resources_total", "gauge", "Resources of reachable agents.");
    for (const auto& name : names) {
      sample("stoa_master_resources_total", "resource=\"" + name + "\"", total.Get(name));
    }
    metric("stoa_master_resources_used", "gauge", "Resources used by tasks.");
    for (const auto& name : names) {
      sample("stoa_master_resources_used", "resource=\"" + name + "\"", used.Get(name));
    }
    metric("stoa_master_resources_offered", "gauge", "Resources in outstanding offers.");
    for (const auto& name : names) {
      sample("stoa_master_resources_offered", "resource=\"" + name + "\"", offered.Get(name));
    }
    metric("stoa_master_offers_outstanding", "gauge", "Offers not yet answered.");
    sample("stoa_master_offers_outstanding", "", static_cast<double>(offers_.size()));
    metric("stoa_master_offers_sent_total", "counter", "Offers sent to frameworks.");
    sample("stoa_master_offers_sent_total", "", static_cast<double>(offers_sent_));
    metric("stoa_allocator_round_seconds", "summary", "Time one allocation round takes.");
    sample("stoa_allocator_round_seconds_sum", "", allocation_seconds_total_);
    sample("stoa_allocator_round_seconds_count", "", static_cast<double>(allocation_rounds_));
    metric("stoa_allocator_last_round_seconds", "gauge", "Time the last allocation round took.");
    sample("stoa_allocator_last_round_seconds", "", last_allocation_seconds_);
    metric("stoa_master_status_updates_total", "counter", "Status updates received from agents.");
    sample("stoa_master_status_updates_total", "", static_cast<double>(status_updates_));
    metric("stoa_master_frames_received_total", "counter", "Frames received.");
    sample("stoa_master_frames_received_total", "", static_cast<double>(frames_received_));
    metric("stoa_master_invalid_frames_total", "counter", "Frames refused as invalid.");
    sample("stoa_master_invalid_frames_total", "", static_cast<double>(invalid_frames_));
    metric("stoa_master_uptime_seconds", "gauge", "Seconds since the master started.");
    sample("stoa_master_uptime_seconds", "", WallSeconds() - start_time_);
    agentmsg::UsageReport usage;  // summed over reachable agents
    for (const auto& [id, agent] : agents_) {
      if (!agent.reachable) continue;
      usage.cpu_seconds += agent.usage.cpu_seconds;
      usage.memory_bytes += agent.usage.memory_bytes;
      usage.processes += agent.usage.processes;
      usage.containers += agent.usage.containers;
    }
    metric("stoa_master_container_cpu_seconds_total", "gauge",
           "Cpu time (user and system) of the running containers on reachable agents.");
    sample("stoa_master_container_cpu_seconds_total", "", usage.cpu_seconds);
    metric("stoa_master_container_memory_bytes", "gauge",
           "Memory used by the running containers on reachable agents.");
    sample("stoa_master_container_memory_bytes", "", static_cast<double>(usage.memory_bytes));
    metric("stoa_master_container_processes", "gauge",
           "Processes in the running containers on reachable agents.");
    sample("stoa_master_container_processes", "", static_cast<double>(usage.processes));
    metric("stoa_master_containers", "gauge", "Running containers on reachable agents.");
    sample("stoa_master_containers", "", static_cast<double>(usage.containers));
    return out;
  }

  MasterOptions options_;
  ZmqEndpoint* endpoint_;
  std::string address_;
  std::shared_ptr<spdlog::logger> log_;
  std::string master_id_;
  double start_time_ = 0;
  caf::actor allocator_;

  std::map<AgentId, AgentEntry> agents_;
  std::map<FrameworkId, FrameworkEntry> frameworks_;
  std::map<OfferId, OfferEntry> offers_;
  std::map<std::string, AgentId> peer_agents_;
  std::map<std::string, FrameworkId> peer_frameworks_;
  std::set<AgentId> gone_agents_;
  std::set<FrameworkId> completed_framework_ids_;
  Registry registry_;  // what the registrar has made durable
  caf::actor registrar_;
  std::set<AgentId> recovered_agents_;   // in the registry, not yet reregistered
  double recovery_deadline_ = 0;         // monotonic end of the agents' reregistration window
  std::map<AgentId, AgentDebts> debts_;  // for agents that are away
  std::set<std::string> admitting_;      // peers whose admission is being written
  std::set<std::string> subscribing_;    // peers whose framework is being written
  std::deque<FrameworkEntry> completed_frameworks_;

  uint64_t frames_received_ = 0, invalid_frames_ = 0, status_updates_ = 0;
  uint64_t tasks_launched_ = 0, offers_sent_ = 0, allocation_rounds_ = 0;
  double allocation_seconds_total_ = 0, last_allocation_seconds_ = 0;
};

}  // namespace

struct Master::Impl {
  caf::actor_system* system = nullptr;
  std::unique_ptr<ZmqEndpoint> endpoint;
  HttpServer http;
  caf::actor actor;
  caf::actor registrar;
  std::string address;

  // Ends the actors and waits for them: they hold the endpoint by pointer.
  void StopActors() {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
    caf::scoped_actor self{*system};
    self->wait_for(actor, registrar);
  }

  std::string Ask(caf::atom_value what) const {
    std::string answer;
    caf::scoped_actor self{*system};
    self->request(actor, std::chrono::seconds(10), caf::make_message(what))
        .receive(
            [&](std::string& text) { answer = std::move(text); },
            [&](caf::error& error) {
              answer =
                  json{{"error", "the master did not answer: " + system->render(error)}}.dump();
            });
    return answer;
  }
};

Master::Master(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Master::~Master() {
  impl_->http.Stop();
  impl_->endpoint->Stop();
  impl_->StopActors();
}

Result<std::unique_ptr<Master>> Master::Start(caf::actor_system& system,
                                              const MasterOptions& options,
                                              std::unique_ptr<Storage> storage) {
  std::error_code error;
  std::filesystem::create_directories(options.work_dir, error);
  if (error) {
    return Status::Error("cannot create work directory '" + options.work_dir +
                         "': " + error.message());
  }
  if (storage == nullptr) {
    auto local = OpenLevelDbStorage(options.work_dir + "/registry");
    if (!local.ok()) return local.status();
    storage = std::move(*local);
  }
  auto registrar = std::make_shared<Registrar>(std::move(storage));
  Result<Registry> registry = registrar->Recover();
  if (!registry.ok()) return registry.status();
  auto impl = std::make_unique<Impl>();
  impl->system = &system;
  impl->endpoint = std::make_unique<ZmqEndpoint>("master");
  std::string bind = options.bind_address.empty()
                         ? "tcp://" + options.ip + ":" + std::to_string(options.port)
                         : options.bind_address;
  if (Status s = impl->endpoint->Bind(bind); !s.ok()) return s;
  impl->address = impl->endpoint->BoundAddress();
  impl->registrar = system.spawn<caf::detached>(RegistrarActor, registrar);
  impl->actor = system.spawn<MasterActor>(options, impl->endpoint.get(), impl->address,
                                          std::move(*registry), impl->registrar);
  caf::actor actor = impl->actor;
  impl->endpoint->Start([actor](const FrameOrigin& origin, std::string frame) {
    caf::anon_send(actor, recv_atom::value, origin.id, std::move(frame));
  });

  Impl* raw = impl.get();
  auto answer = [raw](caf::atom_value what, const std::string& type) {
    return [raw, what, type](const HttpRequest&) {
      HttpResponse response;
      response.content_type = type;
      response.body = raw->Ask(what);
      return response;
    };
  };
  impl->http.Route("GET", "/state", answer(state_atom::value, "application/json"));
  impl->http.Route("GET", "/metrics", answer(metrics_atom::value, "text/plain; version=0.0.4"));
  // Operator API: POST /agents/gone?agent_id=ID marks a retired agent gone for good.
  impl->http.Route("POST", "/agents/gone", [raw](const HttpRequest& request) {
    auto id = request.params.find("agent_id");
    if (id == request.params.end() || id->second.empty()) {
      return JsonError(400, "name the agent: POST /agents/gone?agent_id=ID");
    }
    std::string error;
    caf::scoped_actor self{*raw->system};
    self->request(raw->actor, std::chrono::seconds(30), gone_atom::value, id->second)
        .receive(
            [&](std::string& answer) { error = std::move(answer); },
            [&](caf::error& e) { error = "the master did not answer: " + raw->system->render(e); });
    if (!error.empty())
      return JsonError(error.find("not known") != std::string::npos ? 404 : 409, error);
    HttpResponse response;
    response.body = json{{"agent_id", id->second}, {"state", "gone"}}.dump();
    return response;
  });
  impl->http.Route("GET", "/health", [](const HttpRequest&) {
    HttpResponse response;
    response.body = R"({"healthy":true,"leading":true})";
    return response;
  });
  if (Status s = impl->http.Start(options.ip, options.http_port); !s.ok()) {
    impl->endpoint->Stop();
    impl->StopActors();
    return s;
  }
  return std::unique_ptr<Master>(new Master(std::move(impl)));
}

std::string Master::address() const { return impl_->address; }
int Master::http_port() const { return impl_->http.port(); }
std::string Master::StateJson() const { return impl_->Ask(state_atom::value); }

}  // namespace stoa::master

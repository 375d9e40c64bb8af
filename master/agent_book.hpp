// AgentBook: the agents this master knows, by id and by the peer they speak
// from; which of them are reachable, unreachable or gone; the registry's
// agents that have not reregistered yet; and what the master owes an agent
// that is away. A plain class: no actor, no transport, no clock of its own.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

// kReachable: registered and answering pings; offered.
// kUnreachable: missed its pings; its tasks are UNREACHABLE and it is not offered.
// kGone: retired by an operator; its id never registers again (the entry is dropped).
enum class AgentState { kReachable, kUnreachable, kGone };

const char* ToString(AgentState state);
// Whether an agent may move from `from` to `to`: reachable and unreachable
// agents go either way or become gone; nothing leaves kGone.
bool IsValidAgentTransition(AgentState from, AgentState to);

using TaskKey = std::pair<FrameworkId, TaskId>;

// What the master owes an agent that is away: tasks it ended there (LOST,
// GONE) that must not come back, and kills to deliver when it returns.
struct AgentDebts {
  std::set<TaskKey> ended;
  std::set<TaskKey> kills;
};

// A task group's executor and what it was charged, until its last task ends.
struct ExecutorCharge {
  Resources resources;
  int live_tasks = 0;
  std::string role;  // the allocation role of its tasks' launch
};

struct Agent {
  AgentInfo info;
  std::string peer;
  uint64_t epoch = 0;  // of the registration the master last answered
  AgentState state = AgentState::kReachable;
  int missed_pings = 0;
  double registered_time = 0;  // wall clock
  Resources used;              // held by its live tasks and group executors
  std::set<TaskKey> tasks;
  agentmsg::UsageReport usage;  // what its running containers use, as of its last pong
  std::map<std::pair<FrameworkId, ExecutorId>, ExecutorCharge> executors;

  bool reachable() const { return state == AgentState::kReachable; }
};

// How a Register is to be taken, given what the book knows of the agent.
enum class Registration {
  kNew,        // no entry: admit it (first time, after a failover, or back from unreachable)
  kRetry,      // a retry (or a delayed older copy) of a registration already answered
  kNewCycle,   // the same reachable agent registering afresh (restarted, lost the master)
  kReturning,  // an unreachable agent coming back
};

class AgentBook {
 public:
  Agent* Find(const AgentId& id);
  const Agent* Find(const AgentId& id) const;
  // The agent registered from `peer`, or null.
  Agent* FindByPeer(const std::string& peer);

  // Classifies a Register of agent `id` carrying `epoch`: a reachable agent's
  // epoch that is not newer than the one answered is a retry, which must end
  // no task (its snapshot predates launches sent since).
  Registration Classify(const AgentId& id, uint64_t epoch) const;

  // Adds a reachable agent registered from `peer`. REQUIRES: Find(info.id) == nullptr.
  Agent& Add(const AgentInfo& info, const std::string& peer, uint64_t epoch, double wall_now);
  // Points the peer index at `peer` for `agent`.
  void SetPeer(Agent& agent, const std::string& peer);
  // Forgets the peer index entry of `agent` (it is no longer addressed).
  void ForgetPeer(const Agent& agent);
  // kReachable -> kUnreachable; its peer is forgotten. Refused otherwise.
  Status MarkUnreachable(Agent& agent);
  // Drops the entry (and its peer) of `id`, e.g. before it is added afresh.
  void Erase(const AgentId& id);
  // Retires `id` for good: the entry (if any) is dropped, it leaves the
  // recovered set, and Register of it is refused from now on.
  Status MarkGone(const AgentId& id);
  bool IsGone(const AgentId& id) const { return gone_.count(id) > 0; }
  void AddGone(const AgentId& id) { gone_.insert(id); }

  // Agents of the registry that have not reregistered since this master started.
  void AddRecovered(const AgentId& id) { recovered_.insert(id); }
  // Removes `id` from the recovered set; true when it was in it.
  bool TakeRecovered(const AgentId& id) { return recovered_.erase(id) > 0; }
  bool IsRecovered(const AgentId& id) const { return recovered_.count(id) > 0; }
  const std::set<AgentId>& recovered() const { return recovered_; }
  std::set<AgentId> TakeAllRecovered();

  // What the master owes agent `id` while it is away.
  AgentDebts& DebtsOf(const AgentId& id) { return debts_[id]; }
  // Hands over (and forgets) the debts of `id`, e.g. when it returns.
  AgentDebts TakeDebts(const AgentId& id);
  const AgentDebts* FindDebts(const AgentId& id) const;

  std::map<AgentId, Agent>& all() { return agents_; }
  const std::map<AgentId, Agent>& all() const { return agents_; }

 private:
  std::map<AgentId, Agent> agents_;
  std::map<std::string, AgentId> peers_;
  std::set<AgentId> gone_;
  std::set<AgentId> recovered_;
  std::map<AgentId, AgentDebts> debts_;
};

}  // namespace stoa::master

#include "master/agent_book.hpp"

namespace stoa::master {

const char* ToString(AgentState state) {
  switch (state) {
    case AgentState::kReachable:
      return "REACHABLE";
    case AgentState::kUnreachable:
      return "UNREACHABLE";
    case AgentState::kGone:
      return "GONE";
  }
  return "UNKNOWN";
}

bool IsValidAgentTransition(AgentState from, AgentState to) {
  if (from == AgentState::kGone) return false;
  return from != to || to == AgentState::kReachable;
}

Agent* AgentBook::Find(const AgentId& id) {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : &it->second;
}

const Agent* AgentBook::Find(const AgentId& id) const {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : &it->second;
}

Agent* AgentBook::FindByPeer(const std::string& peer) {
  auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : Find(it->second);
}

Registration AgentBook::Classify(const AgentId& id, uint64_t epoch) const {
  const Agent* agent = Find(id);
  if (agent == nullptr) return Registration::kNew;
  if (!agent->reachable()) return Registration::kReturning;
  if (epoch != 0 && epoch <= agent->epoch) return Registration::kRetry;
  return Registration::kNewCycle;
}

Agent& AgentBook::Add(const AgentInfo& info, const std::string& peer, uint64_t epoch,
                      double wall_now) {
  Agent& agent = agents_[info.id];
  agent.info = info;
  agent.epoch = epoch;
  agent.registered_time = wall_now;
  SetPeer(agent, peer);
  return agent;
}

void AgentBook::SetPeer(Agent& agent, const std::string& peer) {
  ForgetPeer(agent);
  agent.peer = peer;
  peers_[peer] = agent.info.id;
}

void AgentBook::ForgetPeer(const Agent& agent) {
  auto it = peers_.find(agent.peer);
  if (it != peers_.end() && it->second == agent.info.id) peers_.erase(it);
}

Status AgentBook::MarkUnreachable(Agent& agent) {
  if (!IsValidAgentTransition(agent.state, AgentState::kUnreachable)) {
    return Status::Error("agent '" + agent.info.id + "' cannot go from " + ToString(agent.state) +
                         " to UNREACHABLE");
  }
  agent.state = AgentState::kUnreachable;
  ForgetPeer(agent);
  return Status::Ok();
}

void AgentBook::Erase(const AgentId& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  ForgetPeer(it->second);
  agents_.erase(it);
}

Status AgentBook::MarkGone(const AgentId& id) {
  if (IsGone(id)) return Status::Error("agent '" + id + "' is already gone");
  gone_.insert(id);
  recovered_.erase(id);
  if (Agent* agent = Find(id)) agent->state = AgentState::kGone;
  Erase(id);
  return Status::Ok();
}

std::set<AgentId> AgentBook::TakeAllRecovered() {
  std::set<AgentId> out;
  out.swap(recovered_);
  return out;
}

AgentDebts AgentBook::TakeDebts(const AgentId& id) {
  AgentDebts debts;
  if (auto it = debts_.find(id); it != debts_.end()) {
    debts = std::move(it->second);
    debts_.erase(it);
  }
  return debts;
}

const AgentDebts* AgentBook::FindDebts(const AgentId& id) const {
  auto it = debts_.find(id);
  return it == debts_.end() ? nullptr : &it->second;
}

}  // namespace stoa::master

// Hierarchical DRF allocator.
//
// Layout chosen for large rounds (10,000 agents x 1,000 frameworks):
// - Agents, frameworks, roles and resource names are interned to dense indices.
//   A "client" is one (framework, role) subscription; it holds the framework's
//   allocation in that role as fixed-point millis per resource name.
// - Each role keeps the clients that want offers (framework active, role not
//   suppressed) in a vector sorted by (dominant share, index); the roles that
//   have such clients are kept in a vector sorted by (weighted share, index).
//   An allocation moves one client and one role to their new place (a binary
//   search and a rotate), so nothing is re-sorted per agent. Only a change of
//   the cluster totals or of a weight re-sorts everything, once, lazily.
// - Refuse filters live in a per-agent array indexed by framework (expiry time,
//   or kNoFilter), and in a min-heap keyed by expiry. A heap entry is acted on
//   only if it still matches the array, so extended or cleared filters need no
//   heap surgery; the heap is compacted when stale entries outnumber live ones.
// - Each agent counts the live filters held by frameworks that want offers; an
//   agent filtered by all of them is skipped in O(1).
#include "master/allocator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "master/allocator_state.hpp"

namespace stoa::master {

using allocator_internal::kNone;

Allocator::Allocator() : state_(std::make_unique<State>()) {}
Allocator::~Allocator() = default;

void Allocator::AddFramework(const FrameworkId& id, const std::vector<std::string>& roles,
                             const std::map<AgentId, RoleUsage>& used) {
  State& s = *state_;
  if (s.framework_index.count(id) != 0) return;
  uint32_t f;
  if (!s.free_frameworks.empty()) {
    f = s.free_frameworks.back();
    s.free_frameworks.pop_back();
  } else {
    f = static_cast<uint32_t>(s.frameworks.size());
    s.frameworks.emplace_back();
  }
  s.framework_index.emplace(id, f);
  State::Framework& framework = s.frameworks[f];
  framework = State::Framework();
  framework.id = id;
  framework.live = true;
  framework.active = true;

  std::vector<std::string> names = roles.empty() ? std::vector<std::string>{"*"} : roles;
  for (const std::string& name : names) {
    uint32_t r = s.RoleIndex(name);
    bool duplicate = std::any_of(framework.clients.begin(), framework.clients.end(),
                                 [&](uint32_t c) { return s.clients[c].role == r; });
    if (duplicate) continue;
    framework.clients.push_back(s.NewClient(f, r));
  }

  // What agents reported for this framework before it was added is authoritative
  // for those agents; `used` covers the rest.
  std::vector<uint32_t> claimed;
  if (auto pending = s.pending_agents.find(id); pending != s.pending_agents.end()) {
    for (uint32_t a : pending->second) {
      State::Agent& agent = s.agents[a];
      auto it = agent.live ? agent.pending_used.find(id) : agent.pending_used.end();
      if (it == agent.pending_used.end()) continue;
      for (const auto& [role, resources] : it->second) s.TrackByRole(f, a, resources, role);
      agent.pending_used.erase(it);
      claimed.push_back(a);
    }
    s.pending_agents.erase(pending);
  }
  for (const auto& [agent_id, by_role] : used) {
    uint32_t a = s.FindAgent(agent_id);
    if (a == kNone || std::find(claimed.begin(), claimed.end(), a) != claimed.end()) continue;
    for (const auto& [role, resources] : by_role) {
      s.TrackByRole(f, a, s.TakeAvailable(a, resources), role);
    }
  }
  s.RefreshFramework(f);
  s.all_dirty = true;
}

void Allocator::RemoveFramework(const FrameworkId& id) {
  State& s = *state_;
  uint32_t f = s.FindFramework(id);
  if (f == kNone) return;
  State::Framework& framework = s.frameworks[f];
  framework.active = false;
  s.RefreshFramework(f);
  s.ClearFrameworkFilters(f);

  // What it held goes back to the agents' pools.
  for (auto& [a, held] : framework.allocations) {
    Resources returned;
    for (State::RoleAllocation& ra : held) {
      State::Client& client = s.clients[ra.client];
      s.AddScalars(client.allocated, ra.resources, -1);
      s.AddScalars(s.roles[client.role].allocated, ra.resources, -1);
      returned += ra.resources;
    }
    s.ReturnAvailable(a, returned);
  }
  framework.allocations.clear();
  for (uint32_t c : framework.clients) s.FreeClient(c);
  framework = State::Framework();
  s.framework_index.erase(id);
  s.free_frameworks.push_back(f);
}

void Allocator::ActivateFramework(const FrameworkId& id) {
  State& s = *state_;
  uint32_t f = s.FindFramework(id);
  if (f == kNone) return;
  s.frameworks[f].active = true;
  s.RefreshFramework(f);
  s.all_dirty = true;
}

void Allocator::DeactivateFramework(const FrameworkId& id) {
  State& s = *state_;
  uint32_t f = s.FindFramework(id);
  if (f == kNone) return;
  s.frameworks[f].active = false;
  s.RefreshFramework(f);
}

void Allocator::AddAgent(const AgentId& id, const Resources& total,
                         const std::map<FrameworkId, RoleUsage>& used) {
  State& s = *state_;
  if (s.agent_index.count(id) != 0) return;
  uint32_t a;
  if (!s.free_agents.empty()) {
    a = s.free_agents.back();
    s.free_agents.pop_back();
  } else {
    a = static_cast<uint32_t>(s.agents.size());
    s.agents.emplace_back();
  }
  s.agent_index.emplace(id, a);
  State::Agent& agent = s.agents[a];
  agent = State::Agent();
  agent.id = id;
  agent.live = true;
  agent.active = true;
  agent.total = total;
  agent.available = total;
  s.AddScalars(s.total_millis, total, +1);
  s.order_dirty = true;

  for (const auto& [framework_id, by_role] : used) {
    uint32_t f = s.FindFramework(framework_id);
    bool pending = false;
    for (const auto& [role, resources] : by_role) {
      Resources taken = s.TakeAvailable(a, resources);
      if (f != kNone) {
        s.TrackByRole(f, a, taken, role);
      } else if (!taken.empty()) {
        agent.pending_used[framework_id][role] += taken;
        pending = true;
      }
    }
    if (pending) s.pending_agents[framework_id].push_back(a);
  }
  s.RefreshAgentSummary(a);
  s.MarkDirty(a);
}

void Allocator::RemoveAgent(const AgentId& id) {
  State& s = *state_;
  uint32_t a = s.FindAgent(id);
  if (a == kNone) return;
  for (State::Framework& framework : s.frameworks) {
    if (!framework.live) continue;
    auto it = framework.allocations.find(a);
    if (it == framework.allocations.end()) continue;
    for (State::RoleAllocation& ra : it->second) {
      State::Client& client = s.clients[ra.client];
      s.AddScalars(client.allocated, ra.resources, -1);
      s.AddScalars(s.roles[client.role].allocated, ra.resources, -1);
    }
    framework.allocations.erase(it);
  }
  s.ClearAgentFilters(a);
  State::Agent& agent = s.agents[a];
  s.AddScalars(s.total_millis, agent.total, -1);
  s.order_dirty = true;  // Totals changed: every share changes.
  agent = State::Agent();
  s.agent_index.erase(id);
  s.free_agents.push_back(a);
}

void Allocator::ActivateAgent(const AgentId& id) {
  uint32_t a = state_->FindAgent(id);
  if (a == kNone) return;
  state_->agents[a].active = true;
  state_->MarkDirty(a);
}

void Allocator::DeactivateAgent(const AgentId& id) {
  uint32_t a = state_->FindAgent(id);
  if (a != kNone) state_->agents[a].active = false;
}

void Allocator::Recover(const FrameworkId& framework_id, const AgentId& agent_id,
                        const Resources& resources, const std::string& role) {
  State& s = *state_;
  uint32_t f = s.FindFramework(framework_id);
  uint32_t a = s.FindAgent(agent_id);
  if (f == kNone || a == kNone || resources.empty()) return;
  s.ReturnAvailable(a, s.Untrack(f, a, resources, role));
}

void Allocator::Decline(const FrameworkId& framework_id, const AgentId& agent_id,
                        const Resources& resources, double refuse_seconds, double now,
                        const std::string& role) {
  State& s = *state_;
  uint32_t f = s.FindFramework(framework_id);
  uint32_t a = s.FindAgent(agent_id);
  if (f == kNone || a == kNone || resources.empty()) return;
  Resources returned = s.Untrack(f, a, resources, role);
  AddFilter(framework_id, agent_id, returned, refuse_seconds, now);
  s.ReturnAvailable(a, returned, /*reoffer=*/false);
}

void Allocator::AddAllocated(const FrameworkId& framework_id, const AgentId& agent_id,
                             const Resources& resources) {
  State& s = *state_;
  uint32_t f = s.FindFramework(framework_id);
  uint32_t a = s.FindAgent(agent_id);
  if (f == kNone || a == kNone) return;
  s.TrackByRole(f, a, s.TakeAvailable(a, resources));
}

void Allocator::AddFilter(const FrameworkId& framework_id, const AgentId& agent_id,
                          double refuse_seconds, double now) {
  uint32_t a = state_->FindAgent(agent_id);
  if (a == kNone) return;
  AddFilter(framework_id, agent_id, state_->agents[a].total, refuse_seconds, now);
}

void Allocator::AddFilter(const FrameworkId& framework_id, const AgentId& agent_id,
                          const Resources& refused, double refuse_seconds, double now) {
  State& s = *state_;
  if (!(refuse_seconds > 0)) return;  // Also rejects NaN.
  double expiry = now + refuse_seconds;
  if (!(expiry > now)) return;
  uint32_t f = s.FindFramework(framework_id);
  uint32_t a = s.FindAgent(agent_id);
  if (f == kNone || a == kNone || refused.empty()) return;
  s.SetFilter(a, f, expiry, refused);
  s.MaybeCompactFilters();
}

void Allocator::UpdateFrameworkRoles(const FrameworkId& id, const std::vector<std::string>& given) {
  State& s = *state_;
  uint32_t f = s.FindFramework(id);
  if (f == kNone) {
    AddFramework(id, given);
    return;
  }
  std::vector<std::string> names = given.empty() ? std::vector<std::string>{"*"} : given;
  State::Framework& framework = s.frameworks[f];
  // Out of every order while its clients change; back in at the end.
  bool active = framework.active;
  framework.active = false;
  s.RefreshFramework(f);

  std::vector<uint32_t> clients, dropped;
  for (const std::string& name : names) {
    uint32_t r = s.RoleIndex(name);
    if (std::any_of(clients.begin(), clients.end(),
                    [&](uint32_t c) { return s.clients[c].role == r; })) {
      continue;
    }
    auto kept = std::find_if(framework.clients.begin(), framework.clients.end(),
                             [&](uint32_t c) { return s.clients[c].role == r; });
    clients.push_back(kept != framework.clients.end() ? *kept : s.NewClient(f, r));
  }
  for (uint32_t c : framework.clients) {
    if (std::find(clients.begin(), clients.end(), c) == clients.end()) dropped.push_back(c);
  }
  framework.clients = clients;

  // What a dropped role holds stays held (offers in flight included) and is
  // charged to the roles the framework has now.
  std::vector<std::pair<uint32_t, Resources>> moved;
  for (auto& [a, held] : framework.allocations) {
    for (auto it = held.begin(); it != held.end();) {
      if (std::find(dropped.begin(), dropped.end(), it->client) == dropped.end()) {
        ++it;
        continue;
      }
      State::Client& client = s.clients[it->client];
      s.AddScalars(client.allocated, it->resources, -1);
      s.AddScalars(s.roles[client.role].allocated, it->resources, -1);
      s.UpdateRoleKey(client.role);
      moved.emplace_back(a, it->resources);
      it = held.erase(it);
    }
  }
  for (uint32_t c : dropped) s.FreeClient(c);
  for (const auto& [a, resources] : moved) s.TrackByRole(f, a, resources);

  framework.active = active;
  s.RefreshFramework(f);
  s.all_dirty = true;
}

void Allocator::Suppress(const FrameworkId& framework_id, const std::vector<std::string>& roles) {
  State& s = *state_;
  uint32_t f = s.FindFramework(framework_id);
  if (f == kNone) return;
  for (uint32_t c : s.frameworks[f].clients) {
    const std::string& name = s.roles[s.clients[c].role].name;
    if (roles.empty() || std::find(roles.begin(), roles.end(), name) != roles.end()) {
      s.clients[c].suppressed = true;
    }
  }
  s.RefreshFramework(f);
}

void Allocator::Revive(const FrameworkId& framework_id, const std::vector<std::string>& roles) {
  State& s = *state_;
  uint32_t f = s.FindFramework(framework_id);
  if (f == kNone) return;
  for (uint32_t c : s.frameworks[f].clients) {
    const std::string& name = s.roles[s.clients[c].role].name;
    if (roles.empty() || std::find(roles.begin(), roles.end(), name) != roles.end()) {
      s.clients[c].suppressed = false;
    }
  }
  s.RefreshFramework(f);
  s.ClearFrameworkFilters(f);
  s.all_dirty = true;
}

void Allocator::SetWeight(const std::string& role, double weight) {
  State& s = *state_;
  if (!(weight > 0) || !std::isfinite(weight)) return;  // REQUIRES weight > 0; ignore otherwise.
  uint32_t r = s.RoleIndex(role);
  s.roles[r].weight = weight;
  s.UpdateRoleKey(r);
}

std::vector<Allocation> Allocator::Allocate(double now) {
  State& s = *state_;
  s.all_dirty = true;
  return AllocateChanged(now);
}

std::vector<Allocation> Allocator::AllocateChanged(double now) {
  State& s = *state_;
  s.ExpireFilters(now);
  s.MaybeCompactFilters();
  if (s.order_dirty) s.RebuildOrders();
  std::vector<uint32_t> dirty;
  dirty.swap(s.dirty_agents);
  for (uint32_t a : dirty) s.agents[a].dirty = false;
  bool all = s.all_dirty;
  s.all_dirty = false;
  std::vector<Allocation> out;
  if (s.wanting_frameworks == 0) return out;
  auto visit = [&](uint32_t a) {
    const State::Agent& agent = s.agents[a];
    if (!agent.live || !agent.active || agent.available.empty()) return;
    if (agent.filtered_count >= s.wanting_frameworks) return;  // Everyone declined it.
    s.AllocateAgent(a, out);
  };
  if (all) {
    const uint32_t count = static_cast<uint32_t>(s.agents.size());
    const uint32_t start = count == 0 ? 0 : s.next_start++ % count;
    for (uint32_t i = 0; i < count; ++i) visit((start + i) % count);
  } else {
    std::sort(dirty.begin(), dirty.end());
    for (uint32_t a : dirty) visit(a);
  }
  return out;
}

bool Allocator::HasChanges() const { return state_->all_dirty || !state_->dirty_agents.empty(); }

Resources Allocator::Available(const AgentId& agent_id) const {
  uint32_t a = state_->FindAgent(agent_id);
  return a == kNone ? Resources() : state_->agents[a].available;
}

Resources Allocator::Total() const {
  Resources total;
  for (const State::Agent& agent : state_->agents) {
    if (agent.live) total += agent.total;
  }
  return total;
}

Resources Allocator::Allocated(const FrameworkId& framework_id) const {
  Resources allocated;
  uint32_t f = state_->FindFramework(framework_id);
  if (f == kNone) return allocated;
  for (const auto& [a, held] : state_->frameworks[f].allocations) {
    for (const State::RoleAllocation& ra : held) allocated += ra.resources;
  }
  return allocated;
}

double Allocator::RoleShare(const std::string& role) const {
  auto it = state_->role_index.find(role);
  if (it == state_->role_index.end()) return 0;
  return state_->DominantShare(state_->roles[it->second].allocated);
}

double Allocator::FrameworkShare(const FrameworkId& framework_id) const {
  const State& s = *state_;
  uint32_t f = s.FindFramework(framework_id);
  if (f == kNone) return 0;
  std::vector<int64_t> allocated;
  for (uint32_t c : s.frameworks[f].clients) {
    const std::vector<int64_t>& part = s.clients[c].allocated;
    if (allocated.size() < part.size()) allocated.resize(part.size(), 0);
    for (size_t i = 0; i < part.size(); ++i) allocated[i] += part[i];
  }
  return s.DominantShare(allocated);
}

size_t Allocator::FilterCount() const { return state_->live_filters; }

}  // namespace stoa::master

// The allocator state's operations: interning, keys and orders, filters,
// tracking allocations and giving one agent's resources away.
#include "master/allocator_state.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

namespace stoa::master {

using allocator_internal::FilterEntry;
using allocator_internal::kNoFilter;
using allocator_internal::kNone;

namespace {

// std::push_heap builds a max-heap; this ordering turns it into a min-heap on expiry.
struct ExpiresLater {
  bool operator()(const FilterEntry& a, const FilterEntry& b) const { return a.expiry > b.expiry; }
};

// a ∩ b, using only the algebra's subtraction.
Resources Intersect(const Resources& a, const Resources& b) { return a - (a - b); }

// Moves `item`, stored in `order` sorted by (key, index), from `old_key` to
// `new_key`. `key_of(i)` must still return the old key of `item`.
template <typename KeyOf>
void Reposition(std::vector<uint32_t>& order, uint32_t item, double old_key, double new_key,
                const KeyOf& key_of) {
  auto before = [&](uint32_t x, const std::pair<double, uint32_t>& key) {
    return std::pair(key_of(x), x) < key;
  };
  auto old_it = std::lower_bound(order.begin(), order.end(), std::pair(old_key, item), before);
  if (old_it == order.end() || *old_it != item) {
    old_it = std::find(order.begin(), order.end(), item);  // Defensive; never expected.
    if (old_it == order.end()) return;
  }
  if (new_key > old_key) {
    auto new_it = std::lower_bound(old_it + 1, order.end(), std::pair(new_key, item), before);
    std::rotate(old_it, old_it + 1, new_it);
  } else if (new_key < old_key) {
    auto new_it = std::lower_bound(order.begin(), old_it, std::pair(new_key, item), before);
    std::rotate(new_it, old_it, old_it + 1);
  }
}

template <typename KeyOf>
void InsertSorted(std::vector<uint32_t>& order, uint32_t item, const KeyOf& key_of) {
  auto key = std::pair(key_of(item), item);
  auto it = std::lower_bound(order.begin(), order.end(), key, [&](uint32_t x, const auto& k) {
    return std::pair(key_of(x), x) < k;
  });
  order.insert(it, item);
}

template <typename KeyOf>
void EraseSorted(std::vector<uint32_t>& order, uint32_t item, const KeyOf& key_of) {
  auto key = std::pair(key_of(item), item);
  auto it = std::lower_bound(order.begin(), order.end(), key, [&](uint32_t x, const auto& k) {
    return std::pair(key_of(x), x) < k;
  });
  if (it == order.end() || *it != item) it = std::find(order.begin(), order.end(), item);
  if (it != order.end()) order.erase(it);
}

}  // namespace

uint32_t Allocator::State::NameIndex(const std::string& name) {
  auto [it, inserted] = name_index.emplace(name, static_cast<uint32_t>(name_index.size()));
  if (inserted) total_millis.push_back(0);
  return it->second;
}

uint32_t Allocator::State::RoleIndex(const std::string& name) {
  auto [it, inserted] = role_index.emplace(name, static_cast<uint32_t>(roles.size()));
  if (inserted) {
    roles.emplace_back();
    roles.back().name = name;
  }
  return it->second;
}

uint32_t Allocator::State::FindAgent(const AgentId& id) const {
  auto it = agent_index.find(id);
  return it == agent_index.end() ? kNone : it->second;
}

uint32_t Allocator::State::FindFramework(const FrameworkId& id) const {
  auto it = framework_index.find(id);
  return it == framework_index.end() ? kNone : it->second;
}

void Allocator::State::AddScalars(std::vector<int64_t>& millis, const Resources& resources,
                                  int64_t sign) {
  for (const Resource& r : resources.entries()) {
    if (r.type != Resource::Type::kScalar) continue;
    uint32_t index = NameIndex(r.name);
    if (millis.size() <= index) millis.resize(index + 1, 0);
    millis[index] += sign * r.scalar_millis;
  }
}

double Allocator::State::DominantShare(const std::vector<int64_t>& allocated) const {
  double share = 0;
  size_t n = std::min(allocated.size(), total_millis.size());
  for (size_t i = 0; i < n; ++i) {
    if (total_millis[i] > 0 && allocated[i] > 0) {
      share =
          std::max(share, static_cast<double>(allocated[i]) / static_cast<double>(total_millis[i]));
    }
  }
  return share;
}

void Allocator::State::UpdateClientKey(uint32_t c) {
  Client& client = clients[c];
  double key = ClientKey(c);
  if (client.in_order && !order_dirty) {
    Reposition(roles[client.role].order, c, client.key, key, ClientKeyOf());
  }
  client.key = key;
}

void Allocator::State::UpdateRoleKey(uint32_t r) {
  Role& role = roles[r];
  double key = RoleKey(r);
  if (role.in_order && !order_dirty) Reposition(role_order, r, role.key, key, RoleKeyOf());
  role.key = key;
}

void Allocator::State::RebuildOrders() {
  for (uint32_t c = 0; c < clients.size(); ++c) {
    if (clients[c].framework != kNone) clients[c].key = ClientKey(c);
  }
  for (uint32_t r = 0; r < roles.size(); ++r) {
    Role& role = roles[r];
    role.key = RoleKey(r);
    std::sort(role.order.begin(), role.order.end(), [this](uint32_t a, uint32_t b) {
      return std::pair(clients[a].key, a) < std::pair(clients[b].key, b);
    });
  }
  std::sort(role_order.begin(), role_order.end(), [this](uint32_t a, uint32_t b) {
    return std::pair(roles[a].key, a) < std::pair(roles[b].key, b);
  });
  order_dirty = false;
}

void Allocator::State::RefreshRole(uint32_t r) {
  Role& role = roles[r];
  bool want = !role.order.empty();
  if (want == role.in_order) return;
  if (want) {
    role.key = RoleKey(r);
    InsertSorted(role_order, r, RoleKeyOf());
  } else {
    EraseSorted(role_order, r, RoleKeyOf());
  }
  role.in_order = want;
}

void Allocator::State::RefreshClient(uint32_t c) {
  Client& client = clients[c];
  bool want = frameworks[client.framework].active && !client.suppressed;
  if (want == client.in_order) return;
  std::vector<uint32_t>& order = roles[client.role].order;
  if (want) {
    client.key = ClientKey(c);
    InsertSorted(order, c, ClientKeyOf());
  } else {
    EraseSorted(order, c, ClientKeyOf());
  }
  client.in_order = want;
  RefreshRole(client.role);
}

void Allocator::State::RefreshFramework(uint32_t f) {
  Framework& framework = frameworks[f];
  bool wanting = false;
  for (uint32_t c : framework.clients) {
    RefreshClient(c);
    wanting = wanting || clients[c].in_order;
  }
  if (wanting == framework.wanting) return;
  framework.wanting = wanting;
  if (wanting) {
    ++wanting_frameworks;
  } else {
    --wanting_frameworks;
  }
  if (framework.live_filters == 0) return;
  for (Agent& agent : agents) {
    if (agent.live && Filtered(agent, f)) {
      if (wanting) {
        ++agent.filtered_count;
      } else {
        --agent.filtered_count;
      }
    }
  }
}

bool Allocator::State::Filtered(const Agent& agent, uint32_t f) {
  return f < agent.filter_until.size() && agent.filter_until[f] != kNoFilter;
}

void Allocator::State::SetFilter(uint32_t a, uint32_t f, double expiry, const Resources& refused) {
  Agent& agent = agents[a];
  // Declining two offers on one agent refuses both.
  if (Filtered(agent, f)) {
    agent.refused[f] += refused;
  } else {
    agent.refused[f] = refused;
  }
  if (agent.filter_until.size() <= f) {
    agent.filter_until.resize(std::max<size_t>(f + 1, frameworks.size()), kNoFilter);
  }
  double& until = agent.filter_until[f];
  if (until == kNoFilter) {
    Framework& framework = frameworks[f];
    ++framework.live_filters;
    ++live_filters;
    if (framework.wanting) ++agent.filtered_count;
  } else if (expiry <= until) {
    return;  // An existing filter already lasts at least as long.
  }
  until = expiry;
  filter_heap.push_back({expiry, f, a});
  std::push_heap(filter_heap.begin(), filter_heap.end(), ExpiresLater());
}

void Allocator::State::ClearFilter(uint32_t a, uint32_t f) {
  Agent& agent = agents[a];
  if (!Filtered(agent, f)) return;
  agent.filter_until[f] = kNoFilter;
  agent.refused.erase(f);
  Framework& framework = frameworks[f];
  --framework.live_filters;
  --live_filters;
  if (framework.wanting) --agent.filtered_count;
}

void Allocator::State::ClearFrameworkFilters(uint32_t f) {
  if (frameworks[f].live_filters == 0) return;
  for (uint32_t a = 0; a < agents.size() && frameworks[f].live_filters > 0; ++a) {
    if (agents[a].live) ClearFilter(a, f);
  }
  MaybeCompactFilters();
}

void Allocator::State::ClearAgentFilters(uint32_t a) {
  Agent& agent = agents[a];
  for (uint32_t f = 0; f < agent.filter_until.size(); ++f) ClearFilter(a, f);
  agent.filter_until.clear();
  MaybeCompactFilters();
}

bool Allocator::State::HeapEntryLive(const FilterEntry& entry) const {
  return entry.agent < agents.size() && agents[entry.agent].live &&
         entry.framework < agents[entry.agent].filter_until.size() &&
         agents[entry.agent].filter_until[entry.framework] == entry.expiry;
}

void Allocator::State::ExpireFilters(double now) {
  while (!filter_heap.empty() && filter_heap.front().expiry <= now) {
    std::pop_heap(filter_heap.begin(), filter_heap.end(), ExpiresLater());
    FilterEntry entry = filter_heap.back();
    filter_heap.pop_back();
    if (HeapEntryLive(entry)) ClearFilter(entry.agent, entry.framework);
  }
}

void Allocator::State::MaybeCompactFilters() {
  if (filter_heap.size() <= 2 * live_filters + 1024) return;
  auto dead = std::remove_if(filter_heap.begin(), filter_heap.end(),
                             [this](const FilterEntry& e) { return !HeapEntryLive(e); });
  filter_heap.erase(dead, filter_heap.end());
  auto key = [](const FilterEntry& e) { return std::tuple(e.expiry, e.framework, e.agent); };
  std::sort(filter_heap.begin(), filter_heap.end(),
            [&](const FilterEntry& x, const FilterEntry& y) { return key(x) < key(y); });
  filter_heap.erase(
      std::unique(filter_heap.begin(), filter_heap.end(),
                  [&](const FilterEntry& x, const FilterEntry& y) { return key(x) == key(y); }),
      filter_heap.end());
  // Sorted ascending already satisfies the min-heap property for ExpiresLater.
}

void Allocator::State::RefreshAgentSummary(uint32_t a) {
  Agent& agent = agents[a];
  agent.has_unreserved = false;
  agent.reserved_roles.clear();
  for (const Resource& r : agent.available.entries()) {
    if (!r.reserved()) {
      agent.has_unreserved = true;
    } else {
      uint32_t role = RoleIndex(r.role);
      if (std::find(agent.reserved_roles.begin(), agent.reserved_roles.end(), role) ==
          agent.reserved_roles.end()) {
        agent.reserved_roles.push_back(role);
      }
    }
  }
}

uint32_t Allocator::State::NewClient(uint32_t f, uint32_t r) {
  uint32_t c;
  if (!free_clients.empty()) {
    c = free_clients.back();
    free_clients.pop_back();
  } else {
    c = static_cast<uint32_t>(clients.size());
    clients.emplace_back();
  }
  clients[c] = Client();
  clients[c].framework = f;
  clients[c].role = r;
  ++roles[r].clients;
  UpdateRoleKey(r);
  return c;
}

void Allocator::State::FreeClient(uint32_t c) {
  uint32_t r = clients[c].role;
  --roles[r].clients;
  UpdateRoleKey(r);
  clients[c] = Client();
  free_clients.push_back(c);
}

void Allocator::State::Track(uint32_t c, uint32_t a, const Resources& resources) {
  if (resources.empty()) return;
  Client& client = clients[c];
  std::vector<RoleAllocation>& held = frameworks[client.framework].allocations[a];
  auto it = std::find_if(held.begin(), held.end(),
                         [c](const RoleAllocation& ra) { return ra.client == c; });
  if (it == held.end()) {
    held.push_back({c, resources});
  } else {
    it->resources += resources;
  }
  AddScalars(client.allocated, resources, +1);
  AddScalars(roles[client.role].allocated, resources, +1);
  UpdateClientKey(c);
  UpdateRoleKey(client.role);
}

void Allocator::State::TrackByRole(uint32_t f, uint32_t a, const Resources& resources,
                                   const std::string& role) {
  const Framework& framework = frameworks[f];
  auto client_of = [&](const std::string& name, size_t fallback) {
    for (size_t i = 0; i < framework.clients.size(); ++i) {
      if (roles[clients[framework.clients[i]].role].name == name) return i;
    }
    return fallback;
  };
  size_t allocated_to = role.empty() ? 0 : client_of(role, 0);
  std::vector<Resources> parts(framework.clients.size());
  for (const Resource& r : resources.entries()) {
    parts[r.reserved() ? client_of(r.role, allocated_to) : allocated_to].Add(r);
  }
  for (size_t i = 0; i < parts.size(); ++i) Track(framework.clients[i], a, parts[i]);
}

Resources Allocator::State::Untrack(uint32_t f, uint32_t a, Resources remaining,
                                    const std::string& role) {
  Framework& framework = frameworks[f];
  Resources taken;
  auto held_it = framework.allocations.find(a);
  if (held_it == framework.allocations.end()) return taken;
  std::vector<RoleAllocation>& held = held_it->second;
  if (!role.empty()) {
    std::stable_partition(held.begin(), held.end(), [&](const RoleAllocation& ra) {
      return roles[clients[ra.client].role].name == role;
    });
  }
  for (auto it = held.begin(); it != held.end() && !remaining.empty();) {
    Resources part = Intersect(it->resources, remaining);
    if (part.empty()) {
      ++it;
      continue;
    }
    it->resources -= part;
    remaining -= part;
    Client& client = clients[it->client];
    AddScalars(client.allocated, part, -1);
    AddScalars(roles[client.role].allocated, part, -1);
    UpdateClientKey(it->client);
    UpdateRoleKey(client.role);
    taken += part;
    it = it->resources.empty() ? held.erase(it) : it + 1;
  }
  if (held.empty()) framework.allocations.erase(held_it);
  return taken;
}

Resources Allocator::State::TakeAvailable(uint32_t a, const Resources& resources) {
  Agent& agent = agents[a];
  Resources taken = Intersect(agent.available, resources);
  agent.available -= taken;
  RefreshAgentSummary(a);
  return taken;
}

void Allocator::State::ReturnAvailable(uint32_t a, const Resources& resources, bool reoffer) {
  if (resources.empty()) return;
  Agent& agent = agents[a];
  agent.available += resources;
  RefreshAgentSummary(a);
  // Filters that no longer cover what the agent could offer their framework
  // (unreserved, or reserved for one of its roles) are lifted.
  std::vector<uint32_t> lifted;
  for (const auto& [f, refused] : agent.refused) {
    if (!refused.Contains(OfferableTo(f, agent.available))) lifted.push_back(f);
  }
  for (uint32_t f : lifted) ClearFilter(a, f);
  if (reoffer || !lifted.empty()) MarkDirty(a);
}

Resources Allocator::State::OfferableTo(uint32_t f, const Resources& available) const {
  const Framework& framework = frameworks[f];
  return available.Filter([&](const Resource& r) {
    if (!r.reserved()) return true;
    for (uint32_t c : framework.clients) {
      if (roles[clients[c].role].name == r.role) return true;
    }
    return false;
  });
}

void Allocator::State::MarkDirty(uint32_t a) {
  if (agents[a].dirty) return;
  agents[a].dirty = true;
  dirty_agents.push_back(a);
}

uint32_t Allocator::State::FirstUnfiltered(uint32_t r, const Agent& agent) const {
  for (uint32_t c : roles[r].order) {
    if (!Filtered(agent, clients[c].framework)) return c;
  }
  return kNone;
}

void Allocator::State::Give(uint32_t c, uint32_t a, std::vector<Allocation>& out) {
  Agent& agent = agents[a];
  const uint32_t r = clients[c].role;
  const std::string& role = roles[r].name;
  Resources slice = agent.available.AllocatableTo(role);
  if (slice.entries().size() == agent.available.entries().size()) {
    agent.available = Resources();
  } else {
    agent.available = agent.available.Filter(
        [&role](const Resource& resource) { return resource.reserved() && resource.role != role; });
  }
  // What remains is a subset of what was there, so no role is interned here
  // and `role` stays valid.
  RefreshAgentSummary(a);
  Track(c, a, slice);
  out.push_back({frameworks[clients[c].framework].id, agent.id, roles[r].name, std::move(slice)});
}

void Allocator::State::AllocateAgent(uint32_t a, std::vector<Allocation>& out) {
  if (agents[a].has_unreserved) {
    for (uint32_t r : role_order) {
      uint32_t c = FirstUnfiltered(r, agents[a]);
      if (c != kNone) {
        Give(c, a, out);  // Also takes the role's reservations; role_order changes.
        break;
      }
    }
  }
  if (agents[a].reserved_roles.empty()) return;
  // Reservations of roles that did not get the unreserved part. Each can only
  // go to its own role, so their relative order does not matter.
  std::vector<uint32_t> reserved = agents[a].reserved_roles;
  for (uint32_t r : reserved) {
    if (!roles[r].in_order) continue;
    uint32_t c = FirstUnfiltered(r, agents[a]);
    if (c != kNone) Give(c, a, out);
  }
}

}  // namespace stoa::master

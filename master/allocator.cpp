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

namespace stoa::master {

namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr double kNoFilter = -std::numeric_limits<double>::infinity();

struct FilterEntry {
  double expiry;
  uint32_t framework;
  uint32_t agent;
};

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

struct Allocator::State {
  // What one client holds on one agent.
  struct RoleAllocation {
    uint32_t client;
    Resources resources;
  };

  struct Agent {
    AgentId id;
    bool live = false;
    bool active = false;
    Resources total;
    Resources available;
    // Summary of `available`, refreshed whenever it changes.
    bool has_unreserved = false;
    std::vector<uint32_t> reserved_roles;
    // Expiry of each framework's refuse filter on this agent, or kNoFilter.
    std::vector<double> filter_until;
    // Live filters held by frameworks that want offers.
    uint32_t filtered_count = 0;
    // What each live filter refused (Mesos: a filter covers only offers that
    // are a subset of it, so more free resources lift it).
    std::unordered_map<uint32_t, Resources> refused;
    bool dirty = false;  // changed since the last round that looked at it
    // Resources used by frameworks not (yet) added, from AddAgent's `used`.
    std::map<FrameworkId, Resources> pending_used;
  };

  struct Framework {
    FrameworkId id;
    bool live = false;
    bool active = false;
    bool wanting = false;  // active and at least one unsuppressed role
    std::vector<uint32_t> clients;
    std::unordered_map<uint32_t, std::vector<RoleAllocation>> allocations;  // by agent
    uint32_t live_filters = 0;
  };

  struct Client {
    uint32_t framework = kNone;
    uint32_t role = kNone;
    bool suppressed = false;
    bool in_order = false;
    std::vector<int64_t> allocated;  // millis by resource name index
    double key = 0;                  // dominant share, as sorted in the role's order
  };

  struct Role {
    std::string name;
    double weight = 1;
    uint32_t clients = 0;
    std::vector<int64_t> allocated;
    std::vector<uint32_t> order;  // clients that want offers, by (key, index)
    bool in_order = false;
    double key = 0;  // weighted dominant share, as sorted in role_order
  };

  std::vector<Agent> agents;
  std::vector<uint32_t> free_agents;
  std::unordered_map<AgentId, uint32_t> agent_index;

  std::vector<Framework> frameworks;
  std::vector<uint32_t> free_frameworks;
  std::unordered_map<FrameworkId, uint32_t> framework_index;
  // Agents holding pending_used for a framework id (may be stale; checked on use).
  std::unordered_map<FrameworkId, std::vector<uint32_t>> pending_agents;

  std::vector<Client> clients;
  std::vector<uint32_t> free_clients;

  std::vector<Role> roles;
  std::unordered_map<std::string, uint32_t> role_index;
  std::vector<uint32_t> role_order;  // roles with clients that want offers

  std::unordered_map<std::string, uint32_t> name_index;
  std::vector<int64_t> total_millis;  // cluster total by resource name index

  // Set when totals or weights change: every key is recomputed and every order
  // re-sorted before the next use. Until then orders stay sorted by their old keys.
  bool order_dirty = false;
  // Agents whose resources changed since their last round, and whether a
  // framework change makes every agent worth a look.
  std::vector<uint32_t> dirty_agents;
  bool all_dirty = false;
  // Where the next full round starts: each starts one agent later, so that
  // no agent is always the first to be placed on (Mesos shuffles instead).
  uint32_t next_start = 0;
  uint32_t wanting_frameworks = 0;
  size_t live_filters = 0;
  std::vector<FilterEntry> filter_heap;

  // ---- Interning ----------------------------------------------------------

  uint32_t NameIndex(const std::string& name) {
    auto [it, inserted] = name_index.emplace(name, static_cast<uint32_t>(name_index.size()));
    if (inserted) total_millis.push_back(0);
    return it->second;
  }

  uint32_t RoleIndex(const std::string& name) {
    auto [it, inserted] = role_index.emplace(name, static_cast<uint32_t>(roles.size()));
    if (inserted) {
      roles.emplace_back();
      roles.back().name = name;
    }
    return it->second;
  }

  uint32_t FindAgent(const AgentId& id) const {
    auto it = agent_index.find(id);
    return it == agent_index.end() ? kNone : it->second;
  }

  uint32_t FindFramework(const FrameworkId& id) const {
    auto it = framework_index.find(id);
    return it == framework_index.end() ? kNone : it->second;
  }

  // ---- Shares and orders --------------------------------------------------

  void AddScalars(std::vector<int64_t>& millis, const Resources& resources, int64_t sign) {
    for (const Resource& r : resources.entries()) {
      if (r.type != Resource::Type::kScalar) continue;
      uint32_t index = NameIndex(r.name);
      if (millis.size() <= index) millis.resize(index + 1, 0);
      millis[index] += sign * r.scalar_millis;
    }
  }

  double DominantShare(const std::vector<int64_t>& allocated) const {
    double share = 0;
    size_t n = std::min(allocated.size(), total_millis.size());
    for (size_t i = 0; i < n; ++i) {
      if (total_millis[i] > 0 && allocated[i] > 0) {
        share = std::max(share,
                         static_cast<double>(allocated[i]) / static_cast<double>(total_millis[i]));
      }
    }
    return share;
  }

  double ClientKey(uint32_t c) const { return DominantShare(clients[c].allocated); }
  double RoleKey(uint32_t r) const { return DominantShare(roles[r].allocated) / roles[r].weight; }

  auto ClientKeyOf() const {
    return [this](uint32_t c) { return clients[c].key; };
  }
  auto RoleKeyOf() const {
    return [this](uint32_t r) { return roles[r].key; };
  }

  // Called after a client's or role's allocation changed.
  void UpdateClientKey(uint32_t c) {
    Client& client = clients[c];
    double key = ClientKey(c);
    if (client.in_order && !order_dirty) {
      Reposition(roles[client.role].order, c, client.key, key, ClientKeyOf());
    }
    client.key = key;
  }

  void UpdateRoleKey(uint32_t r) {
    Role& role = roles[r];
    double key = RoleKey(r);
    if (role.in_order && !order_dirty) Reposition(role_order, r, role.key, key, RoleKeyOf());
    role.key = key;
  }

  void RebuildOrders() {
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

  void RefreshRole(uint32_t r) {
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

  void RefreshClient(uint32_t c) {
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

  // Re-derives whether a framework wants offers; on a change, fixes the
  // per-agent counts of filters held by frameworks that want offers.
  void RefreshFramework(uint32_t f) {
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

  // ---- Filters --------------------------------------------------------------

  static bool Filtered(const Agent& agent, uint32_t f) {
    return f < agent.filter_until.size() && agent.filter_until[f] != kNoFilter;
  }

  void SetFilter(uint32_t a, uint32_t f, double expiry, const Resources& refused) {
    Agent& agent = agents[a];
    agent.refused[f] = refused;
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

  void ClearFilter(uint32_t a, uint32_t f) {
    Agent& agent = agents[a];
    if (!Filtered(agent, f)) return;
    agent.filter_until[f] = kNoFilter;
    agent.refused.erase(f);
    Framework& framework = frameworks[f];
    --framework.live_filters;
    --live_filters;
    if (framework.wanting) --agent.filtered_count;
  }

  void ClearFrameworkFilters(uint32_t f) {
    if (frameworks[f].live_filters == 0) return;
    for (uint32_t a = 0; a < agents.size() && frameworks[f].live_filters > 0; ++a) {
      if (agents[a].live) ClearFilter(a, f);
    }
    MaybeCompactFilters();
  }

  void ClearAgentFilters(uint32_t a) {
    Agent& agent = agents[a];
    for (uint32_t f = 0; f < agent.filter_until.size(); ++f) ClearFilter(a, f);
    agent.filter_until.clear();
    MaybeCompactFilters();
  }

  bool HeapEntryLive(const FilterEntry& entry) const {
    return entry.agent < agents.size() && agents[entry.agent].live &&
           entry.framework < agents[entry.agent].filter_until.size() &&
           agents[entry.agent].filter_until[entry.framework] == entry.expiry;
  }

  void ExpireFilters(double now) {
    while (!filter_heap.empty() && filter_heap.front().expiry <= now) {
      std::pop_heap(filter_heap.begin(), filter_heap.end(), ExpiresLater());
      FilterEntry entry = filter_heap.back();
      filter_heap.pop_back();
      if (HeapEntryLive(entry)) ClearFilter(entry.agent, entry.framework);
    }
  }

  // Drops heap entries of cleared, extended or duplicated filters once they
  // outnumber the live ones, so the heap stays O(live filters).
  void MaybeCompactFilters() {
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

  // ---- Allocation bookkeeping ---------------------------------------------

  void RefreshAgentSummary(uint32_t a) {
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

  // Records `resources` (taken from agent `a`'s pool by the caller) as held by client `c`.
  void Track(uint32_t c, uint32_t a, const Resources& resources) {
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

  // Splits `resources` over framework `f`'s roles: a reservation goes to its
  // role when subscribed, everything else to the framework's first role.
  void TrackByRole(uint32_t f, uint32_t a, const Resources& resources) {
    const Framework& framework = frameworks[f];
    std::vector<Resources> parts(framework.clients.size());
    for (const Resource& r : resources.entries()) {
      size_t target = 0;
      for (size_t i = 0; i < framework.clients.size(); ++i) {
        if (r.reserved() && roles[clients[framework.clients[i]].role].name == r.role) target = i;
      }
      parts[target].Add(r);
    }
    for (size_t i = 0; i < parts.size(); ++i) Track(framework.clients[i], a, parts[i]);
  }

  // Removes up to `resources` from what framework `f` holds on agent `a`, from
  // its allocation in `role` first (its allocation role), and returns what
  // was actually held.
  Resources Untrack(uint32_t f, uint32_t a, Resources remaining, const std::string& role = "") {
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

  // Takes what is available of `resources` from agent `a` and returns it.
  Resources TakeAvailable(uint32_t a, const Resources& resources) {
    Agent& agent = agents[a];
    Resources taken = Intersect(agent.available, resources);
    agent.available -= taken;
    RefreshAgentSummary(a);
    return taken;
  }

  // `reoffer`: the agent is worth an event-driven round (resources freed by a
  // task); declined resources wait for the periodic round, so that a decline
  // without a filter cannot bounce offers at network speed.
  void ReturnAvailable(uint32_t a, const Resources& resources, bool reoffer = true) {
    if (resources.empty()) return;
    Agent& agent = agents[a];
    agent.available += resources;
    RefreshAgentSummary(a);
    // Filters that no longer cover what the agent has free are lifted.
    std::vector<uint32_t> lifted;
    for (const auto& [f, refused] : agent.refused) {
      if (!refused.Contains(agent.available)) lifted.push_back(f);
    }
    for (uint32_t f : lifted) ClearFilter(a, f);
    if (reoffer || !lifted.empty()) MarkDirty(a);
  }

  void MarkDirty(uint32_t a) {
    if (agents[a].dirty) return;
    agents[a].dirty = true;
    dirty_agents.push_back(a);
  }

  // ---- The round --------------------------------------------------------------

  // The first client in role `r`'s DRF order that has not filtered agent `a`.
  uint32_t FirstUnfiltered(uint32_t r, const Agent& agent) const {
    for (uint32_t c : roles[r].order) {
      if (!Filtered(agent, clients[c].framework)) return c;
    }
    return kNone;
  }

  void Give(uint32_t c, uint32_t a, std::vector<Allocation>& out) {
    Agent& agent = agents[a];
    const uint32_t r = clients[c].role;
    const std::string& role = roles[r].name;
    Resources slice = agent.available.AllocatableTo(role);
    if (slice.entries().size() == agent.available.entries().size()) {
      agent.available = Resources();
    } else {
      agent.available = agent.available.Filter([&role](const Resource& resource) {
        return resource.reserved() && resource.role != role;
      });
    }
    // What remains is a subset of what was there, so no role is interned here
    // and `role` stays valid.
    RefreshAgentSummary(a);
    Track(c, a, slice);
    out.push_back({frameworks[clients[c].framework].id, agent.id, roles[r].name, std::move(slice)});
  }

  void AllocateAgent(uint32_t a, std::vector<Allocation>& out) {
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
};

Allocator::Allocator() : state_(std::make_unique<State>()) {}
Allocator::~Allocator() = default;

void Allocator::AddFramework(const FrameworkId& id, const std::vector<std::string>& roles,
                             const std::map<AgentId, Resources>& used) {
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
    uint32_t c;
    if (!s.free_clients.empty()) {
      c = s.free_clients.back();
      s.free_clients.pop_back();
    } else {
      c = static_cast<uint32_t>(s.clients.size());
      s.clients.emplace_back();
    }
    s.clients[c] = State::Client();
    s.clients[c].framework = f;
    s.clients[c].role = r;
    ++s.roles[r].clients;
    framework.clients.push_back(c);
  }

  // What agents reported for this framework before it was added is authoritative
  // for those agents; `used` covers the rest.
  std::vector<uint32_t> claimed;
  if (auto pending = s.pending_agents.find(id); pending != s.pending_agents.end()) {
    for (uint32_t a : pending->second) {
      State::Agent& agent = s.agents[a];
      auto it = agent.live ? agent.pending_used.find(id) : agent.pending_used.end();
      if (it == agent.pending_used.end()) continue;
      s.TrackByRole(f, a, it->second);
      agent.pending_used.erase(it);
      claimed.push_back(a);
    }
    s.pending_agents.erase(pending);
  }
  for (const auto& [agent_id, resources] : used) {
    uint32_t a = s.FindAgent(agent_id);
    if (a == kNone || std::find(claimed.begin(), claimed.end(), a) != claimed.end()) continue;
    s.TrackByRole(f, a, s.TakeAvailable(a, resources));
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
  for (uint32_t c : framework.clients) {
    uint32_t r = s.clients[c].role;
    --s.roles[r].clients;
    s.UpdateRoleKey(r);
    s.clients[c] = State::Client();
    s.free_clients.push_back(c);
  }
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
                         const std::map<FrameworkId, Resources>& used) {
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

  for (const auto& [framework_id, resources] : used) {
    Resources taken = s.TakeAvailable(a, resources);
    uint32_t f = s.FindFramework(framework_id);
    if (f != kNone) {
      s.TrackByRole(f, a, taken);
    } else if (!taken.empty()) {
      agent.pending_used[framework_id] += taken;
      s.pending_agents[framework_id].push_back(a);
    }
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

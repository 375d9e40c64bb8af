// The allocator's internal state: interned agents, frameworks, clients and
// roles, the sorted DRF orders and the filter book. Only allocator.cpp and
// allocator_state.cpp include it.
//
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
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "master/allocator.hpp"

namespace stoa::master {

namespace allocator_internal {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr double kNoFilter = -std::numeric_limits<double>::infinity();

struct FilterEntry {
  double expiry;
  uint32_t framework;
  uint32_t agent;
};

}  // namespace allocator_internal

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
    // Expiry of each framework's refuse filter on this agent, or allocator_internal::kNoFilter.
    std::vector<double> filter_until;
    // Live filters held by frameworks that want offers.
    uint32_t filtered_count = 0;
    // What each live filter refused (Mesos: a filter covers only offers that
    // are a subset of it, so more free resources lift it).
    std::unordered_map<uint32_t, Resources> refused;
    bool dirty = false;  // changed since the last round that looked at it
    // Resources used by frameworks not (yet) added, from AddAgent's `used`.
    std::map<FrameworkId, std::map<std::string, Resources>> pending_used;
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
    uint32_t framework = allocator_internal::kNone;
    uint32_t role = allocator_internal::kNone;
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
  std::vector<allocator_internal::FilterEntry> filter_heap;

  // ---- Interning ----------------------------------------------------------

  uint32_t NameIndex(const std::string& name);

  uint32_t RoleIndex(const std::string& name);

  uint32_t FindAgent(const AgentId& id) const;

  uint32_t FindFramework(const FrameworkId& id) const;

  // ---- Shares and orders --------------------------------------------------

  void AddScalars(std::vector<int64_t>& millis, const Resources& resources, int64_t sign);

  double DominantShare(const std::vector<int64_t>& allocated) const;

  double ClientKey(uint32_t c) const { return DominantShare(clients[c].allocated); }
  double RoleKey(uint32_t r) const { return DominantShare(roles[r].allocated) / roles[r].weight; }

  auto ClientKeyOf() const {
    return [this](uint32_t c) { return clients[c].key; };
  }
  auto RoleKeyOf() const {
    return [this](uint32_t r) { return roles[r].key; };
  }

  // Called after a client's or role's allocation changed.
  void UpdateClientKey(uint32_t c);

  void UpdateRoleKey(uint32_t r);

  void RebuildOrders();

  void RefreshRole(uint32_t r);

  void RefreshClient(uint32_t c);

  // Re-derives whether a framework wants offers; on a change, fixes the
  // per-agent counts of filters held by frameworks that want offers.
  void RefreshFramework(uint32_t f);

  // ---- Filters --------------------------------------------------------------

  static bool Filtered(const Agent& agent, uint32_t f);

  void SetFilter(uint32_t a, uint32_t f, double expiry, const Resources& refused);

  void ClearFilter(uint32_t a, uint32_t f);

  void ClearFrameworkFilters(uint32_t f);

  void ClearAgentFilters(uint32_t a);

  bool HeapEntryLive(const allocator_internal::FilterEntry& entry) const;

  void ExpireFilters(double now);

  // Drops heap entries of cleared, extended or duplicated filters once they
  // outnumber the live ones, so the heap stays O(live filters).
  void MaybeCompactFilters();

  // ---- Allocation bookkeeping ---------------------------------------------

  void RefreshAgentSummary(uint32_t a);

  // A client of framework `f` in role `r`, and its release (REQUIRES: it
  // holds nothing and is out of every order).
  uint32_t NewClient(uint32_t f, uint32_t r);
  void FreeClient(uint32_t c);

  // Records `resources` (taken from agent `a`'s pool by the caller) as held by client `c`.
  void Track(uint32_t c, uint32_t a, const Resources& resources);

  // Splits `resources` over framework `f`'s roles: a reservation goes to its
  // role when subscribed, everything else to `role` when subscribed, else to
  // the framework's first role.
  void TrackByRole(uint32_t f, uint32_t a, const Resources& resources,
                   const std::string& role = "");

  // Removes up to `resources` from what framework `f` holds on agent `a`, from
  // its allocation in `role` first (its allocation role), and returns what
  // was actually held.
  Resources Untrack(uint32_t f, uint32_t a, Resources remaining, const std::string& role = "");

  // Takes what is available of `resources` from agent `a` and returns it.
  Resources TakeAvailable(uint32_t a, const Resources& resources);

  // `reoffer`: the agent is worth an event-driven round (resources freed by a
  // task); declined resources wait for the periodic round, so that a decline
  // without a filter cannot bounce offers at network speed.
  void ReturnAvailable(uint32_t a, const Resources& resources, bool reoffer = true);

  // What of `available` could be offered to framework `f`: the unreserved part
  // and what is reserved for one of its roles.
  Resources OfferableTo(uint32_t f, const Resources& available) const;
  void MarkDirty(uint32_t a);

  // ---- The round --------------------------------------------------------------

  // The first client in role `r`'s DRF order that has not filtered agent `a`.
  uint32_t FirstUnfiltered(uint32_t r, const Agent& agent) const;

  void Give(uint32_t c, uint32_t a, std::vector<Allocation>& out);

  void AllocateAgent(uint32_t a, std::vector<Allocation>& out);
};

}  // namespace stoa::master

// The allocator decides how much each framework may have: hierarchical
// Dominant Resource Fairness, first over roles (weighted), then over the
// frameworks of a role. It is a plain data structure with no actor, clock or
// I/O of its own: callers pass the current time, which keeps it testable and
// lets the master's actor drive it. Time is a monotonic seconds count.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/ids.hpp"
#include "common/resources.hpp"

namespace stoa::master {

// What one allocation round hands to one framework on one agent.
struct Allocation {
  FrameworkId framework_id;
  AgentId agent_id;
  std::string role;
  Resources resources;
};

class Allocator {
 public:
  Allocator();
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // What a framework holds on one agent, by the role it is allocated to. ""
  // (a role not known, or no longer subscribed) charges a reservation to its
  // role and everything else to the framework's first role.
  using RoleUsage = std::map<std::string, Resources>;

  // Frameworks. A framework subscribes to one or more roles; `used` is what
  // it already holds per agent (on failover or master recovery).
  void AddFramework(const FrameworkId& id, const std::vector<std::string>& roles,
                    const std::map<AgentId, RoleUsage>& used = {});
  void RemoveFramework(const FrameworkId& id);
  // A framework that resubscribed with other roles. What it holds (offers in
  // flight included) stays held: a dropped role's share goes to the role it
  // would be charged to now (a reservation's own, else the first). Roles it
  // keeps keep their suppression; filters stay. Unknown ids are added.
  void UpdateFrameworkRoles(const FrameworkId& id, const std::vector<std::string>& roles);
  // An inactive (disconnected) framework keeps its allocation but gets no offers.
  void ActivateFramework(const FrameworkId& id);
  void DeactivateFramework(const FrameworkId& id);

  // Agents. `used` is what each framework already runs there (reregistration).
  void AddAgent(const AgentId& id, const Resources& total,
                const std::map<FrameworkId, RoleUsage>& used = {});
  void RemoveAgent(const AgentId& id);
  // An agent that is unreachable or draining is not offered.
  void ActivateAgent(const AgentId& id);
  void DeactivateAgent(const AgentId& id);

  // Resources a framework gives back on an agent (rescinded offer, finished
  // task), taken first from its allocation in `role` when given. The agent is
  // looked at in the next AllocateChanged. Unknown ids are ignored.
  void Recover(const FrameworkId& framework_id, const AgentId& agent_id, const Resources& resources,
               const std::string& role = "");
  // A declined offer (or what an ACCEPT left over): given back, filtered for
  // `refuse_seconds` as far as what the agent has free stays within it, and
  // offered again only by a periodic round or once more resources free up.
  void Decline(const FrameworkId& framework_id, const AgentId& agent_id, const Resources& resources,
               double refuse_seconds, double now, const std::string& role = "");
  // Resources the master handed out outside a round (none today; kept for
  // operator-driven allocation and recovery).
  void AddAllocated(const FrameworkId& framework_id, const AgentId& agent_id,
                    const Resources& resources);

  // Refuse filter: until `now + refuse_seconds`, `framework_id` is not offered
  // `agent_id` while what the agent has free is within `refused` (Mesos's
  // filters); resources freed beyond it lift the filter. A revive clears them.
  void AddFilter(const FrameworkId& framework_id, const AgentId& agent_id, const Resources& refused,
                 double refuse_seconds, double now);
  // The same, refusing anything the agent may have.
  void AddFilter(const FrameworkId& framework_id, const AgentId& agent_id, double refuse_seconds,
                 double now);
  // Suppress: the framework wants no offers for these roles (all when empty).
  void Suppress(const FrameworkId& framework_id, const std::vector<std::string>& roles);
  // Revive: offers resume for these roles (all when empty) and filters are cleared.
  void Revive(const FrameworkId& framework_id, const std::vector<std::string>& roles);

  // Role weights (default 1). REQUIRES: weight > 0.
  void SetWeight(const std::string& role, double weight);

  // One allocation round at time `now`: expires filters, then offers every
  // agent's available resources to the role and framework with the lowest
  // weighted dominant share that wants them and has not filtered that agent.
  // Every returned allocation is removed from the agents' available pool.
  std::vector<Allocation> Allocate(double now);
  // The same over only the agents that changed since they were last looked at
  // (all of them after a framework was added, activated or revived).
  std::vector<Allocation> AllocateChanged(double now);
  // Whether AllocateChanged has anything to look at.
  bool HasChanges() const;

  // Introspection for metrics, /state and tests.
  Resources Available(const AgentId& agent_id) const;
  Resources Total() const;
  Resources Allocated(const FrameworkId& framework_id) const;
  // The dominant share of a role or framework in [0, 1] (before weighting).
  double RoleShare(const std::string& role) const;
  double FrameworkShare(const FrameworkId& framework_id) const;
  size_t FilterCount() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace stoa::master

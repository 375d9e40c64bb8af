// The registrar keeps the registry: what must survive a master failover.
// Admitted, unreachable and gone agents; frameworks and their failover
// timeouts (and the ids of removed ones, never reused); role weights and
// quotas. Reservations and persistent volumes travel inside each agent's
// resources. Every change is written through Storage before the master
// acknowledges it, with version checks so that a deposed master cannot
// overwrite what the new leader wrote. Calls block on I/O: the master runs
// them in a helper actor.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/duration.hpp"
#include "common/status.hpp"
#include "common/storage.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

struct Registry {
  std::map<AgentId, AgentRecord> agents;
  std::map<FrameworkId, FrameworkInfo> frameworks;
  std::set<FrameworkId> removed_frameworks;
  std::map<std::string, double> weights;
  std::map<std::string, Resources> quotas;
};

// How long the registry remembers what is over: the ids of removed
// frameworks (refused if a scheduler comes back with one) and agents that are
// unreachable or gone. Without a bound it grows with every `stoa execute` and
// every agent ever seen, and so does each failover's recovery (Mesos bounds
// agents the same way: registry_max_agent_age and registry_max_agent_count).
struct RegistryRetention {
  double max_age_seconds = 14 * 24 * 3600.0;  // two weeks
  size_t max_removed_frameworks = 10000;      // the newest are kept
  size_t max_departed_agents = 10000;         // unreachable or gone, newest kept
};

class Registrar {
 public:
  explicit Registrar(std::unique_ptr<Storage> storage, RegistryRetention retention = {});

  // Reads the whole registry and remembers each entry's version. First prunes
  // (durably) what `retention` no longer keeps, as of `now` (wall seconds).
  Result<Registry> Recover(double now = WallSeconds());

  Status PutAgent(const AgentRecord& record);
  Status PutFramework(const FrameworkInfo& info);
  // Removes the framework and records its id as removed for good.
  Status RemoveFramework(const FrameworkId& id);
  Status SetWeight(const std::string& role, double weight);
  Status SetQuota(const std::string& role, const Resources& quota);

 private:
  Status Put(const std::string& key, const std::string& value);
  Status Remove(const std::string& key);

  Status Prune(Registry& registry, const std::map<FrameworkId, double>& removed_times, double now);

  std::unique_ptr<Storage> storage_;
  RegistryRetention retention_;
  std::map<std::string, int64_t> versions_;  // what this master last read or wrote
};

}  // namespace stoa::master

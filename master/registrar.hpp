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

class Registrar {
 public:
  explicit Registrar(std::unique_ptr<Storage> storage);

  // Reads the whole registry and remembers each entry's version.
  Result<Registry> Recover();

  Status PutAgent(const AgentRecord& record);
  Status PutFramework(const FrameworkInfo& info);
  // Removes the framework and records its id as removed for good.
  Status RemoveFramework(const FrameworkId& id);
  Status SetWeight(const std::string& role, double weight);
  Status SetQuota(const std::string& role, const Resources& quota);

 private:
  Status Put(const std::string& key, const std::string& value);
  Status Remove(const std::string& key);

  std::unique_ptr<Storage> storage_;
  std::map<std::string, int64_t> versions_;  // what this master last read or wrote
};

}  // namespace stoa::master

#include "master/registrar.hpp"

#include <algorithm>
#include <functional>
#include <vector>

#include "common/duration.hpp"
#include "protocols/codec.hpp"

namespace stoa::master {

namespace {
constexpr const char* kAgents = "agents/";
constexpr const char* kFrameworks = "frameworks/";
constexpr const char* kRemovedFrameworks = "removed_frameworks/";
constexpr const char* kWeights = "weights/";
constexpr const char* kQuotas = "quotas/";
}  // namespace

Registrar::Registrar(std::unique_ptr<Storage> storage, RegistryRetention retention)
    : storage_(std::move(storage)), retention_(retention) {}

Result<Registry> Registrar::Recover(double now) {
  Registry registry;
  std::map<FrameworkId, double> removed_times;
  versions_.clear();
  for (const char* prefix : {kAgents, kFrameworks, kRemovedFrameworks, kWeights, kQuotas}) {
    auto entries = storage_->Scan(prefix);
    if (!entries.ok()) return Status::Error("cannot read the registry: " + entries.error());
    for (const auto& [key, stored] : *entries) {
      versions_[key] = stored.version;
      const std::string& value = stored.value;
      std::string id = key.substr(std::string(prefix).size());
      if (prefix == kAgents) {
        auto record = DecodeAgentRecord(value);
        if (!record.ok()) return Status::Error("registry entry '" + key + "': " + record.error());
        registry.agents[id] = std::move(*record);
      } else if (prefix == kFrameworks) {
        auto info = DecodeFrameworkRecord(value);
        if (!info.ok()) return Status::Error("registry entry '" + key + "': " + info.error());
        registry.frameworks[id] = std::move(*info);
      } else if (prefix == kRemovedFrameworks) {
        registry.removed_frameworks.insert(id);
        // The value is when it was removed; entries without one count as new.
        char* end = nullptr;
        double removed = std::strtod(value.c_str(), &end);
        removed_times[id] = end != value.c_str() ? removed : now;
      } else if (prefix == kWeights) {
        registry.weights[id] = std::strtod(value.c_str(), nullptr);
      } else {
        auto quota = Resources::Parse(value);
        if (!quota.ok()) return Status::Error("registry entry '" + key + "': " + quota.error());
        registry.quotas[id] = std::move(*quota);
      }
    }
  }
  if (Status s = Prune(registry, removed_times, now); !s.ok()) return s;
  return registry;
}

Status Registrar::Prune(Registry& registry, const std::map<FrameworkId, double>& removed_times,
                        double now) {
  // Oldest first; an entry goes when it is too old or beyond the count.
  auto prune = [&](std::vector<std::pair<double, std::string>> entries, size_t keep,
                   const char* prefix, auto forget) -> Status {
    std::sort(entries.begin(), entries.end(), std::greater<>());  // newest first
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& [time, id] = entries[i];
      if (i < keep && now - time <= retention_.max_age_seconds) continue;
      if (Status s = Remove(prefix + id); !s.ok()) {
        return Status::Error("cannot prune registry entry '" + std::string(prefix) + id +
                             "': " + s.message());
      }
      forget(id);
    }
    return Status::Ok();
  };
  std::vector<std::pair<double, std::string>> frameworks, agents;
  for (const auto& [id, time] : removed_times) frameworks.emplace_back(time, id);
  for (const auto& [id, record] : registry.agents) {
    if (record.state != AgentRecord::State::kAdmitted) agents.emplace_back(record.changed_time, id);
  }
  if (Status s = prune(frameworks, retention_.max_removed_frameworks, kRemovedFrameworks,
                       [&](const std::string& id) { registry.removed_frameworks.erase(id); });
      !s.ok()) {
    return s;
  }
  return prune(agents, retention_.max_departed_agents, kAgents,
               [&](const std::string& id) { registry.agents.erase(id); });
}

Status Registrar::Put(const std::string& key, const std::string& value) {
  auto it = versions_.find(key);
  int64_t expected = it == versions_.end() ? kNewKey : it->second;
  Result<int64_t> version = storage_->Set(key, value, expected);
  if (!version.ok()) {
    // A write whose answer was lost (a ZooKeeper connection blip) may have
    // landed: if what is stored is exactly what we wrote, it did.
    auto stored = storage_->Get(key);
    if (stored.ok() && stored->has_value() && (*stored)->value == value &&
        (*stored)->version == expected + 1) {
      versions_[key] = (*stored)->version;
      return Status::Ok();
    }
    return version.status();
  }
  versions_[key] = *version;
  return Status::Ok();
}

Status Registrar::Remove(const std::string& key) {
  auto it = versions_.find(key);
  if (it == versions_.end()) return Status::Ok();
  Status status = storage_->Delete(key, it->second);
  if (status.ok()) versions_.erase(it);
  return status;
}

Status Registrar::PutAgent(const AgentRecord& record) {
  return Put(kAgents + record.info.id, EncodeRecord(record));
}

Status Registrar::PutFramework(const FrameworkInfo& info) {
  return Put(kFrameworks + info.id, EncodeRecord(info));
}

Status Registrar::RemoveFramework(const FrameworkId& id) {
  if (Status s = Put(kRemovedFrameworks + id, std::to_string(WallSeconds())); !s.ok()) return s;
  return Remove(kFrameworks + id);
}

Status Registrar::SetWeight(const std::string& role, double weight) {
  return Put(kWeights + role, std::to_string(weight));
}

Status Registrar::SetQuota(const std::string& role, const Resources& quota) {
  return Put(kQuotas + role, quota.ToString());
}

}  // namespace stoa::master

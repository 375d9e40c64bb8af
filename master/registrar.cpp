#include "master/registrar.hpp"

#include "protocols/codec.hpp"

namespace stoa::master {

namespace {
constexpr const char* kAgents = "agents/";
constexpr const char* kFrameworks = "frameworks/";
constexpr const char* kRemovedFrameworks = "removed_frameworks/";
constexpr const char* kWeights = "weights/";
constexpr const char* kQuotas = "quotas/";
}  // namespace

Registrar::Registrar(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}

Result<Registry> Registrar::Recover() {
  Registry registry;
  versions_.clear();
  for (const char* prefix : {kAgents, kFrameworks, kRemovedFrameworks, kWeights, kQuotas}) {
    auto keys = storage_->List(prefix);
    if (!keys.ok()) return Status::Error("cannot read the registry: " + keys.error());
    for (const auto& key : *keys) {
      auto stored = storage_->Get(key);
      if (!stored.ok()) return Status::Error("cannot read the registry: " + stored.error());
      if (!stored->has_value()) continue;  // removed while we listed
      versions_[key] = (*stored)->version;
      const std::string& value = (*stored)->value;
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
      } else if (prefix == kWeights) {
        registry.weights[id] = std::strtod(value.c_str(), nullptr);
      } else {
        auto quota = Resources::Parse(value);
        if (!quota.ok()) return Status::Error("registry entry '" + key + "': " + quota.error());
        registry.quotas[id] = std::move(*quota);
      }
    }
  }
  return registry;
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
  if (Status s = Put(kRemovedFrameworks + id, ""); !s.ok()) return s;
  return Remove(kFrameworks + id);
}

Status Registrar::SetWeight(const std::string& role, double weight) {
  return Put(kWeights + role, std::to_string(weight));
}

Status Registrar::SetQuota(const std::string& role, const Resources& quota) {
  return Put(kQuotas + role, quota.ToString());
}

}  // namespace stoa::master

#include "frameworks/sdk/state_store.hpp"

namespace stoa::sdk {

Result<int64_t> StateStore::VersionOf(const std::string& key) {
  if (auto it = versions_.find(key); it != versions_.end()) return it->second;
  auto current = storage_->Get(key);
  if (!current.ok()) return current.status();
  int64_t version = current->has_value() ? (*current)->version : kNewKey;
  versions_[key] = version;
  return version;
}

Status StateStore::Put(const std::string& key, const std::string& value) {
  auto version = VersionOf(key);
  if (!version.ok()) return version.status();
  auto written = storage_->Set(key, value, *version);
  if (!written.ok()) {
    versions_.erase(key);  // read it again next time
    return written.status();
  }
  versions_[key] = *written;
  return Status::Ok();
}

Status StateStore::Remove(const std::string& key) {
  auto version = VersionOf(key);
  if (!version.ok()) return version.status();
  if (*version == kNewKey) return Status::Ok();
  Status s = storage_->Delete(key, *version);
  versions_.erase(key);
  return s;
}

Result<std::optional<std::string>> StateStore::Get(const std::string& key) {
  auto stored = storage_->Get(key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    versions_[key] = kNewKey;
    return std::optional<std::string>();
  }
  versions_[key] = (*stored)->version;
  return std::optional<std::string>((*stored)->value);
}

Result<std::map<std::string, std::string>> StateStore::Scan(const std::string& prefix) {
  auto stored = storage_->Scan(prefix);
  if (!stored.ok()) return stored.status();
  std::map<std::string, std::string> values;
  for (auto& [key, record] : *stored) {
    versions_[key] = record.version;
    values.emplace(key, std::move(record.value));
  }
  return values;
}

}  // namespace stoa::sdk

#include "frameworks/sdk/leader_storage.hpp"

namespace stoa::sdk {

void LeaderStorage::Open(std::unique_ptr<Storage> storage) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!fenced_) storage_ = std::move(storage);
}

void LeaderStorage::Fence() {
  std::lock_guard<std::mutex> lock(mutex_);
  fenced_ = true;
  storage_.reset();
}

Storage* LeaderStorage::Usable() { return fenced_ ? nullptr : storage_.get(); }

Status LeaderStorage::Refused() const {
  return Status::Error(fenced_ ? "this instance no longer leads: it writes nothing"
                               : "this instance does not lead (yet): it writes nothing");
}

Result<std::optional<StoredValue>> LeaderStorage::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  Storage* storage = Usable();
  if (storage == nullptr) return Refused();
  return storage->Get(key);
}

Result<int64_t> LeaderStorage::Set(const std::string& key, const std::string& value,
                                   int64_t expected_version) {
  std::lock_guard<std::mutex> lock(mutex_);
  Storage* storage = Usable();
  if (storage == nullptr) return Refused();
  return storage->Set(key, value, expected_version);
}

Status LeaderStorage::Delete(const std::string& key, int64_t expected_version) {
  std::lock_guard<std::mutex> lock(mutex_);
  Storage* storage = Usable();
  if (storage == nullptr) return Refused();
  return storage->Delete(key, expected_version);
}

Result<std::map<std::string, StoredValue>> LeaderStorage::Scan(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  Storage* storage = Usable();
  if (storage == nullptr) return Refused();
  return storage->Scan(prefix);
}

}  // namespace stoa::sdk

// The storage of one framework instance among several on ZooKeeper: it
// refuses every call until this instance has been elected and opens the real
// storage, and again once it is fenced (it may no longer lead), so that a
// standby or a deposed leader never writes.
#pragma once

#include <memory>
#include <mutex>

#include "common/storage.hpp"

namespace stoa::sdk {

class LeaderStorage : public Storage {
 public:
  // Starts using `storage`, unless already fenced.
  void Open(std::unique_ptr<Storage> storage);
  // Refuses every call from now on (a call under way finishes first).
  void Fence();

  Result<std::optional<StoredValue>> Get(const std::string& key) override;
  Result<int64_t> Set(const std::string& key, const std::string& value,
                      int64_t expected_version) override;
  Status Delete(const std::string& key, int64_t expected_version) override;
  Result<std::map<std::string, StoredValue>> Scan(const std::string& prefix) override;

 private:
  Storage* Usable();  // REQUIRES: mutex_ held; null when refused
  Status Refused() const;

  std::mutex mutex_;
  std::unique_ptr<Storage> storage_;
  bool fenced_ = false;
};

}  // namespace stoa::sdk

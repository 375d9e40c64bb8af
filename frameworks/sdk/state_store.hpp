// A framework's records over Storage, for writers that own their keys: it
// remembers the version of each key it read or wrote, so a write names the
// version it expects without reading first, and a write by anyone else (a
// second leader) in between is refused rather than overwritten.
// Not thread-safe: its one user holds a lock around every call.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/storage.hpp"

namespace stoa::sdk {

class StateStore {
 public:
  explicit StateStore(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}

  Status Put(const std::string& key, const std::string& value);
  // Removing an absent key is OK.
  Status Remove(const std::string& key);
  Result<std::optional<std::string>> Get(const std::string& key);
  // Every key under `prefix` with its value (and their versions remembered).
  Result<std::map<std::string, std::string>> Scan(const std::string& prefix);

 private:
  // The stored version of `key`, read when not known yet.
  Result<int64_t> VersionOf(const std::string& key);

  std::unique_ptr<Storage> storage_;
  std::map<std::string, int64_t> versions_;
};

}  // namespace stoa::sdk

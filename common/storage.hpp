// Storage: a small versioned key-value store for the registry and for
// frameworks' own state. Two backends: LevelDB (embedded, one master) and
// ZooKeeper (HA: one znode per key, since a znode holds at most 1 MB).
//
// Every value has a version. A write names the version it expects; a write
// with a stale version is refused, so two writers (two masters) can never both
// overwrite the same state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/status.hpp"

namespace stoa {

class ZooKeeper;

struct StoredValue {
  std::string value;
  int64_t version = 0;  // >= 1 for a stored value
};

// Expected version for a key that must not exist yet.
inline constexpr int64_t kNewKey = 0;

class Storage {
 public:
  virtual ~Storage() = default;

  // The value of `key`, or nullopt when absent.
  virtual Result<std::optional<StoredValue>> Get(const std::string& key) = 0;
  // Writes `value` if `key`'s version is `expected_version` (kNewKey: absent).
  // Returns the new version. A stale version gives an error that says so.
  virtual Result<int64_t> Set(const std::string& key, const std::string& value,
                              int64_t expected_version) = 0;
  // Deletes `key` if its version is `expected_version`. Deleting an absent key is OK.
  virtual Status Delete(const std::string& key, int64_t expected_version) = 0;
  // Every key that starts with `prefix`, with its value. One call reads them
  // all: over ZooKeeper the reads are pipelined, so a registry of N keys costs
  // about N / ZooKeeper::kReadWindow round trips. A key removed meanwhile is
  // left out; any read that fails fails the whole scan.
  virtual Result<std::map<std::string, StoredValue>> Scan(const std::string& prefix) = 0;
};

// Keys are paths of printable segments separated by '/', e.g. "agents/agent-1".
Status ValidateStorageKey(const std::string& key);

// LevelDB under `directory` (created if missing).
Result<std::unique_ptr<Storage>> OpenLevelDbStorage(const std::string& directory);
// Keys as znodes under `root` (created if missing) in `zookeeper`'s session.
// REQUIRES: `zookeeper` outlives the storage.
Result<std::unique_ptr<Storage>> OpenZooKeeperStorage(ZooKeeper* zookeeper,
                                                      const std::string& root);

}  // namespace stoa

#include "common/storage.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/zookeeper.hpp"

namespace stoa {

Status ValidateStorageKey(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.back() == '/' ||
      key.find("//") != std::string::npos) {
    return Status::Error("storage key '" + key + "' must be segments separated by single '/'");
  }
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return Status::Error("storage key '" + key + "' has a character outside printable ASCII");
    }
  }
  return Status::Ok();
}

namespace {

std::string StaleVersion(const std::string& key, int64_t expected, int64_t actual) {
  return "refused to write '" + key + "': expected version " + std::to_string(expected) +
         " but it is at " + std::to_string(actual) +
         " (another writer changed it: is another master leading?)";
}

// Values are stored as 8 bytes of version followed by the value.
class LevelDbStorage : public Storage {
 public:
  explicit LevelDbStorage(leveldb::DB* db) : db_(db) {}

  Result<std::optional<StoredValue>> Get(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return GetLocked(key);
  }

  Result<int64_t> Set(const std::string& key, const std::string& value,
                      int64_t expected_version) override {
    if (Status s = ValidateStorageKey(key); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(mutex_);
    auto current = GetLocked(key);
    if (!current.ok()) return current.status();
    int64_t actual = current->has_value() ? (*current)->version : kNewKey;
    if (actual != expected_version)
      return Status::Error(StaleVersion(key, expected_version, actual));
    int64_t version = actual + 1;
    std::string stored(sizeof(version), '\0');
    std::memcpy(stored.data(), &version, sizeof(version));
    stored += value;
    leveldb::WriteOptions options;
    options.sync = true;  // a registry change is durable before it is acknowledged
    leveldb::Status s = db_->Put(options, key, stored);
    if (!s.ok()) return Status::Error("LevelDB write of '" + key + "' failed: " + s.ToString());
    return version;
  }

  Status Delete(const std::string& key, int64_t expected_version) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto current = GetLocked(key);
    if (!current.ok()) return current.status();
    if (!current->has_value()) return Status::Ok();
    if ((*current)->version != expected_version) {
      return Status::Error(StaleVersion(key, expected_version, (*current)->version));
    }
    leveldb::WriteOptions options;
    options.sync = true;
    leveldb::Status s = db_->Delete(options, key);
    return s.ok() ? Status::Ok()
                  : Status::Error("LevelDB delete of '" + key + "' failed: " + s.ToString());
  }

  Result<std::vector<std::string>> List(const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> keys;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    if (!it->status().ok()) return Status::Error("LevelDB scan failed: " + it->status().ToString());
    return keys;
  }

 private:
  Result<std::optional<StoredValue>> GetLocked(const std::string& key) {
    std::string stored;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &stored);
    if (s.IsNotFound()) return std::optional<StoredValue>();
    if (!s.ok()) return Status::Error("LevelDB read of '" + key + "' failed: " + s.ToString());
    if (stored.size() < sizeof(int64_t)) {
      return Status::Error("LevelDB value of '" + key + "' is corrupt (shorter than its version)");
    }
    StoredValue value;
    std::memcpy(&value.version, stored.data(), sizeof(int64_t));
    value.value = stored.substr(sizeof(int64_t));
    return std::optional<StoredValue>(std::move(value));
  }

  std::mutex mutex_;
  std::unique_ptr<leveldb::DB> db_;
};

// One znode per key, at root/<key>; our version is the znode's version + 1.
class ZooKeeperStorage : public Storage {
 public:
  ZooKeeperStorage(ZooKeeper* zookeeper, std::string root)
      : zookeeper_(zookeeper), root_(std::move(root)) {}

  Result<std::optional<StoredValue>> Get(const std::string& key) override {
    auto got = zookeeper_->Get(Path(key));
    if (!got.ok()) return got.status();
    if (!got->has_value()) return std::optional<StoredValue>();
    return std::optional<StoredValue>(StoredValue{(*got)->first, (*got)->second + 1});
  }

  Result<int64_t> Set(const std::string& key, const std::string& value,
                      int64_t expected_version) override {
    if (Status s = ValidateStorageKey(key); !s.ok()) return s;
    ZkCode code;
    if (expected_version == kNewKey) {
      auto parent = Path(key).substr(0, Path(key).rfind('/'));
      if (Status s = zookeeper_->CreatePath(parent); !s.ok()) return s;
      auto created = zookeeper_->Create(Path(key), value, false, false, &code);
      if (code == ZkCode::kNodeExists) {
        return Status::Error("refused to write '" + key +
                             "': it already exists (another writer created it: is another "
                             "master leading?)");
      }
      if (!created.ok()) return created.status();
      return int64_t{1};
    }
    Status s = zookeeper_->Set(Path(key), value, static_cast<int32_t>(expected_version - 1), &code);
    if (code == ZkCode::kBadVersion || code == ZkCode::kNoNode) {
      auto current = Get(key);
      int64_t actual = current.ok() && current->has_value() ? (*current)->version : kNewKey;
      return Status::Error(StaleVersion(key, expected_version, actual));
    }
    if (!s.ok()) return s;
    return expected_version + 1;
  }

  Status Delete(const std::string& key, int64_t expected_version) override {
    ZkCode code;
    Status s = zookeeper_->Delete(Path(key), static_cast<int32_t>(expected_version - 1), &code);
    if (code == ZkCode::kNoNode) return Status::Ok();
    if (code == ZkCode::kBadVersion) {
      return Status::Error("refused to delete '" + key + "': its version is no longer " +
                           std::to_string(expected_version));
    }
    return s;
  }

  Result<std::vector<std::string>> List(const std::string& prefix) override {
    // Keys are paths: list the deepest directory the prefix names, recursively.
    std::vector<std::string> keys;
    std::string directory =
        prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
    if (Status s = Walk(directory, &keys); !s.ok()) return s;
    std::vector<std::string> matching;
    for (auto& key : keys) {
      if (key.rfind(prefix, 0) == 0) matching.push_back(std::move(key));
    }
    std::sort(matching.begin(), matching.end());
    return matching;
  }

 private:
  std::string Path(const std::string& key) const { return root_ + "/" + key; }

  Status Walk(const std::string& directory, std::vector<std::string>* keys) {
    std::string path = directory.empty() ? root_ : Path(directory);
    auto children = zookeeper_->Children(path);
    if (!children.ok()) {
      auto exists = zookeeper_->Get(path);
      if (exists.ok() && !exists->has_value()) return Status::Ok();  // nothing stored yet
      return children.status();
    }
    for (const auto& child : *children) {
      std::string key = directory.empty() ? child : directory + "/" + child;
      auto grandchildren = zookeeper_->Children(Path(key));
      if (grandchildren.ok() && !grandchildren->empty()) {
        if (Status s = Walk(key, keys); !s.ok()) return s;
      } else {
        keys->push_back(key);
      }
    }
    return Status::Ok();
  }

  ZooKeeper* zookeeper_;
  std::string root_;
};

}  // namespace

Result<std::unique_ptr<Storage>> OpenLevelDbStorage(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return Status::Error("cannot create '" + directory + "': " + error.message());
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, directory, &db);
  if (!s.ok()) {
    return Status::Error("cannot open LevelDB in '" + directory + "': " + s.ToString() +
                         " (is another process using this work directory?)");
  }
  return std::unique_ptr<Storage>(new LevelDbStorage(db));
}

Result<std::unique_ptr<Storage>> OpenZooKeeperStorage(ZooKeeper* zookeeper,
                                                      const std::string& root) {
  if (Status s = zookeeper->CreatePath(root); !s.ok()) return s;
  return std::unique_ptr<Storage>(new ZooKeeperStorage(zookeeper, root));
}

}  // namespace stoa

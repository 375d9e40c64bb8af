#include "common/storage.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <vector>

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

  Result<std::map<std::string, StoredValue>> Scan(const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, StoredValue> entries;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string key = it->key().ToString();
      auto value = Decode(key, std::string_view(it->value().data(), it->value().size()));
      if (!value.ok()) return value.status();
      entries.emplace(std::move(key), std::move(*value));
    }
    if (!it->status().ok()) return Status::Error("LevelDB scan failed: " + it->status().ToString());
    return entries;
  }

 private:
  static Result<StoredValue> Decode(const std::string& key, std::string_view stored) {
    if (stored.size() < sizeof(int64_t)) {
      return Status::Error("LevelDB value of '" + key + "' is corrupt (shorter than its version)");
    }
    StoredValue value;
    std::memcpy(&value.version, stored.data(), sizeof(int64_t));
    value.value = std::string(stored.substr(sizeof(int64_t)));
    return value;
  }

  Result<std::optional<StoredValue>> GetLocked(const std::string& key) {
    std::string stored;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &stored);
    if (s.IsNotFound()) return std::optional<StoredValue>();
    if (!s.ok()) return Status::Error("LevelDB read of '" + key + "' failed: " + s.ToString());
    auto value = Decode(key, stored);
    if (!value.ok()) return value.status();
    return std::optional<StoredValue>(std::move(*value));
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
      auto created = zookeeper_->Create(Path(key), value, false, false, &code);
      if (code == ZkCode::kNoNode) {  // the first key of its directory: make the directory
        auto parent = Path(key).substr(0, Path(key).rfind('/'));
        if (Status s = zookeeper_->CreatePath(parent); !s.ok()) return s;
        created = zookeeper_->Create(Path(key), value, false, false, &code);
      }
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

  // Keys are paths: from the deepest directory the prefix names, each level
  // is listed and read in one pipelined batch. A znode with children is a
  // directory, one without is a key.
  Result<std::map<std::string, StoredValue>> Scan(const std::string& prefix) override {
    size_t slash = prefix.rfind('/');
    std::vector<std::string> directories{slash == std::string::npos ? "" : prefix.substr(0, slash)};
    std::map<std::string, StoredValue> entries;
    bool top = true;
    while (!directories.empty()) {
      std::vector<std::string> paths;
      for (const auto& directory : directories) paths.push_back(DirectoryPath(directory));
      auto listed = zookeeper_->ChildrenMany(paths);
      if (!listed.ok()) return listed.status();
      std::vector<std::string> keys;
      for (size_t i = 0; i < directories.size(); ++i) {
        if (!(*listed)[i].has_value()) continue;  // removed meanwhile, or nothing stored yet
        for (const auto& child : *(*listed)[i]) {
          std::string key = directories[i].empty() ? child : directories[i] + "/" + child;
          // Below the top level every key is under the prefix.
          if (!top || key.starts_with(prefix)) keys.push_back(std::move(key));
        }
      }
      paths.clear();
      for (const auto& key : keys) paths.push_back(Path(key));
      auto nodes = zookeeper_->GetMany(paths);
      if (!nodes.ok()) return nodes.status();
      directories.clear();
      for (size_t i = 0; i < keys.size(); ++i) {
        auto& node = (*nodes)[i];
        if (!node.has_value()) continue;  // removed meanwhile
        if (node->children > 0) {
          directories.push_back(std::move(keys[i]));
        } else {
          entries.emplace(std::move(keys[i]),
                          StoredValue{std::move(node->data), node->version + 1});
        }
      }
      top = false;
    }
    return entries;
  }

 private:
  std::string Path(const std::string& key) const { return root_ + "/" + key; }
  std::string DirectoryPath(const std::string& directory) const {
    return directory.empty() ? root_ : Path(directory);
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

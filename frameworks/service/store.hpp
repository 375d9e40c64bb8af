// The service framework's state in Storage (LevelDB under the work directory,
// or ZooKeeper): its framework id, its apps with every version, the records of
// its tasks and its deployments in progress. Keys:
//   framework/id                  the framework id to fail over to
//   apps/<shop_web>               the current definition of /shop/web
//   versions/<shop_web>/<version> each definition it had (deleted with the app)
//   tasks/<task id>               a task record
//   deployments/<id>              a deployment in progress
//   groups/<shop_web>             a group created through the group API
// No key is a prefix directory of another, as ZooKeeper storage requires.
// Not thread-safe: its one user holds a lock around every call.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/storage.hpp"
#include "frameworks/sdk/state_store.hpp"
#include "frameworks/service/app.hpp"
#include "frameworks/service/records.hpp"

namespace stoa::service {

class ServiceStore {
 public:
  explicit ServiceStore(std::unique_ptr<Storage> storage);

  struct Contents {
    FrameworkId framework_id;
    std::vector<AppDefinition> apps;
    std::vector<TaskRecord> tasks;
    std::vector<Deployment> deployments;
    std::vector<GroupRecord> groups;
    // Records that could not be read (skipped, with why), for the log.
    std::vector<std::string> skipped;
    // The ids of apps whose records could not be read (where the id could):
    // their tasks are left alone rather than killed as nobody's.
    std::set<PathId> unreadable_apps;
  };
  // Reads everything; an error only when the storage itself fails.
  Result<Contents> Load();

  Status PutFrameworkId(const FrameworkId& id);
  // Writes the app as current and as one of its versions; beyond
  // kMaxAppVersions the oldest go (Marathon's --zk_max_versions).
  static constexpr size_t kMaxAppVersions = 50;
  Status PutApp(const AppDefinition& app);
  // Removes the app and all its versions.
  Status DeleteApp(const PathId& id);
  // The versions of an app, oldest first.
  Result<std::vector<std::string>> AppVersions(const PathId& id);
  Result<std::optional<AppDefinition>> AppAtVersion(const PathId& id, const std::string& version);

  Status PutTask(const TaskRecord& task);
  Status DeleteTask(const TaskId& id);
  Status PutDeployment(const Deployment& deployment);
  Status DeleteDeployment(const std::string& id);
  // REQUIRES: the group is not the root (which always exists and has no record).
  Status PutGroup(const GroupRecord& group);
  Status DeleteGroup(const PathId& id);

 private:
  Status Put(const std::string& key, const std::string& value);
  Status Remove(const std::string& key);

  sdk::StateStore state_;
  // The versions kept of each app written since this store opened (read once each).
  std::map<PathId, std::set<std::string>> app_versions_;
};

}  // namespace stoa::service

// The service framework's state in real storage (LevelDB and ZooKeeper):
// everything written comes back on reopening, deletes stay deleted, and a
// corrupt record is skipped with a reason instead of failing the whole load.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/zookeeper.hpp"
#include "frameworks/service/app_json.hpp"
#include "frameworks/service/store.hpp"
#include "tests/test_util.hpp"

namespace stoa::service {
namespace {

AppDefinition App(const std::string& id, const std::string& version) {
  ParsedApp parsed = ParseApp(nlohmann::json{{"id", id}, {"cmd", "sleep 100"}, {"instances", 2}});
  EXPECT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  AppDefinition app = *parsed.app;
  app.version = version;
  app.version_info = {version, version};
  return app;
}

TaskRecord Task(const std::string& id, const std::string& app) {
  TaskRecord task;
  task.id = id;
  task.app_id = PathId::Parse(app);
  task.version = task.config_version = "2020-01-01T00:00:00.000Z";
  task.agent_id = "agent-1";
  task.host = "node1";
  task.attributes = {{"rack", "r1"}};
  task.ports = {31000, 31001};
  task.state = TaskState::kRunning;
  task.staged_at = 1000.5;
  task.started_at = 1001.25;
  return task;
}

// Writes a set of records, changes and deletes some; returns what must be left.
void WriteAndCheck(ServiceStore& store) {
  ASSERT_TRUE(store.PutFrameworkId("framework-1").ok());
  ASSERT_TRUE(store.PutApp(App("/shop/web", "2020-01-01T00:00:00.000Z")).ok());
  ASSERT_TRUE(store.PutApp(App("/shop/web", "2020-01-02T00:00:00.000Z")).ok());  // a new version
  ASSERT_TRUE(store.PutApp(App("/gone", "2020-01-01T00:00:00.000Z")).ok());
  ASSERT_TRUE(store.DeleteApp(PathId::Parse("/gone")).ok());
  TaskRecord task = Task("shop_web.instance-1", "/shop/web");
  ASSERT_TRUE(store.PutTask(task).ok());
  task.kill_requested = true;
  ASSERT_TRUE(store.PutTask(task).ok());  // rewritten: the stored version is tracked
  ASSERT_TRUE(store.PutTask(Task("shop_web.instance-2", "/shop/web")).ok());
  ASSERT_TRUE(store.DeleteTask("shop_web.instance-2").ok());
  ASSERT_TRUE(store.DeleteTask("never-written").ok());
  Deployment deployment{"d1",
                        "2020-01-02T00:00:00.000Z",
                        PathId::Parse("/shop/web"),
                        {"StartApplication", "ScaleApplication"},
                        5};
  ASSERT_TRUE(store.PutDeployment(deployment).ok());
  ASSERT_TRUE(store.PutDeployment({"d2", "v", PathId::Parse("/x"), {"StopApplication"}, 6}).ok());
  ASSERT_TRUE(store.DeleteDeployment("d2").ok());
  // A deployment of several apps keeps each app's steps.
  Deployment several{
      "d3",
      "v3",
      PathId::Parse("/a"),
      {"StartApplication", "ScaleApplication"},
      7,
      {{PathId::Parse("/b"), {"RestartApplication"}}, {PathId::Parse("/c"), {"StopApplication"}}}};
  // What a revert goes back to, the failures counted for the automatic
  // rollback and the deployment reverted are kept too.
  several.original_versions = {{PathId::Parse("/b"), "v1"}, {PathId::Parse("/c"), "v2"}};
  several.failures = 2;
  several.reverts = "d0";
  ASSERT_TRUE(store.PutDeployment(several).ok());
  // Explicit groups: written, rewritten, deleted; the root has no record.
  ASSERT_TRUE(store.PutGroup({PathId::Parse("/shop"), {}, "2020-01-01T00:00:00.000Z"}).ok());
  ASSERT_TRUE(store
                  .PutGroup({PathId::Parse("/shop"),
                             {PathId::Parse("/db"), PathId::Parse("/shop/cache")},
                             "2020-01-03T00:00:00.000Z"})
                  .ok());
  ASSERT_TRUE(store.PutGroup({PathId::Parse("/shop/empty"), {}, "v"}).ok());
  ASSERT_TRUE(store.PutGroup({PathId::Parse("/old"), {}, "v"}).ok());
  ASSERT_TRUE(store.DeleteGroup(PathId::Parse("/old")).ok());
  EXPECT_FALSE(store.PutGroup({PathId(), {}, "v"}).ok());

  auto versions = store.AppVersions(PathId::Parse("/shop/web"));
  ASSERT_TRUE(versions.ok()) << versions.error();
  EXPECT_EQ(*versions,
            (std::vector<std::string>{"2020-01-01T00:00:00.000Z", "2020-01-02T00:00:00.000Z"}));
  auto old = store.AppAtVersion(PathId::Parse("/shop/web"), "2020-01-01T00:00:00.000Z");
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->version, "2020-01-01T00:00:00.000Z");
  EXPECT_TRUE(store.AppVersions(PathId::Parse("/gone"))->empty());
}

void CheckContents(ServiceStore& store) {
  auto contents = store.Load();
  ASSERT_TRUE(contents.ok()) << contents.error();
  EXPECT_EQ(contents->framework_id, "framework-1");
  ASSERT_EQ(contents->apps.size(), 1u);
  EXPECT_EQ(contents->apps[0], App("/shop/web", "2020-01-02T00:00:00.000Z"));
  ASSERT_EQ(contents->tasks.size(), 1u);
  TaskRecord expected = Task("shop_web.instance-1", "/shop/web");
  expected.kill_requested = true;
  EXPECT_EQ(contents->tasks[0], expected);
  ASSERT_EQ(contents->deployments.size(), 2u);
  EXPECT_EQ(contents->deployments[0].id, "d1");
  EXPECT_EQ(contents->deployments[0].steps.size(), 2u);
  EXPECT_TRUE(contents->deployments[0].more_apps.empty());
  Deployment several{
      "d3",
      "v3",
      PathId::Parse("/a"),
      {"StartApplication", "ScaleApplication"},
      7,
      {{PathId::Parse("/b"), {"RestartApplication"}}, {PathId::Parse("/c"), {"StopApplication"}}},
      {{PathId::Parse("/b"), "v1"}, {PathId::Parse("/c"), "v2"}},
      2,
      "d0"};
  EXPECT_EQ(contents->deployments[1], several);
  EXPECT_EQ(DeploymentApps(several),
            (std::vector<PathId>{PathId::Parse("/a"), PathId::Parse("/b"), PathId::Parse("/c")}));
  ASSERT_EQ(contents->groups.size(), 2u);
  EXPECT_EQ(contents->groups[0], (GroupRecord{PathId::Parse("/shop"),
                                              {PathId::Parse("/db"), PathId::Parse("/shop/cache")},
                                              "2020-01-03T00:00:00.000Z"}));
  EXPECT_EQ(contents->groups[1], (GroupRecord{PathId::Parse("/shop/empty"), {}, "v"}));
  EXPECT_TRUE(contents->skipped.empty());
}

TEST(ServiceStore, LevelDbKeepsEverythingAcrossReopening) {
  stoa::testing::TempDir dir;
  {
    auto storage = OpenLevelDbStorage(dir.path() + "/db");
    ASSERT_TRUE(storage.ok()) << storage.error();
    ServiceStore store(std::move(*storage));
    WriteAndCheck(store);
  }
  auto storage = OpenLevelDbStorage(dir.path() + "/db");
  ASSERT_TRUE(storage.ok()) << storage.error();
  ServiceStore store(std::move(*storage));
  CheckContents(store);
  // A reopened store writes over what it loaded (it learned the versions).
  TaskRecord task = Task("shop_web.instance-1", "/shop/web");
  EXPECT_TRUE(store.PutTask(task).ok());
  EXPECT_TRUE(store.PutFrameworkId("framework-1").ok());
}

// As Marathon's --zk_max_versions: the newest 50 versions of an app are kept,
// also across a reopening (the store learns what is there once).
TEST(ServiceStore, KeepsTheNewestVersionsOfAnApp) {
  stoa::testing::TempDir dir;
  auto version = [](int i) {
    char text[32];
    std::snprintf(text, sizeof(text), "2020-01-01T00:00:%02d.000Z", i);
    return std::string(text);
  };
  PathId id = PathId::Parse("/web");
  {
    auto storage = OpenLevelDbStorage(dir.path() + "/state");
    ASSERT_TRUE(storage.ok());
    ServiceStore store(std::move(*storage));
    for (int i = 0; i < 45; ++i) ASSERT_TRUE(store.PutApp(App("/web", version(i))).ok());
  }
  auto storage = OpenLevelDbStorage(dir.path() + "/state");
  ASSERT_TRUE(storage.ok());
  ServiceStore store(std::move(*storage));
  for (int i = 45; i < 55; ++i) ASSERT_TRUE(store.PutApp(App("/web", version(i))).ok());
  auto kept = store.AppVersions(id);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), ServiceStore::kMaxAppVersions);
  EXPECT_EQ(kept->front(), version(5));
  EXPECT_EQ(kept->back(), version(54));
  EXPECT_FALSE(store.AppAtVersion(id, version(4))->has_value());
  EXPECT_EQ((*store.AppAtVersion(id, version(54)))->version, version(54));
}

TEST(ServiceStore, ZooKeeperKeepsEverythingForTheNextSession) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  {
    auto zookeeper = ZooKeeper::Connect(server.servers(), 10);
    ASSERT_TRUE(zookeeper.ok()) << zookeeper.error();
    auto storage = OpenZooKeeperStorage(zookeeper->get(), "/stoa-service/state");
    ASSERT_TRUE(storage.ok()) << storage.error();
    ServiceStore store(std::move(*storage));
    WriteAndCheck(store);
  }
  auto zookeeper = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(zookeeper.ok()) << zookeeper.error();
  auto storage = OpenZooKeeperStorage(zookeeper->get(), "/stoa-service/state");
  ASSERT_TRUE(storage.ok()) << storage.error();
  ServiceStore store(std::move(*storage));
  CheckContents(store);
}

TEST(ServiceStore, SkipsACorruptRecordWithTheReason) {
  stoa::testing::TempDir dir;
  auto storage = OpenLevelDbStorage(dir.path() + "/db");
  ASSERT_TRUE(storage.ok());
  ASSERT_TRUE((*storage)->Set("tasks/bad", "{not json", kNewKey).ok());
  ASSERT_TRUE((*storage)->Set("tasks/half", R"({"id": "half"})", kNewKey).ok());
  ASSERT_TRUE(
      (*storage)->Set("apps/bad", R"({"id": "/web", "cmd": "x", "cpus": -1})", kNewKey).ok());
  ServiceStore store(std::move(*storage));
  ASSERT_TRUE(store.PutTask(Task("a.instance-1", "/a")).ok());
  auto contents = store.Load();
  ASSERT_TRUE(contents.ok()) << contents.error();
  EXPECT_EQ(contents->tasks.size(), 1u);
  EXPECT_TRUE(contents->apps.empty());
  ASSERT_EQ(contents->skipped.size(), 3u);
  EXPECT_NE(contents->skipped[0].find("apps/bad"), std::string::npos) << contents->skipped[0];
  EXPECT_EQ(contents->unreadable_apps, (std::set<PathId>{PathId::Parse("/web")}));
}

}  // namespace
}  // namespace stoa::service

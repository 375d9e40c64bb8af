// Both Storage backends against the same contract: LevelDB in a temporary
// directory, ZooKeeper against a real server.
#include "common/storage.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "common/zookeeper.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

std::vector<std::string> Keys(const Result<std::map<std::string, StoredValue>>& entries) {
  std::vector<std::string> keys;
  if (!entries.ok()) return {"error: " + entries.error()};
  for (const auto& [key, value] : *entries) keys.push_back(key);
  return keys;
}

void CheckContract(Storage& storage) {
  EXPECT_FALSE(storage.Get("agents/a1")->has_value());
  Result<int64_t> v1 = storage.Set("agents/a1", "first", kNewKey);
  ASSERT_TRUE(v1.ok()) << v1.error();
  EXPECT_EQ(*v1, 1);
  auto got = storage.Get("agents/a1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "first");
  EXPECT_EQ((*got)->version, 1);

  // A second "create" and a stale update are both refused.
  EXPECT_FALSE(storage.Set("agents/a1", "again", kNewKey).ok());
  Result<int64_t> v2 = storage.Set("agents/a1", "second", 1);
  ASSERT_TRUE(v2.ok()) << v2.error();
  EXPECT_EQ(*v2, 2);
  Result<int64_t> stale = storage.Set("agents/a1", "from an old master", 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().find("version"), std::string::npos) << stale.error();
  EXPECT_EQ((*storage.Get("agents/a1"))->value, "second");

  // Binary values survive.
  std::string binary("\0\x01\xff zero", 8);
  ASSERT_TRUE(storage.Set("frameworks/f1", binary, kNewKey).ok());
  EXPECT_EQ((*storage.Get("frameworks/f1"))->value, binary);
  ASSERT_TRUE(storage.Set("agents/a2", "x", kNewKey).ok());

  auto agents = storage.Scan("agents/");
  ASSERT_TRUE(agents.ok()) << agents.error();
  ASSERT_EQ(Keys(agents), (std::vector<std::string>{"agents/a1", "agents/a2"}));
  EXPECT_EQ(agents->at("agents/a1").value, "second");
  EXPECT_EQ(agents->at("agents/a1").version, 2);
  EXPECT_EQ(agents->at("agents/a2").value, "x");
  EXPECT_EQ(agents->at("agents/a2").version, 1);

  EXPECT_FALSE(storage.Delete("agents/a1", 1).ok());  // stale
  EXPECT_TRUE(storage.Delete("agents/a1", 2).ok());
  EXPECT_FALSE(storage.Get("agents/a1")->has_value());
  EXPECT_TRUE(storage.Delete("agents/never", 1).ok());
  EXPECT_EQ(Keys(storage.Scan("agents/")), (std::vector<std::string>{"agents/a2"}));

  // Keys nested deeper, and prefixes that end inside a segment or match nothing.
  for (const char* key : {"state/f1/tasks/t1", "state/f1/tasks/t2", "state/f10/x", "state/f2/y"}) {
    ASSERT_TRUE(storage.Set(key, std::string("value of ") + key, kNewKey).ok()) << key;
  }
  auto state = storage.Scan("state/f1");
  EXPECT_EQ(Keys(state),
            (std::vector<std::string>{"state/f1/tasks/t1", "state/f1/tasks/t2", "state/f10/x"}));
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->at("state/f1/tasks/t2").value, "value of state/f1/tasks/t2");
  EXPECT_EQ(Keys(storage.Scan("state/f1/")),
            (std::vector<std::string>{"state/f1/tasks/t1", "state/f1/tasks/t2"}));
  EXPECT_EQ(Keys(storage.Scan("nothing/")), std::vector<std::string>{});

  EXPECT_FALSE(storage.Set("/bad", "x", kNewKey).ok());
  EXPECT_FALSE(storage.Set("bad//key", "x", kNewKey).ok());
}

TEST(Storage, LevelDbKeepsTheContractAndSurvivesReopening) {
  stoa::testing::TempDir dir;
  {
    auto storage = OpenLevelDbStorage(dir.path() + "/db");
    ASSERT_TRUE(storage.ok()) << storage.error();
    CheckContract(**storage);
  }
  auto reopened = OpenLevelDbStorage(dir.path() + "/db");
  ASSERT_TRUE(reopened.ok()) << reopened.error();
  EXPECT_EQ((*(*reopened)->Get("agents/a2"))->value, "x");
  // A second opener of the same directory is refused with a clear reason.
  auto second = OpenLevelDbStorage(dir.path() + "/db");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find("another process"), std::string::npos) << second.error();
}

TEST(Storage, ZooKeeperKeepsTheContract) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  auto zookeeper = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(zookeeper.ok()) << zookeeper.error();
  auto storage = OpenZooKeeperStorage(zookeeper->get(), "/stoa/registry");
  ASSERT_TRUE(storage.ok()) << storage.error();
  CheckContract(**storage);

  // A second session (another master) sees the same data and is fenced by versions.
  auto other = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(other.ok());
  auto other_storage = OpenZooKeeperStorage(other->get(), "/stoa/registry");
  ASSERT_TRUE(other_storage.ok());
  auto value = (*other_storage)->Get("agents/a2");
  ASSERT_TRUE(value.ok() && value->has_value());
  ASSERT_TRUE((*other_storage)->Set("agents/a2", "new", (*value)->version).ok());
  EXPECT_FALSE((*storage)->Set("agents/a2", "old", (*value)->version).ok());
}

// A server restart shorter than the session timeout: the client is told its
// session may be in doubt (a leader steps down then) but the session, and its
// ephemeral nodes, survive; nothing reports it expired.
TEST(ZooKeeperSession, ShortOutageSuspendsButDoesNotExpire) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  std::atomic<int> expired{0}, suspended{0};
  auto zookeeper = ZooKeeper::Connect(
      server.servers(), 20, [&] { ++expired; }, [&] { ++suspended; });
  ASSERT_TRUE(zookeeper.ok()) << zookeeper.error();
  ZooKeeper& zk = **zookeeper;
  ASSERT_TRUE(zk.Create("/member", "me", /*ephemeral=*/true, false).ok());

  server.Stop();
  // The client notices the loss after 2/3 of the negotiated timeout, and
  // reports the doubt a third of the timeout later.
  EXPECT_TRUE(stoa::testing::WaitFor([&] { return suspended > 0; }, std::chrono::seconds(30)));
  ASSERT_TRUE(server.Start()) << server.error();
  EXPECT_TRUE(stoa::testing::WaitFor(
      [&] {
        auto got = zk.Get("/member");
        return got.ok() && got->has_value();
      },
      std::chrono::seconds(30)));
  EXPECT_FALSE(zk.expired());
  EXPECT_EQ(expired, 0);
  EXPECT_EQ(suspended, 1);
}

// A leader's on_suspended may look through the session once ZooKeeper is
// back (is my znode still there?). That read is answered on the client's
// event thread, which must not be waiting for the callback to finish.
TEST(ZooKeeperSession, ACallbackCanReadThroughItsSession) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  std::atomic<ZooKeeper*> session{nullptr};
  std::atomic<bool> suspended{false}, returned{false}, read_back{false};
  std::future<Result<std::vector<std::optional<ZooKeeper::Node>>>> stuck;
  auto on_suspended = [&] {
    suspended = true;
    // Each read runs on a helper thread so that a deadlock fails the test
    // instead of hanging it. A read may wait out the client's own operation
    // timeout (2/3 of the session timeout) while it reconnects.
    stoa::testing::WaitFor(
        [&] {
          auto read =
              std::async(std::launch::async, [&] { return session.load()->GetMany({"/member"}); });
          if (read.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
            stuck = std::move(read);  // the callback gives up; the read ends once it returns
            return true;
          }
          auto nodes = read.get();
          read_back = nodes.ok() && (*nodes)[0].has_value();
          return read_back.load();
        },
        std::chrono::seconds(90));
    returned = true;
  };
  auto zookeeper = ZooKeeper::Connect(server.servers(), 20, {}, on_suspended);
  ASSERT_TRUE(zookeeper.ok()) << zookeeper.error();
  session = zookeeper->get();
  ASSERT_TRUE((*zookeeper)->Create("/member", "me", /*ephemeral=*/true, false).ok());

  server.Stop();
  ASSERT_TRUE(stoa::testing::WaitFor([&] { return suspended.load(); }));
  ASSERT_TRUE(server.Start()) << server.error();
  ASSERT_TRUE(stoa::testing::WaitFor([&] { return returned.load(); }, std::chrono::seconds(120)));
  EXPECT_TRUE(read_back) << "the callback's read through its session never came back";
  EXPECT_FALSE(stuck.valid()) << "the read deadlocked with the callback";
}

// Pipelined reads answer in the order asked whatever the window, a missing
// znode with an empty answer.
TEST(ZooKeeperSession, PipelinedReadsAnswerInOrder) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  auto zookeeper = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(zookeeper.ok()) << zookeeper.error();
  ZooKeeper& zk = **zookeeper;
  ASSERT_TRUE(zk.CreatePath("/many").ok());
  std::vector<std::string> paths;
  for (int i = 0; i < 300; ++i) {
    std::string path = "/many/n" + std::to_string(i);
    ASSERT_TRUE(zk.Create(path, "value " + std::to_string(i), false, false).ok());
    paths.push_back(path);
    if (i % 50 == 0) paths.push_back("/many/missing" + std::to_string(i));
  }
  ASSERT_TRUE(zk.Set("/many/n7", "changed", 0).ok());
  for (size_t window : {size_t{1}, size_t{7}, size_t{1000}}) {
    auto nodes = zk.GetMany(paths, window);
    ASSERT_TRUE(nodes.ok()) << nodes.error();
    ASSERT_EQ(nodes->size(), paths.size());
    for (size_t i = 0; i < paths.size(); ++i) {
      const auto& node = (*nodes)[i];
      std::string name = paths[i].substr(std::string("/many/").size());
      if (name.rfind("missing", 0) == 0) {
        EXPECT_FALSE(node.has_value()) << paths[i];
        continue;
      }
      ASSERT_TRUE(node.has_value()) << paths[i];
      EXPECT_EQ(node->data, name == "n7" ? "changed" : "value " + name.substr(1)) << paths[i];
      EXPECT_EQ(node->version, name == "n7" ? 1 : 0) << paths[i];
      EXPECT_EQ(node->children, 0) << paths[i];
    }
  }
  auto children = zk.ChildrenMany({"/many", "/many/n0", "/nowhere"}, 2);
  ASSERT_TRUE(children.ok()) << children.error();
  ASSERT_EQ(children->size(), 3u);
  ASSERT_TRUE((*children)[0].has_value());
  EXPECT_EQ((*children)[0]->size(), 300u);
  ASSERT_TRUE((*children)[1].has_value());
  EXPECT_TRUE((*children)[1]->empty());
  EXPECT_FALSE((*children)[2].has_value());
  EXPECT_TRUE(zk.GetMany({})->empty());
}

TEST(ZooKeeperUrl, ParsesAndRefuses) {
  auto url = ParseZooKeeperUrl("zk://10.0.0.1:2181,10.0.0.2:2181/stoa/");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->servers, "10.0.0.1:2181,10.0.0.2:2181");
  EXPECT_EQ(url->path, "/stoa");
  EXPECT_FALSE(ParseZooKeeperUrl("10.0.0.1:2181/stoa").ok());
  EXPECT_FALSE(ParseZooKeeperUrl("zk://10.0.0.1:2181").ok());
}

}  // namespace
}  // namespace stoa

// Both Storage backends against the same contract: LevelDB in a temporary
// directory, ZooKeeper against a real server.
#include "common/storage.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "common/zookeeper.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

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

  auto agents = storage.List("agents/");
  ASSERT_TRUE(agents.ok()) << agents.error();
  EXPECT_EQ(*agents, (std::vector<std::string>{"agents/a1", "agents/a2"}));

  EXPECT_FALSE(storage.Delete("agents/a1", 1).ok());  // stale
  EXPECT_TRUE(storage.Delete("agents/a1", 2).ok());
  EXPECT_FALSE(storage.Get("agents/a1")->has_value());
  EXPECT_TRUE(storage.Delete("agents/never", 1).ok());
  EXPECT_EQ(*storage.List("agents/"), (std::vector<std::string>{"agents/a2"}));

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

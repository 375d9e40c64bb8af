// The registrar over real storage: what it writes a new master recovers, and a
// deposed master's write is refused.
#include "master/registrar.hpp"

#include <gtest/gtest.h>
#include <zookeeper/zookeeper.h>

#include "common/duration.hpp"
#include "common/zookeeper.hpp"
#include "tests/test_util.hpp"

namespace stoa::master {
namespace {

AgentRecord Agent(const std::string& id, AgentRecord::State state) {
  AgentRecord record;
  record.info.id = id;
  record.info.hostname = id + ".example";
  record.info.resources = *Resources::Parse("cpus:4;mem:1024;disk(web):100");
  record.state = state;
  record.changed_time = WallSeconds();
  return record;
}

// What is over (removed frameworks, departed agents) is pruned by age and by
// count when a master recovers, durably; admitted agents and live frameworks
// are never pruned.
TEST(Registrar, PrunesRemovedFrameworksAndDepartedAgentsByAgeAndCount) {
  stoa::testing::TempDir dir;
  const double day = 24 * 3600;
  double now = WallSeconds();
  {
    auto storage = OpenLevelDbStorage(dir.path() + "/registry");
    ASSERT_TRUE(storage.ok()) << storage.error();
    Registrar registrar(std::move(*storage));
    ASSERT_TRUE(registrar.Recover(now).ok());
    for (int i = 0; i < 5; ++i) {
      AgentRecord gone = Agent("gone" + std::to_string(i), AgentRecord::State::kGone);
      gone.changed_time = now - i * day;  // gone0 is the newest
      ASSERT_TRUE(registrar.PutAgent(gone).ok());
      FrameworkInfo framework;
      framework.id = "f" + std::to_string(i);
      ASSERT_TRUE(registrar.PutFramework(framework).ok());
      ASSERT_TRUE(registrar.RemoveFramework(framework.id).ok());
    }
    AgentRecord old_but_admitted = Agent("admitted", AgentRecord::State::kAdmitted);
    old_but_admitted.changed_time = now - 100 * day;
    ASSERT_TRUE(registrar.PutAgent(old_but_admitted).ok());
  }
  RegistryRetention retention;
  retention.max_age_seconds = 2.5 * day;
  retention.max_removed_frameworks = 2;
  auto prune = [&](double at) {
    auto storage = OpenLevelDbStorage(dir.path() + "/registry");
    EXPECT_TRUE(storage.ok());
    Registrar registrar(std::move(*storage), retention);
    return registrar.Recover(at);
  };
  Result<Registry> registry = prune(now);
  ASSERT_TRUE(registry.ok()) << registry.error();
  std::set<AgentId> agents;
  for (const auto& [id, record] : registry->agents) agents.insert(id);
  EXPECT_EQ(agents, (std::set<AgentId>{"admitted", "gone0", "gone1", "gone2"}));
  EXPECT_EQ(registry->removed_frameworks.size(), 2u);
  // Durable: a later recovery (a day on) finds them gone, and prunes by age.
  registry = prune(now + day);
  ASSERT_TRUE(registry.ok()) << registry.error();
  agents.clear();
  for (const auto& [id, record] : registry->agents) agents.insert(id);
  EXPECT_EQ(agents, (std::set<AgentId>{"admitted", "gone0", "gone1"}));
  EXPECT_EQ(registry->removed_frameworks.size(), 2u);
}

TEST(Registrar, WhatItWritesANewMasterRecovers) {
  stoa::testing::TempDir dir;
  {
    auto storage = OpenLevelDbStorage(dir.path() + "/registry");
    ASSERT_TRUE(storage.ok()) << storage.error();
    Registrar registrar(std::move(*storage));
    ASSERT_TRUE(registrar.Recover().ok());
    ASSERT_TRUE(registrar.PutAgent(Agent("a1", AgentRecord::State::kAdmitted)).ok());
    ASSERT_TRUE(registrar.PutAgent(Agent("a2", AgentRecord::State::kAdmitted)).ok());
    ASSERT_TRUE(registrar.PutAgent(Agent("a2", AgentRecord::State::kUnreachable)).ok());
    ASSERT_TRUE(registrar.PutAgent(Agent("a3", AgentRecord::State::kGone)).ok());
    FrameworkInfo framework;
    framework.id = "f1";
    framework.name = "batch";
    framework.failover_timeout_seconds = 3600;
    ASSERT_TRUE(registrar.PutFramework(framework).ok());
    framework.id = "f2";
    ASSERT_TRUE(registrar.PutFramework(framework).ok());
    ASSERT_TRUE(registrar.RemoveFramework("f2").ok());
    ASSERT_TRUE(registrar.SetWeight("web", 2.5).ok());
    ASSERT_TRUE(registrar.SetQuota("web", *Resources::Parse("cpus:8;mem:4096")).ok());
  }
  auto storage = OpenLevelDbStorage(dir.path() + "/registry");
  ASSERT_TRUE(storage.ok()) << storage.error();
  Registrar registrar(std::move(*storage));
  Result<Registry> registry = registrar.Recover();
  ASSERT_TRUE(registry.ok()) << registry.error();
  ASSERT_EQ(registry->agents.size(), 3u);
  EXPECT_EQ(registry->agents["a1"].state, AgentRecord::State::kAdmitted);
  EXPECT_EQ(registry->agents["a2"].state, AgentRecord::State::kUnreachable);
  EXPECT_EQ(registry->agents["a3"].state, AgentRecord::State::kGone);
  EXPECT_EQ(registry->agents["a1"].info.resources,
            *Resources::Parse("cpus:4;mem:1024;disk(web):100"));
  ASSERT_EQ(registry->frameworks.size(), 1u);
  EXPECT_EQ(registry->frameworks["f1"].name, "batch");
  EXPECT_DOUBLE_EQ(registry->frameworks["f1"].failover_timeout_seconds, 3600);
  EXPECT_EQ(registry->removed_frameworks, (std::set<FrameworkId>{"f2"}));
  EXPECT_DOUBLE_EQ(registry->weights["web"], 2.5);
  EXPECT_EQ(registry->quotas["web"], *Resources::Parse("cpus:8;mem:4096"));
  // Updating after recovery uses the recovered versions.
  EXPECT_TRUE(registrar.PutAgent(Agent("a1", AgentRecord::State::kUnreachable)).ok());
}

// A znode under `path` that nobody may read, made through a raw client: the
// one read failure a test can cause on demand, in the middle of a recovery.
Status CreateUnreadable(const std::string& servers, const std::string& path) {
  zhandle_t* handle = zookeeper_init(
      servers.c_str(), [](zhandle_t*, int, int, const char*, void*) {}, 10000, nullptr, nullptr, 0);
  if (handle == nullptr) return Status::Error("cannot start a raw ZooKeeper session");
  bool connected = stoa::testing::WaitFor([&] { return zoo_state(handle) == ZOO_CONNECTED_STATE; });
  struct ACL write_only = {ZOO_PERM_WRITE | ZOO_PERM_DELETE | ZOO_PERM_ADMIN, ZOO_ANYONE_ID_UNSAFE};
  struct ACL_vector acl = {1, &write_only};
  int rc =
      connected ? zoo_create(handle, path.c_str(), "x", 1, &acl, 0, nullptr, 0) : ZCONNECTIONLOSS;
  zookeeper_close(handle);
  return rc == ZOK ? Status::Ok() : Status::Error(std::string("raw create failed: ") + zerror(rc));
}

// A new leader reads a registry of thousands of entries (more than one window
// of pipelined reads) and gets every one back with its version; a read that
// fails fails the recovery, since a short registry would forget agents.
TEST(Registrar, RecoversEveryEntryOfALargeRegistryOverZooKeeperOrFails) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  constexpr int kAgents = 1500;
  constexpr int kFrameworks = 600;
  auto agent = [](int i) {
    AgentRecord record =
        Agent("agent-" + std::to_string(i),
              i % 3 == 0 ? AgentRecord::State::kUnreachable : AgentRecord::State::kAdmitted);
    record.info.resources = *Resources::Parse("cpus:" + std::to_string(i + 1) + ";mem:1024");
    return record;
  };
  {
    auto session = ZooKeeper::Connect(server.servers(), 10);
    ASSERT_TRUE(session.ok()) << session.error();
    Registrar writer(std::move(*OpenZooKeeperStorage(session->get(), "/stoa/registry")));
    ASSERT_TRUE(writer.Recover().ok());
    for (int i = 0; i < kAgents; ++i) ASSERT_TRUE(writer.PutAgent(agent(i)).ok()) << i;
    for (int i = 0; i < kFrameworks; ++i) {
      FrameworkInfo framework;
      framework.id = "framework-" + std::to_string(i);
      framework.name = "job " + std::to_string(i);
      framework.failover_timeout_seconds = i;
      ASSERT_TRUE(writer.PutFramework(framework).ok()) << i;
      if (i % 2 == 1) {
        ASSERT_TRUE(writer.RemoveFramework(framework.id).ok()) << i;
      }
    }
  }

  auto session = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(session.ok()) << session.error();
  Registrar leader(std::move(*OpenZooKeeperStorage(session->get(), "/stoa/registry")));
  Result<Registry> registry = leader.Recover();
  ASSERT_TRUE(registry.ok()) << registry.error();
  ASSERT_EQ(registry->agents.size(), static_cast<size_t>(kAgents));
  for (int i = 0; i < kAgents; ++i) {
    AgentRecord expected = agent(i);
    const AgentRecord& got = registry->agents[expected.info.id];
    EXPECT_EQ(got.info.hostname, expected.info.hostname) << i;
    EXPECT_EQ(got.info.resources, expected.info.resources) << i;
    EXPECT_EQ(got.state, expected.state) << i;
  }
  ASSERT_EQ(registry->frameworks.size(), static_cast<size_t>(kFrameworks / 2));
  ASSERT_EQ(registry->removed_frameworks.size(), static_cast<size_t>(kFrameworks / 2));
  for (int i = 0; i < kFrameworks; ++i) {
    std::string id = "framework-" + std::to_string(i);
    if (i % 2 == 1) {
      EXPECT_TRUE(registry->removed_frameworks.count(id)) << id;
      continue;
    }
    EXPECT_EQ(registry->frameworks[id].name, "job " + std::to_string(i));
    EXPECT_DOUBLE_EQ(registry->frameworks[id].failover_timeout_seconds, i);
  }
  // The versions came back too: the new leader updates entries in place.
  EXPECT_TRUE(leader.PutAgent(Agent("agent-0", AgentRecord::State::kGone)).ok());
  EXPECT_TRUE(leader.PutAgent(Agent("agent-1499", AgentRecord::State::kGone)).ok());

  ASSERT_TRUE(CreateUnreadable(server.servers(), "/stoa/registry/agents/agent-secret").ok());
  Registrar next(std::move(*OpenZooKeeperStorage(session->get(), "/stoa/registry")));
  Result<Registry> failed = next.Recover();
  ASSERT_FALSE(failed.ok()) << "recovered " << failed->agents.size() << " agents";
  EXPECT_NE(failed.error().find("agents/agent-secret"), std::string::npos) << failed.error();
}

TEST(Registrar, ADeposedMasterCannotOverwriteTheNewLeader) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  auto old_session = ZooKeeper::Connect(server.servers(), 10);
  auto new_session = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(old_session.ok() && new_session.ok());
  Registrar old_leader(std::move(*OpenZooKeeperStorage(old_session->get(), "/stoa/registry")));
  Registrar new_leader(std::move(*OpenZooKeeperStorage(new_session->get(), "/stoa/registry")));
  ASSERT_TRUE(old_leader.Recover().ok());
  ASSERT_TRUE(old_leader.PutAgent(Agent("a1", AgentRecord::State::kAdmitted)).ok());

  ASSERT_TRUE(new_leader.Recover().ok());
  ASSERT_TRUE(new_leader.PutAgent(Agent("a1", AgentRecord::State::kUnreachable)).ok());
  Status stale = old_leader.PutAgent(Agent("a1", AgentRecord::State::kAdmitted));
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.message().find("another master"), std::string::npos) << stale.message();
  auto registry = new_leader.Recover();
  ASSERT_TRUE(registry.ok());
  EXPECT_EQ(registry->agents["a1"].state, AgentRecord::State::kUnreachable);
}

}  // namespace
}  // namespace stoa::master

// The registrar over real storage: what it writes a new master recovers, and a
// deposed master's write is refused.
#include "master/registrar.hpp"

#include <gtest/gtest.h>

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

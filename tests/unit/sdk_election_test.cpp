// The SDK's election on a real ZooKeeper server, as two framework instances
// use it: only the elected one has its state opened and `lead` called, both
// gates say who leads, the standby's storage refuses; a leader that abdicates
// hands the lead and the state to the other at once; a leader that loses
// ZooKeeper steps down and says why.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "frameworks/sdk/election.hpp"
#include "frameworks/sdk/leader_gate.hpp"
#include "tests/test_util.hpp"

namespace stoa::sdk {
namespace {

using stoa::testing::WaitFor;

// A framework instance: its gate, its store's storage and its election; its
// `lead` writes a key, as a recovering core would read and write.
struct Instance {
  Instance(const std::string& servers, std::string address) : self(std::move(address)) {
    auto connected = Election::Connect({.zk = "zk://" + servers + "/stoa-test",
                                        .session_timeout = 3,
                                        .component = "test",
                                        .gate = &gate,
                                        .lead = [this] { return Lead(); },
                                        .on_fatal =
                                            [this](const std::string& why) {
                                              std::lock_guard<std::mutex> lock(mutex);
                                              fatal = why;
                                            }});
    EXPECT_TRUE(connected.ok()) << connected.error();
    if (!connected.ok()) return;
    election = std::move(*connected);
    storage = election->TakeStorage();
    Status joined = election->Join(self);
    EXPECT_TRUE(joined.ok()) << joined.message();
  }

  Status Lead() {
    ++leads;
    auto written = storage->Set("leaders/" + self, "led", kNewKey);
    return written.ok() ? Status::Ok() : written.status();
  }
  std::string Fatal() {
    std::lock_guard<std::mutex> lock(mutex);
    return fatal;
  }

  std::string self;
  std::atomic<int> leads{0};
  std::mutex mutex;
  std::string fatal;
  LeaderGate gate{LeaderGateOptions{}};
  std::unique_ptr<Storage> storage;    // the store's: outlives the election
  std::unique_ptr<Election> election;  // last: goes first
};

TEST(Election, OnlyTheLeaderOpensTheStateAndAnAbdicationHandsItOnAtOnce) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();

  Instance first(server.servers(), "127.0.0.1:1001");
  ASSERT_TRUE(WaitFor([&] { return first.gate.leading(); })) << first.Fatal();
  EXPECT_EQ(first.leads, 1);
  EXPECT_EQ(first.gate.leader(), first.self);
  EXPECT_TRUE(first.election->ConfirmLeading());

  Instance second(server.servers(), "127.0.0.1:1002");
  ASSERT_TRUE(WaitFor([&] { return second.gate.leader() == first.self; })) << second.gate.leader();
  EXPECT_FALSE(second.gate.leading());
  EXPECT_EQ(second.leads, 0);
  EXPECT_FALSE(second.election->ConfirmLeading());
  EXPECT_FALSE(second.storage->Get("leaders/" + first.self).ok());  // a standby reads nothing

  first.election->Abdicate();
  EXPECT_FALSE(first.gate.leading());
  EXPECT_FALSE(first.election->ConfirmLeading());
  EXPECT_FALSE(first.storage->Scan("leaders/").ok());  // fenced at once
  // Not after the session's timeout: its znode went with the abdication.
  ASSERT_TRUE(WaitFor([&] { return second.gate.leading(); }, std::chrono::seconds(2)));
  EXPECT_EQ(second.leads, 1);
  auto state = second.storage->Scan("leaders/");
  ASSERT_TRUE(state.ok()) << state.error();
  EXPECT_EQ(state->size(), 2u);  // what the first leader wrote, and its own
  EXPECT_EQ(first.Fatal(), "");
  EXPECT_EQ(second.Fatal(), "");
}

TEST(Election, ALeaderThatLosesZooKeeperStepsDownAndSaysWhy) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  Instance leader(server.servers(), "127.0.0.1:1001");
  ASSERT_TRUE(WaitFor([&] { return leader.gate.leading(); })) << leader.Fatal();

  server.Stop();
  ASSERT_TRUE(WaitFor([&] { return !leader.Fatal().empty(); })) << "no step-down";
  EXPECT_NE(leader.Fatal().find("steps down"), std::string::npos) << leader.Fatal();
  EXPECT_FALSE(leader.gate.leading());
  EXPECT_FALSE(leader.storage->Get("leaders/" + leader.self).ok());
  EXPECT_FALSE(leader.election->ConfirmLeading());
  EXPECT_TRUE(server.Start()) << server.error();
}

}  // namespace
}  // namespace stoa::sdk

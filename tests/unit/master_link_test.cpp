// The agent's link to the master, without actors: registration epochs (A8).
#include "agent/master_link.hpp"

#include <gtest/gtest.h>

namespace stoa::agent {
namespace {

agentmsg::Registered Answer(uint64_t epoch) { return {"agent-1", "master-1", epoch}; }

TEST(MasterLink, EachRegistrationCycleHasAFreshEpochItsRetriesReuse) {
  MasterLink link("", 0);
  link.LeaderChanged("inproc://m", 1000);
  uint64_t first = link.epoch();
  EXPECT_EQ(first, 1000u);
  ASSERT_TRUE(link.StartRegistering());
  EXPECT_TRUE(link.RegistrationTick());  // a retry: the same cycle
  EXPECT_EQ(link.epoch(), first);
  EXPECT_EQ(link.OnRegistered(Answer(first)), MasterLink::Registration::kFirst);
  EXPECT_FALSE(link.RegistrationTick());  // answered: the loop ends

  link.Lost(900);  // the wall clock went back: still higher
  EXPECT_EQ(link.epoch(), first + 1);
  link.Lost(5000);
  EXPECT_EQ(link.epoch(), 5000u);
}

TEST(MasterLink, EpochsKeepIncreasingAcrossRestarts) {
  // The checkpoint says cycle 7000 began; the clock now reads less.
  MasterLink restarted("agent-1", 7000);
  restarted.LeaderChanged("inproc://m", 6000);
  EXPECT_EQ(restarted.epoch(), 7001u);
}

TEST(MasterLink, ARegisteredForAnOlderCycleIsIgnored) {
  MasterLink link("", 0);
  link.LeaderChanged("inproc://m", 100);
  link.Lost(200);  // a new cycle before the answer to the first came
  EXPECT_EQ(link.OnRegistered(Answer(100)), MasterLink::Registration::kStale);
  EXPECT_FALSE(link.registered());
  EXPECT_TRUE(link.agent_id().empty());
  EXPECT_EQ(link.OnRegistered(Answer(200)), MasterLink::Registration::kFirst);
  EXPECT_TRUE(link.registered());
  EXPECT_EQ(link.agent_id(), "agent-1");
  // A master that predates epochs answers 0: accepted.
  link.Lost(300);
  EXPECT_EQ(link.OnRegistered(Answer(0)), MasterLink::Registration::kReregistered);
}

}  // namespace
}  // namespace stoa::agent

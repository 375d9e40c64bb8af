// Unit tests for the hierarchical DRF allocator: fairness outcomes, filters,
// suppression, activity, reservations and bookkeeping, plus a randomized run
// checked against a simple model.
#include "master/allocator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace stoa {
// Lets GoogleTest print Resources in failure messages.
static void PrintTo(const Resources& resources, std::ostream* os) {
  *os << "\"" << resources.ToString() << "\"";
}
}  // namespace stoa

namespace stoa::master {
namespace {

Resources R(std::string_view text) {
  Result<Resources> result = Resources::Parse(text);
  EXPECT_TRUE(result.ok()) << text << ": " << (result.ok() ? "" : result.error());
  return result.ok() ? *result : Resources();
}

std::map<FrameworkId, int> CountByFramework(const std::vector<Allocation>& allocations) {
  std::map<FrameworkId, int> counts;
  for (const Allocation& allocation : allocations) ++counts[allocation.framework_id];
  return counts;
}

// Drives rounds the way schedulers would: each framework launches one task of
// its demand from every offer that fits it and declines the rest without a
// filter; an offer too small for one task is declined with a long filter.
// Returns the number of tasks each framework launched.
std::map<FrameworkId, int> LaunchUntilFull(Allocator& allocator,
                                           const std::map<FrameworkId, Resources>& demand) {
  std::map<FrameworkId, int> tasks;
  double now = 0;
  for (int round = 0; round < 100; ++round, now += 1) {
    std::vector<Allocation> allocations = allocator.Allocate(now);
    if (allocations.empty()) return tasks;
    for (const Allocation& offer : allocations) {
      const Resources& task = demand.at(offer.framework_id);
      if (offer.resources.Contains(task)) {
        ++tasks[offer.framework_id];
        allocator.Recover(offer.framework_id, offer.agent_id, offer.resources - task);
      } else {
        allocator.Recover(offer.framework_id, offer.agent_id, offer.resources);
        allocator.AddFilter(offer.framework_id, offer.agent_id, 3600, now);
      }
    }
  }
  ADD_FAILURE() << "allocation did not settle in 100 rounds";
  return tasks;
}

// The DRF paper's example: 9 CPUs and 18 GB; A's tasks need <1 CPU, 4 GB> and
// B's <3 CPU, 1 GB>. DRF gives A three tasks and B two, equalizing dominant
// shares at 2/3 (A's memory, B's CPU).
TEST(AllocatorDrfTest, PaperExampleBetweenRoles) {
  Allocator allocator;
  allocator.AddAgent("agent", R("cpus:9;mem:18"));
  allocator.AddFramework("A", {"a"});
  allocator.AddFramework("B", {"b"});
  std::map<FrameworkId, int> tasks =
      LaunchUntilFull(allocator, {{"A", R("cpus:1;mem:4")}, {"B", R("cpus:3;mem:1")}});
  EXPECT_EQ(tasks["A"], 3);
  EXPECT_EQ(tasks["B"], 2);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("A"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("B"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("a"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("b"), 2.0 / 3);
  EXPECT_EQ(allocator.Allocated("A"), R("cpus:3;mem:12"));
  EXPECT_EQ(allocator.Allocated("B"), R("cpus:6;mem:2"));
  EXPECT_EQ(allocator.Available("agent"), R("mem:4"));
}

TEST(AllocatorDrfTest, PaperExampleWithinOneRole) {
  Allocator allocator;
  allocator.AddAgent("agent", R("cpus:9;mem:18"));
  allocator.AddFramework("A", {"users"});
  allocator.AddFramework("B", {"users"});
  std::map<FrameworkId, int> tasks =
      LaunchUntilFull(allocator, {{"A", R("cpus:1;mem:4")}, {"B", R("cpus:3;mem:1")}});
  EXPECT_EQ(tasks["A"], 3);
  EXPECT_EQ(tasks["B"], 2);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("A"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("B"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("users"), 1);  // all 9 cpus
}

TEST(AllocatorDrfTest, EachAgentGoesWholeToOneFramework) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:1024;ports:[31000-32000]"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].agent_id, "a1");
  EXPECT_EQ(allocations[0].role, "r");
  EXPECT_EQ(allocations[0].resources, R("cpus:4;mem:1024;ports:[31000-32000]"));
  EXPECT_TRUE(allocator.Available("a1").empty());
  EXPECT_TRUE(allocator.Allocate(1).empty());  // Nothing left to offer.
}

TEST(AllocatorDrfTest, EqualFrameworksSplitIdenticalAgentsEvenly) {
  Allocator allocator;
  for (int i = 0; i < 10; ++i) allocator.AddAgent("a" + std::to_string(i), R("cpus:1;mem:10"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  std::map<FrameworkId, int> counts = CountByFramework(allocator.Allocate(0));
  EXPECT_EQ(counts["f1"], 5);
  EXPECT_EQ(counts["f2"], 5);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f1"), 0.5);
}

TEST(AllocatorDrfTest, LowestShareFrameworkGetsTheNextAgent) {
  Allocator allocator;
  allocator.AddAgent("big", R("cpus:8;mem:80"));
  allocator.AddAgent("small", R("cpus:2;mem:20"));
  // f1 already runs something on "big"; f2 has nothing, so f2 goes first.
  allocator.AddFramework("f1", {"r"}, {{"big", {{"r", R("cpus:1;mem:1")}}}});
  allocator.AddFramework("f2", {"r"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 2u);
  EXPECT_EQ(allocations[0].framework_id, "f2");
  EXPECT_EQ(allocations[0].agent_id, "big");
  EXPECT_EQ(allocations[0].resources, R("cpus:7;mem:79"));
  EXPECT_EQ(allocations[1].framework_id, "f1");  // 0.1 < f2's 0.79
  EXPECT_EQ(allocations[1].agent_id, "small");
}

TEST(AllocatorDrfTest, RoleWeightsScaleTheFairShare) {
  Allocator allocator;
  allocator.SetWeight("heavy", 2);
  for (int i = 0; i < 30; ++i) allocator.AddAgent("a" + std::to_string(i), R("cpus:1;mem:8"));
  allocator.AddFramework("h", {"heavy"});
  allocator.AddFramework("l", {"light"});
  std::map<FrameworkId, int> counts = CountByFramework(allocator.Allocate(0));
  EXPECT_NEAR(counts["h"], 20, 1);
  EXPECT_NEAR(counts["l"], 10, 1);
  EXPECT_EQ(counts["h"] + counts["l"], 30);
  EXPECT_NEAR(allocator.RoleShare("heavy"), 2 * allocator.RoleShare("light"), 2.0 / 30);
}

TEST(AllocatorDrfTest, WeightChangeTakesEffectNextRound) {
  Allocator allocator;
  for (int i = 0; i < 8; ++i) allocator.AddAgent("a" + std::to_string(i), R("cpus:1;mem:8"));
  allocator.AddFramework("x", {"rx"});
  allocator.AddFramework("y", {"ry"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  EXPECT_EQ(CountByFramework(allocations), (std::map<FrameworkId, int>{{"x", 4}, {"y", 4}}));
  for (const Allocation& a : allocations)
    allocator.Recover(a.framework_id, a.agent_id, a.resources);

  allocator.SetWeight("ry", 3);
  allocator.SetWeight("rx", -1);  // Ignored: weights must be positive.
  allocator.SetWeight("rx", 0);
  EXPECT_EQ(CountByFramework(allocator.Allocate(1)),
            (std::map<FrameworkId, int>{{"x", 2}, {"y", 6}}));
}

TEST(AllocatorFilterTest, RefuseFilterHoldsUntilItsExpiry) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:64"));
  allocator.AddFramework("f1", {"r"});
  std::vector<Allocation> first = allocator.Allocate(0);
  ASSERT_EQ(first.size(), 1u);
  allocator.Recover("f1", "a1", first[0].resources);
  allocator.AddFilter("f1", "a1", 10, 0);
  EXPECT_EQ(allocator.FilterCount(), 1u);

  EXPECT_TRUE(allocator.Allocate(5).empty());
  EXPECT_TRUE(allocator.Allocate(9.999).empty());
  EXPECT_EQ(allocator.FilterCount(), 1u);
  std::vector<Allocation> again = allocator.Allocate(10);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].framework_id, "f1");
  EXPECT_EQ(allocator.FilterCount(), 0u);
}

// Mesos's filters cover the declined resources, not the agent: a framework
// that declined a small leftover still gets the agent once tasks free more.
TEST(AllocatorFilterTest, FreedResourcesBeyondWhatWasRefusedLiftTheFilter) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:1024"));
  allocator.AddFramework("f1", {"r"});
  std::vector<Allocation> first = allocator.Allocate(0);
  ASSERT_EQ(first.size(), 1u);
  Resources task = R("cpus:3.9;mem:1000");
  // The ACCEPT used most of it; what is left is declined for an hour.
  allocator.Decline("f1", "a1", first[0].resources - task, 3600, 0);
  EXPECT_EQ(allocator.FilterCount(), 1u);
  EXPECT_TRUE(allocator.Allocate(1).empty());  // the leftover stays refused
  allocator.Recover("f1", "a1", task);         // the task ended
  EXPECT_EQ(allocator.FilterCount(), 0u);
  std::vector<Allocation> again = allocator.AllocateChanged(2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].resources, R("cpus:4;mem:1024"));
}

// What the agent holds for other roles cannot be offered to the decliner, so
// it does not lift the filter; two declines on one agent refuse both offers.
TEST(AllocatorFilterTest, OtherRolesReservationsAndASecondDeclineKeepTheFilter) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus(db):2;cpus:4;mem:64"));
  allocator.AddFramework("web", {"web"});
  std::vector<Allocation> offers = allocator.Allocate(0);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, R("cpus:4;mem:64"));
  allocator.Decline("web", "a1", offers[0].resources, 10, 0);
  EXPECT_EQ(allocator.FilterCount(), 1u);
  EXPECT_FALSE(allocator.HasChanges());
  EXPECT_TRUE(allocator.Allocate(1).empty());

  allocator.AddAgent("a2", R("cpus(a):1;cpus(b):1"));
  allocator.AddFramework("multi", {"a", "b"});
  std::vector<Allocation> offers_to_multi = allocator.AllocateChanged(2);
  int on_a2 = 0;
  for (const Allocation& offer : offers_to_multi) {
    ASSERT_EQ(offer.framework_id, "multi");
    on_a2 += offer.agent_id == "a2" ? 1 : 0;
    allocator.Decline("multi", offer.agent_id, offer.resources, 10, 2, offer.role);
  }
  EXPECT_EQ(on_a2, 2);                     // one offer per role on a2
  EXPECT_EQ(allocator.FilterCount(), 3u);  // web on a1, multi on a1 and a2
  EXPECT_TRUE(allocator.Allocate(3).empty());
}

// A decline without a filter waits for the periodic round: an event round
// right after it would hand the same offer straight back.
TEST(AllocatorOfferTest, DeclinedResourcesWaitForThePeriodicRound) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddAgent("a2", R("cpus:4"));
  allocator.AddFramework("f1", {"r"});
  std::vector<Allocation> offers = allocator.AllocateChanged(0);
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_FALSE(allocator.HasChanges());
  allocator.Decline("f1", "a1", offers[0].resources, 0, 0);
  EXPECT_FALSE(allocator.HasChanges());
  EXPECT_TRUE(allocator.AllocateChanged(0.1).empty());
  allocator.Recover("f1", "a2", offers[1].resources);  // e.g. a task on a2 ended
  ASSERT_TRUE(allocator.HasChanges());
  std::vector<Allocation> changed = allocator.AllocateChanged(0.2);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].agent_id, "a2");         // only the agent that changed
  EXPECT_EQ(allocator.Allocate(1).size(), 1u);  // the periodic round offers a1 again
}

// Resources go back to the role they were allocated to, not the first role.
TEST(AllocatorOfferTest, RecoverTakesFromTheAllocationRole) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddFramework("multi", {"a", "b"});
  std::vector<Allocation> offers = allocator.Allocate(0);
  ASSERT_EQ(offers.size(), 1u);
  allocator.Recover("multi", "a1", R("cpus:2"), offers[0].role);
  std::vector<Allocation> more = allocator.Allocate(1);
  ASSERT_EQ(more.size(), 1u);
  ASSERT_NE(more[0].role, offers[0].role);  // the agent now holds both roles
  allocator.Recover("multi", "a1", R("cpus:1"), more[0].role);
  EXPECT_DOUBLE_EQ(allocator.RoleShare(more[0].role), 0.25);
  EXPECT_DOUBLE_EQ(allocator.RoleShare(offers[0].role), 0.5);
}

// Rounds do not always start at the same agent: with equal shares, the
// framework first in DRF order gets a different agent each round.
TEST(AllocatorOfferTest, FullRoundsStartAtADifferentAgentEachTime) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:1"));
  allocator.AddAgent("a2", R("cpus:1"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  std::set<AgentId> first_framework_got;
  for (int round = 0; round < 2; ++round) {
    std::vector<Allocation> offers = allocator.Allocate(round);
    ASSERT_EQ(offers.size(), 2u);
    for (const Allocation& a : offers) {
      if (a.framework_id == "f1") first_framework_got.insert(a.agent_id);
      allocator.Recover(a.framework_id, a.agent_id, a.resources);
    }
  }
  EXPECT_EQ(first_framework_got, (std::set<AgentId>{"a1", "a2"}));
}

TEST(AllocatorFilterTest, FilteredAgentGoesToTheNextFramework) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:64"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  allocator.AddFilter("f1", "a1", 10, 0);
  std::vector<Allocation> allocations = allocator.Allocate(1);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f2");
}

TEST(AllocatorFilterTest, LongerFilterExtendsAndShorterOneDoesNotShorten) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:64"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFilter("f1", "a1", 10, 0);
  allocator.AddFilter("f1", "a1", 5, 0);
  EXPECT_EQ(allocator.FilterCount(), 1u);
  EXPECT_TRUE(allocator.Allocate(7).empty());
  allocator.AddFilter("f1", "a1", 20, 0);
  EXPECT_TRUE(allocator.Allocate(15).empty());
  EXPECT_EQ(allocator.FilterCount(), 1u);
  EXPECT_EQ(allocator.Allocate(20).size(), 1u);
  EXPECT_EQ(allocator.FilterCount(), 0u);
}

TEST(AllocatorFilterTest, NonPositiveOrUnknownFiltersAreIgnored) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFilter("f1", "a1", 0, 0);
  allocator.AddFilter("f1", "a1", -5, 0);
  allocator.AddFilter("f1", "a1", std::numeric_limits<double>::quiet_NaN(), 0);
  allocator.AddFilter("nobody", "a1", 10, 0);
  allocator.AddFilter("f1", "nowhere", 10, 0);
  EXPECT_EQ(allocator.FilterCount(), 0u);
  EXPECT_EQ(allocator.Allocate(0).size(), 1u);
}

TEST(AllocatorFilterTest, ReviveClearsFilters) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:64"));
  allocator.AddAgent("a2", R("cpus:4;mem:64"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFilter("f1", "a1", 5 * 86400, 0);
  allocator.AddFilter("f1", "a2", 5 * 86400, 0);
  EXPECT_TRUE(allocator.Allocate(1).empty());
  allocator.Revive("f1", {});
  EXPECT_EQ(allocator.FilterCount(), 0u);
  EXPECT_EQ(allocator.Allocate(2).size(), 2u);
}

TEST(AllocatorFilterTest, HeapChurnKeepsFiltersExact) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  allocator.AddFilter("f2", "a1", 50, 0);
  // Thousands of filters that are extended or cleared leave stale heap entries behind.
  for (int i = 0; i < 5000; ++i) {
    allocator.AddFilter("f1", "a1", 1000 + i, 0);
    if (i % 2 == 1) allocator.Revive("f1", {});
  }
  allocator.AddFilter("f1", "a1", 30, 0);
  EXPECT_EQ(allocator.FilterCount(), 2u);
  EXPECT_TRUE(allocator.Allocate(29).empty());
  std::vector<Allocation> allocations = allocator.Allocate(30);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f1");
  EXPECT_EQ(allocator.FilterCount(), 1u);  // f2's filter still lasts until 50.
  allocator.Recover("f1", "a1", allocations[0].resources);
  allocator.Suppress("f1", {});
  EXPECT_TRUE(allocator.Allocate(49).empty());
  EXPECT_EQ(allocator.Allocate(50).size(), 1u);
  EXPECT_EQ(allocator.FilterCount(), 0u);
}

TEST(AllocatorFilterTest, AgentFilteredByEveryInterestedFrameworkIsSkipped) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  allocator.AddFilter("f1", "a1", 100, 0);
  allocator.DeactivateFramework("f2");
  EXPECT_TRUE(allocator.Allocate(1).empty());
  allocator.ActivateFramework("f2");  // f2 has not filtered a1.
  std::vector<Allocation> allocations = allocator.Allocate(2);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f2");
  allocator.Recover("f2", "a1", allocations[0].resources);

  allocator.Suppress("f2", {});
  EXPECT_TRUE(allocator.Allocate(3).empty());
  allocator.AddFramework("f3", {"other"});  // A newcomer that has filtered nothing.
  allocations = allocator.Allocate(4);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f3");
}

TEST(AllocatorOfferTest, SuppressStopsOffersUntilRevive) {
  Allocator allocator;
  for (int i = 0; i < 3; ++i) allocator.AddAgent("a" + std::to_string(i), R("cpus:1"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  allocator.Suppress("f1", {});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  EXPECT_EQ(CountByFramework(allocations), (std::map<FrameworkId, int>{{"f2", 3}}));
  for (const Allocation& a : allocations)
    allocator.Recover(a.framework_id, a.agent_id, a.resources);
  allocator.Revive("f1", {});
  EXPECT_EQ(CountByFramework(allocator.Allocate(1))["f1"], 2);  // f1 first (tie), then alternate
}

TEST(AllocatorOfferTest, SuppressAndReviveArePerRole) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:1"));
  allocator.AddFramework("multi", {"a", "b"});
  allocator.Suppress("multi", {"a"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].role, "b");
  allocator.Recover("multi", "a1", allocations[0].resources);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("b"), 0);

  allocator.Suppress("multi", {"b"});
  EXPECT_TRUE(allocator.Allocate(1).empty());
  allocator.Revive("multi", {"a"});
  allocations = allocator.Allocate(2);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].role, "a");
  EXPECT_DOUBLE_EQ(allocator.RoleShare("a"), 1);
}

TEST(AllocatorOfferTest, InactiveFrameworksAndAgentsGetNothing) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:1"));
  allocator.AddAgent("a2", R("cpus:1"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  allocator.DeactivateFramework("f1");
  allocator.DeactivateAgent("a2");
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f2");
  EXPECT_EQ(allocations[0].agent_id, "a1");

  allocator.DeactivateFramework("f2");
  allocator.ActivateAgent("a2");
  EXPECT_TRUE(allocator.Allocate(1).empty());
  // An inactive framework keeps what it holds.
  EXPECT_EQ(allocator.Allocated("f2"), R("cpus:1"));

  allocator.ActivateFramework("f1");
  allocations = allocator.Allocate(2);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f1");
  EXPECT_EQ(allocations[0].agent_id, "a2");
}

TEST(AllocatorReservationTest, ReservedResourcesGoOnlyToTheirRole) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;mem:1024;cpus(web):2;mem(web):256"));
  allocator.AddFramework("other", {"batch"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].resources, R("cpus:4;mem:1024"));
  EXPECT_EQ(allocator.Available("a1"), R("cpus(web):2;mem(web):256"));
  EXPECT_TRUE(allocator.Allocate(1).empty());  // Nobody in "web" yet.

  allocator.AddFramework("web-framework", {"web"});
  allocations = allocator.Allocate(2);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "web-framework");
  EXPECT_EQ(allocations[0].role, "web");
  EXPECT_EQ(allocations[0].resources, R("cpus(web):2;mem(web):256"));
}

TEST(AllocatorReservationTest, ReservationsAndUnreservedSplitAcrossRoles) {
  Allocator allocator;
  allocator.AddAgent("a0", R("cpus:4"));
  allocator.AddAgent("a1", R("cpus:4;cpus(web):2"));
  allocator.AddFramework("other", {"batch"});
  // web-framework already holds all of a0, so "batch" has the lower share.
  allocator.AddFramework("web-framework", {"web"}, {{"a0", {{"web", R("cpus:4")}}}});
  std::map<FrameworkId, Resources> got;
  for (const Allocation& a : allocator.Allocate(0)) got[a.framework_id] += a.resources;
  EXPECT_EQ(got["other"], R("cpus:4"));
  EXPECT_EQ(got["web-framework"], R("cpus(web):2"));
}

TEST(AllocatorReservationTest, OwnRoleGetsReservedAndUnreservedTogether) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;cpus(web):2"));
  allocator.AddFramework("web-framework", {"web"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].resources, R("cpus:4;cpus(web):2"));
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), 1);
}

TEST(AllocatorBookkeepingTest, RecoverReturnsResourcesToThePool) {
  Allocator allocator;
  Resources total = R("cpus:4;mem:1024;ports:[31000-31009]");
  allocator.AddAgent("a1", total);
  allocator.AddFramework("f1", {"r"});
  ASSERT_EQ(allocator.Allocate(0).size(), 1u);
  EXPECT_TRUE(allocator.Available("a1").empty());
  EXPECT_EQ(allocator.Allocated("f1"), total);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f1"), 1);

  allocator.Recover("f1", "a1", R("cpus:1;mem:512;ports:[31005-31009]"));
  EXPECT_EQ(allocator.Available("a1"), R("cpus:1;mem:512;ports:[31005-31009]"));
  EXPECT_EQ(allocator.Allocated("f1"), R("cpus:3;mem:512;ports:[31000-31004]"));
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f1"), 0.75);

  // Unknown ids are ignored; recovering more than is held returns only what is held.
  allocator.Recover("nobody", "a1", R("cpus:1"));
  allocator.Recover("f1", "nowhere", R("cpus:1"));
  allocator.Recover("f1", "a1", R("cpus:100;gpus:1;ports:[1-2]"));
  EXPECT_EQ(allocator.Available("a1"), R("cpus:4;mem:512;ports:[31005-31009]"));
  EXPECT_EQ(allocator.Total(), total);

  // The recovered resources are offered again.
  std::vector<Allocation> allocations = allocator.Allocate(1);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].resources, R("cpus:4;mem:512;ports:[31005-31009]"));
  EXPECT_EQ(allocator.Allocated("f1"), total);
}

TEST(AllocatorBookkeepingTest, AddAllocatedTakesOnlyWhatIsAvailable) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:10;mem:100"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddAllocated("f1", "a1", R("cpus:1;mem:50"));
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f1"), 0.5);  // mem dominates
  EXPECT_DOUBLE_EQ(allocator.RoleShare("r"), 0.5);
  allocator.AddAllocated("f1", "a1", R("mem:80"));
  EXPECT_EQ(allocator.Allocated("f1"), R("cpus:1;mem:100"));
  EXPECT_EQ(allocator.Available("a1"), R("cpus:9"));
}

TEST(AllocatorBookkeepingTest, RemoveAgentDropsItsAllocationsAndFilters) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:2;mem:20"));
  allocator.AddAgent("a2", R("cpus:2;mem:20"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  std::vector<Allocation> allocations = allocator.Allocate(0);
  ASSERT_EQ(allocations.size(), 2u);
  EXPECT_EQ(allocations[0].framework_id, "f1");
  EXPECT_EQ(allocations[0].agent_id, "a1");
  allocator.AddFilter("f2", "a1", 100, 0);
  EXPECT_EQ(allocator.FilterCount(), 1u);

  allocator.RemoveAgent("a1");
  EXPECT_EQ(allocator.FilterCount(), 0u);
  EXPECT_TRUE(allocator.Allocated("f1").empty());
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f1"), 0);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f2"), 1);  // a2 is now the whole cluster
  EXPECT_EQ(allocator.Total(), R("cpus:2;mem:20"));
  EXPECT_TRUE(allocator.Available("a1").empty());

  // The same id can register again, fresh.
  allocator.AddAgent("a1", R("cpus:1;mem:10"));
  allocations = allocator.Allocate(1);
  ASSERT_EQ(allocations.size(), 1u);
  EXPECT_EQ(allocations[0].framework_id, "f1");
  EXPECT_EQ(allocations[0].resources, R("cpus:1;mem:10"));
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f2"), 2.0 / 3);
}

TEST(AllocatorBookkeepingTest, RemoveFrameworkReturnsItsAllocationsAndDropsFilters) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:2;mem:20"));
  allocator.AddAgent("a2", R("cpus:2;mem:20"));
  allocator.AddFramework("f1", {"r"});
  allocator.AddFramework("f2", {"r"});
  allocator.Suppress("f2", {});
  ASSERT_EQ(allocator.Allocate(0).size(), 2u);
  EXPECT_EQ(allocator.Allocated("f1"), R("cpus:4;mem:40"));
  allocator.AddFilter("f1", "a1", 100, 0);

  allocator.RemoveFramework("f1");
  EXPECT_EQ(allocator.FilterCount(), 0u);
  EXPECT_TRUE(allocator.Allocated("f1").empty());
  EXPECT_DOUBLE_EQ(allocator.RoleShare("r"), 0);
  EXPECT_EQ(allocator.Available("a1"), R("cpus:2;mem:20"));
  EXPECT_EQ(allocator.Available("a2"), R("cpus:2;mem:20"));
  allocator.RemoveFramework("f1");  // Twice is harmless.

  allocator.Revive("f2", {});
  EXPECT_EQ(CountByFramework(allocator.Allocate(1)), (std::map<FrameworkId, int>{{"f2", 2}}));

  allocator.AddFramework("f1", {"r"});  // Re-added: a fresh framework.
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f1"), 0);
  EXPECT_EQ(allocator.FilterCount(), 0u);
}

TEST(AllocatorBookkeepingTest, UsedResourcesOnReregistration) {
  Allocator allocator;
  allocator.AddFramework("known", {"r"});
  allocator.AddAgent("a1", R("cpus:4;mem:40"), {{"known", {{"r", R("cpus:1;mem:10")}}}});
  EXPECT_EQ(allocator.Allocated("known"), R("cpus:1;mem:10"));
  EXPECT_EQ(allocator.Available("a1"), R("cpus:3;mem:30"));

  // An agent reports use by a framework that has not resubscribed yet: the
  // resources are not offered, and the framework owns them once it is back.
  allocator.AddAgent("a2", R("cpus:4;mem:40"), {{"late", {{"r", R("cpus:2;mem:20")}}}});
  EXPECT_EQ(allocator.Available("a2"), R("cpus:2;mem:20"));
  allocator.AddFramework("late", {"r"},
                         {{"a2", {{"r", R("cpus:2;mem:20")}}}, {"a1", {{"r", R("cpus:1")}}}});
  EXPECT_EQ(allocator.Allocated("late"), R("cpus:3;mem:20"));
  EXPECT_EQ(allocator.Available("a1"), R("cpus:2;mem:30"));
  EXPECT_EQ(allocator.Available("a2"), R("cpus:2;mem:20"));
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("late"), 3.0 / 8);
  EXPECT_EQ(allocator.Total(), R("cpus:8;mem:80"));
}

TEST(AllocatorBookkeepingTest, ReservedUseCountsTowardsItsRole) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4;cpus(db):4"));
  allocator.AddFramework("f", {"web", "db"}, {{"a1", {{"", R("cpus:2;cpus(db):4")}}}});
  EXPECT_DOUBLE_EQ(allocator.RoleShare("db"), 0.5);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), 0.25);
  EXPECT_DOUBLE_EQ(allocator.FrameworkShare("f"), 0.75);
  allocator.Recover("f", "a1", R("cpus(db):4"));
  EXPECT_DOUBLE_EQ(allocator.RoleShare("db"), 0);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), 0.25);
}

TEST(AllocatorBookkeepingTest, ReportedUseIsChargedToTheRoleItWasAllocatedTo) {
  Allocator allocator;
  allocator.AddFramework("f", {"web", "batch"});
  // A multi-role framework's unreserved use, as an agent reports it after a
  // failover: each part to its own role, not all to the first.
  allocator.AddAgent("a1", R("cpus:8"), {{"f", {{"web", R("cpus:1")}, {"batch", R("cpus:3")}}}});
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), 1.0 / 8);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("batch"), 3.0 / 8);
  // Reported before the framework is back: kept by role until it is.
  allocator.AddAgent("a2", R("cpus:8"), {{"g", {{"db", R("cpus:2")}, {"", R("cpus:2")}}}});
  allocator.AddFramework("g", {"web", "db"});
  EXPECT_DOUBLE_EQ(allocator.RoleShare("db"), 2.0 / 16);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), (1.0 + 2.0) / 16);
  // A task ending gives back to its own role.
  allocator.Recover("f", "a1", R("cpus:3"), "batch");
  EXPECT_DOUBLE_EQ(allocator.RoleShare("batch"), 0);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), 3.0 / 16);
}

TEST(AllocatorBookkeepingTest, NewRolesOnResubscriptionKeepTheSuppressionOfTheRolesKept) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddAgent("a2", R("cpus:4"));
  allocator.AddFramework("f", {"web", "db"}, {{"a1", {{"web", R("cpus:1")}}}});
  allocator.Suppress("f", {"web"});
  allocator.UpdateFrameworkRoles("f", {"web", "batch"});
  std::set<std::string> offered_roles;
  for (const Allocation& a : allocator.Allocate(0)) offered_roles.insert(a.role);
  EXPECT_EQ(offered_roles, (std::set<std::string>{"batch"})) << "web stays suppressed";
  EXPECT_DOUBLE_EQ(allocator.RoleShare("web"), 1.0 / 8);
  EXPECT_EQ(allocator.Allocated("f"), R("cpus:8"));
}

// What a framework was just allocated (offers the master has not made yet)
// stays held across a role change: it must not be free for another framework.
TEST(AllocatorBookkeepingTest, ARoleChangeKeepsWhatIsAllocatedAndMovesADroppedRolesShare) {
  Allocator allocator;
  allocator.AddAgent("a1", R("cpus:4"));
  allocator.AddFramework("f", {"db"});
  ASSERT_EQ(allocator.Allocate(0).size(), 1u);
  allocator.Suppress("f", {});
  allocator.AddFramework("g", {"web"});
  allocator.UpdateFrameworkRoles("f", {"batch", "web"});
  EXPECT_EQ(allocator.Allocated("f"), R("cpus:4"));
  EXPECT_EQ(allocator.Available("a1"), Resources());
  EXPECT_TRUE(allocator.Allocate(1).empty()) << "nothing is free to offer g";
  EXPECT_DOUBLE_EQ(allocator.RoleShare("db"), 0);
  EXPECT_DOUBLE_EQ(allocator.RoleShare("batch"), 1);
  allocator.Recover("f", "a1", R("cpus:4"), "db");  // an offer of the old role comes back
  EXPECT_DOUBLE_EQ(allocator.RoleShare("batch"), 0);
  EXPECT_EQ(allocator.Available("a1"), R("cpus:4"));
}

// Random operations checked against a model: conservation of resources, and
// after every round no framework that wants offers, has not filtered an agent
// and could use part of its available resources was left without an offer.
class AllocatorModelTest : public testing::TestWithParam<unsigned> {};

TEST_P(AllocatorModelTest, RandomOperationsKeepTheInvariants) {
  std::mt19937 random(GetParam());
  size_t offered = 0;
  auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };

  const std::vector<std::string> agent_ids = {"a0", "a1", "a2", "a3", "a4", "a5"};
  const std::vector<Resources> agent_totals = {
      R("cpus:4;mem:1024;ports:[1-10]"), R("cpus:2;mem:512;cpus(r1):2"),
      R("cpus:8;mem:256;mem(r2):64"),    R("cpus:1;mem:64"),
      R("cpus(r1):4;mem(r1):512"),       R("cpus:16;mem:4096;ports:[100-200]")};
  const std::map<FrameworkId, std::vector<std::string>> subscriptions = {
      {"f0", {"r1"}}, {"f1", {"r1"}}, {"f2", {"r2"}}, {"f3", {"r1", "r2"}}, {"f4", {"r3"}}};

  struct FrameworkModel {
    bool active = true;
    std::set<std::string> suppressed;
    std::map<std::string, double> filter_until;  // by agent
    std::map<std::string, Resources> held;       // by agent
  };
  std::map<FrameworkId, FrameworkModel> frameworks;
  std::map<std::string, bool> agents;  // id -> active

  Allocator allocator;
  for (size_t i = 0; i < agent_ids.size(); ++i) {
    allocator.AddAgent(agent_ids[i], agent_totals[i]);
    agents[agent_ids[i]] = true;
  }
  for (const auto& [id, roles] : subscriptions) {
    allocator.AddFramework(id, roles);
    frameworks[id];
  }
  allocator.SetWeight("r2", 2);

  auto total_of = [&](const std::string& agent) {
    for (size_t i = 0; i < agent_ids.size(); ++i) {
      if (agent_ids[i] == agent) return agent_totals[i];
    }
    return Resources();
  };

  double now = 0;
  for (int step = 0; step < 5000; ++step) {
    now += static_cast<double>(pick(4)) * 0.5;
    FrameworkId f = "f" + std::to_string(pick(subscriptions.size()));
    const std::string& a = agent_ids[pick(agent_ids.size())];
    bool framework_live = frameworks.count(f) != 0;
    bool agent_live = agents.count(a) != 0;
    switch (pick(12)) {
      case 0:
      case 1:
      case 2: {
        std::vector<Allocation> allocations = allocator.Allocate(now);
        offered += allocations.size();
        for (const Allocation& offer : allocations) {
          ASSERT_TRUE(frameworks.count(offer.framework_id)) << offer.framework_id;
          FrameworkModel& model = frameworks[offer.framework_id];
          const std::vector<std::string>& roles = subscriptions.at(offer.framework_id);
          EXPECT_TRUE(model.active) << "step " << step;
          EXPECT_TRUE(agents.at(offer.agent_id)) << "step " << step;
          EXPECT_NE(std::find(roles.begin(), roles.end(), offer.role), roles.end());
          EXPECT_EQ(model.suppressed.count(offer.role), 0u) << "step " << step;
          EXPECT_FALSE(model.filter_until.count(offer.agent_id) &&
                       model.filter_until[offer.agent_id] > now)
              << "step " << step << ": offered through a live filter";
          EXPECT_EQ(offer.resources.AllocatableTo(offer.role), offer.resources);
          model.held[offer.agent_id] += offer.resources;
        }
        // The round left nobody out.
        for (const auto& [agent, active] : agents) {
          if (!active) continue;
          Resources available = allocator.Available(agent);
          for (const auto& [id, model] : frameworks) {
            if (!model.active) continue;
            auto filter = model.filter_until.find(agent);
            if (filter != model.filter_until.end() && filter->second > now) continue;
            for (const std::string& role : subscriptions.at(id)) {
              if (model.suppressed.count(role)) continue;
              EXPECT_TRUE(available.AllocatableTo(role).empty())
                  << "step " << step << ": " << id << " in " << role << " was not offered "
                  << available.ToString() << " on " << agent;
            }
          }
        }
        size_t live_filters = 0;
        for (const auto& [id, model] : frameworks) {
          for (const auto& [agent, until] : model.filter_until) live_filters += until > now;
        }
        EXPECT_EQ(allocator.FilterCount(), live_filters) << "step " << step;
        break;
      }
      case 3:
      case 4: {  // Decline or finish: give back all or part of what is held on an agent.
        if (!framework_live || !frameworks[f].held.count(a)) break;
        Resources& held = frameworks[f].held[a];
        Resources part = pick(2) == 0 ? held : held - Resources::Scalar("cpus", 1);
        part = held - (held - part);
        allocator.Recover(f, a, part);
        held -= part;
        if (held.empty()) frameworks[f].held.erase(a);
        if (pick(2) == 0) {
          double seconds = 1 + static_cast<double>(pick(10));
          allocator.AddFilter(f, a, seconds, now);
          double& until = frameworks[f].filter_until[a];
          until = std::max(until, now + seconds);
        }
        break;
      }
      case 5:
        if (!framework_live) break;
        allocator.Revive(f, {});
        frameworks[f].suppressed.clear();
        frameworks[f].filter_until.clear();
        break;
      case 6: {
        if (!framework_live) break;
        const std::vector<std::string>& roles = subscriptions.at(f);
        const std::string& role = roles[pick(roles.size())];
        if (pick(2) == 0) {
          allocator.Suppress(f, {role});
          frameworks[f].suppressed.insert(role);
        } else {
          allocator.Revive(f, {role});
          frameworks[f].suppressed.erase(role);
          frameworks[f].filter_until.clear();
        }
        break;
      }
      case 7:
        if (!framework_live) break;
        frameworks[f].active = !frameworks[f].active;
        if (frameworks[f].active) {
          allocator.ActivateFramework(f);
        } else {
          allocator.DeactivateFramework(f);
        }
        break;
      case 8:
        if (!agent_live) break;
        agents[a] = !agents[a];
        if (agents[a]) {
          allocator.ActivateAgent(a);
        } else {
          allocator.DeactivateAgent(a);
        }
        break;
      case 9:
        if (framework_live) {
          allocator.RemoveFramework(f);
          frameworks.erase(f);
        } else {
          allocator.AddFramework(f, subscriptions.at(f));
          frameworks[f];
        }
        break;
      case 10:
        if (agent_live && pick(3) == 0) {
          allocator.RemoveAgent(a);
          agents.erase(a);
          for (auto& [id, model] : frameworks) {
            model.held.erase(a);
            model.filter_until.erase(a);
          }
        } else if (!agent_live) {
          allocator.AddAgent(a, total_of(a));
          agents[a] = true;
        }
        break;
      case 11:
        if (framework_live && agent_live) {
          double seconds = 1 + static_cast<double>(pick(20));
          allocator.AddFilter(f, a, seconds, now);
          double& until = frameworks[f].filter_until[a];
          until = std::max(until, now + seconds);
        }
        break;
    }

    // Conservation on every agent, and per-framework totals.
    for (const auto& [agent, active] : agents) {
      Resources accounted = allocator.Available(agent);
      for (const auto& [id, model] : frameworks) {
        auto it = model.held.find(agent);
        if (it != model.held.end()) accounted += it->second;
      }
      ASSERT_EQ(accounted, total_of(agent)) << "step " << step << " agent " << agent;
    }
    for (const auto& [id, model] : frameworks) {
      Resources held;
      for (const auto& [agent, resources] : model.held) held += resources;
      Resources allocated = allocator.Allocated(id);
      for (const char* name : {"cpus", "mem"}) {
        ASSERT_EQ(allocated.GetMillis(name), held.GetMillis(name)) << "step " << step << " " << id;
      }
      double share = allocator.FrameworkShare(id);
      ASSERT_GE(share, 0);
      ASSERT_LE(share, 1);
    }
  }
  EXPECT_GT(offered, 200u);  // The run exercised allocation, not just bookkeeping.
}

INSTANTIATE_TEST_SUITE_P(Seeds, AllocatorModelTest, testing::Values(1u, 2u, 3u, 12345u, 99999u));

}  // namespace
}  // namespace stoa::master

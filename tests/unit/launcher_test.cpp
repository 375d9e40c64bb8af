// The launches waiting for their provisioning (agent/launcher.hpp): grouped by
// the provisioner they wait on, and an update for one of them goes with its
// launch, the latest winning, never before it and never lost.
#include "agent/launcher.hpp"

#include <gtest/gtest.h>

namespace stoa::agent {
namespace {

ContainerConfig Config(const ContainerId& id, const std::string& rootfs) {
  ContainerConfig config;
  config.container_id = id;
  config.container.rootfs = rootfs;
  config.resources = *Resources::Parse("cpus:1;mem:64");
  return config;
}

TEST(PendingLaunches, AnUpdateForAContainerBeingProvisionedGoesWithItsLaunch) {
  PendingLaunches pending;
  EXPECT_TRUE(pending.Add(Config("a", "/images/one.tar")));   // its provisioner starts
  EXPECT_FALSE(pending.Add(Config("b", "/images/one.tar")));  // waits on the same one
  EXPECT_TRUE(pending.Add(Config("c", "/images/two.tar")));
  EXPECT_TRUE(pending.Contains("a"));
  EXPECT_FALSE(pending.Contains("running"));
  EXPECT_TRUE(pending.Update("a", *Resources::Parse("cpus:1;mem:128")));
  EXPECT_TRUE(pending.Update("a", *Resources::Parse("cpus:1;mem:192")));
  EXPECT_FALSE(pending.Update("running", *Resources::Parse("cpus:1;mem:128")));

  std::optional<PendingLaunches::Taken> a = pending.Take("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->config.container_id, "a");
  EXPECT_EQ(a->config.resources.Get("mem"), 192);  // the latest asked for
  EXPECT_EQ(a->provisioner, "/images/one.tar");
  EXPECT_FALSE(a->last);  // b still waits on it
  // Launched: its updates go to the launcher from now on, behind the launch.
  EXPECT_FALSE(pending.Update("a", *Resources::Parse("cpus:1;mem:256")));
  std::optional<PendingLaunches::Taken> b = pending.Take("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->config.resources.Get("mem"), 64);
  EXPECT_TRUE(b->last);
  EXPECT_FALSE(pending.Take("b").has_value());
  std::optional<PendingLaunches::Taken> c = pending.Take("c");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->last);
  EXPECT_EQ(pending.size(), 0u);
}

}  // namespace
}  // namespace stoa::agent

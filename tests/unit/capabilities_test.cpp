// A5: tasks hold a bounded capability set. Checked on real processes: what
// the kernel says a launched process holds, and that root without
// CAP_SYS_PTRACE cannot reach another process's root through /proc.
#include "isolators/capabilities.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "isolators/launcher.hpp"
#include "tests/test_util.hpp"

namespace stoa::isolators {
namespace {

TEST(Capabilities, ParseNamesInAnyCaseWithOrWithoutThePrefix) {
  auto set = ParseCapabilities(" chown, CAP_NET_BIND_SERVICE ,Kill");
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(*set, (CapabilitySet{1} << CAP_CHOWN) | (CapabilitySet{1} << CAP_NET_BIND_SERVICE) |
                      (CapabilitySet{1} << CAP_KILL));
  EXPECT_EQ(FormatCapabilities(*set), "CHOWN,KILL,NET_BIND_SERVICE");
  EXPECT_EQ(*ParseCapabilities(FormatCapabilities(DefaultTaskCapabilities())),
            DefaultTaskCapabilities());
  EXPECT_EQ(*ParseCapabilities("all"), AllCapabilities());
  EXPECT_EQ(*ParseCapabilities("NONE"), 0u);
  EXPECT_EQ(FormatCapabilities(0), "none");
  EXPECT_EQ(DefaultTaskCapabilities() & (CapabilitySet{1} << CAP_SYS_ADMIN), 0u);
  EXPECT_EQ(DefaultTaskCapabilities() & (CapabilitySet{1} << CAP_SYS_PTRACE), 0u);
}

TEST(Capabilities, UnknownNamesAreNamedInTheError) {
  auto set = ParseCapabilities("chown,sys_wizard,fly");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().find("SYS_WIZARD, FLY"), std::string::npos) << set.error();
}

class LaunchedCapabilities : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: capabilities are limited only by root";
  }

  // Runs `script` under /bin/sh as `plan` says; returns its stdout, and its
  // exit status through `status`.
  std::string Run(ProcessPlan plan, const std::string& script, int* status = nullptr) {
    std::string out = dir_.path() + "/out";
    UniqueFd fd(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    plan.program = "/bin/sh";
    plan.arguments = {"sh", "-c", script};
    plan.environment = {"PATH=/usr/bin:/bin"};
    plan.stdout_fd = fd.get();
    plan.stderr_fd = fd.get();
    auto child = Launch(std::move(plan));
    EXPECT_TRUE(child.ok()) << child.error();
    if (!child.ok()) return "";
    int wait_status = 0;
    waitpid(child->pid(), &wait_status, 0);
    if (status != nullptr) *status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The Cap* lines of /proc/self/status, as numbers.
  std::map<std::string, CapabilitySet> HeldBy(ProcessPlan plan) {
    std::string text = Run(std::move(plan), "grep '^Cap' /proc/self/status");
    std::map<std::string, CapabilitySet> sets;
    std::istringstream lines(text);
    std::string name, hex;
    while (lines >> name >> hex) sets[name] = std::stoull(hex, nullptr, 16);
    return sets;
  }

  stoa::testing::TempDir dir_;
};

TEST_F(LaunchedCapabilities, ARootProcessKeepsOnlyItsSet) {
  ProcessPlan plan;
  plan.capabilities = DefaultTaskCapabilities();
  auto held = HeldBy(plan);
  EXPECT_EQ(held["CapBnd:"], DefaultTaskCapabilities());
  EXPECT_EQ(held["CapEff:"], DefaultTaskCapabilities());
  EXPECT_EQ(held["CapPrm:"], DefaultTaskCapabilities());
  EXPECT_EQ(held["CapAmb:"], 0u);

  // Unlimited, a root process holds everything: the limit is what made the difference.
  auto unlimited = HeldBy(ProcessPlan{});
  EXPECT_NE(unlimited["CapBnd:"] & (CapabilitySet{1} << CAP_SYS_ADMIN), 0u);
}

TEST_F(LaunchedCapabilities, RootWithoutPtraceCannotEnterAnotherProcesssRoot) {
  // The review's escape: a root task reads the host through /proc/1/root,
  // where pid 1 of its namespace is its executor (root, every capability).
  ProcessPlan target;
  target.program = "/bin/sleep";
  target.arguments = {"sleep", "60"};
  auto executor = Launch(target);
  ASSERT_TRUE(executor.ok()) << executor.error();
  std::string root = "/proc/" + std::to_string(executor->pid()) + "/root/";
  int status = -1;
  Run(ProcessPlan{}, "ls " + root + " >/dev/null", &status);
  EXPECT_EQ(status, 0) << "with every capability, root can";
  ProcessPlan plan;
  plan.capabilities = DefaultTaskCapabilities();
  std::string out = Run(plan, "ls " + root, &status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  kill(executor->pid(), SIGKILL);
  waitpid(executor->pid(), nullptr, 0);
}

TEST_F(LaunchedCapabilities, ANonRootUserGetsNoneBackThroughSetuidBinaries) {
  ProcessPlan plan;
  plan.capabilities = CapabilitySet{0};
  auto nobody = LookUpUser("nobody");
  if (!nobody.ok()) GTEST_SKIP() << "needs the user 'nobody'";
  plan.user = *nobody;
  auto held = HeldBy(plan);
  EXPECT_EQ(held["CapBnd:"], 0u);
  EXPECT_EQ(held["CapEff:"], 0u);
}

}  // namespace
}  // namespace stoa::isolators

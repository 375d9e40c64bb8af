// Isolation through the whole cluster (master, one agent, SDK schedulers, real
// executors): a task over its memory limit fails with MEMORY_LIMIT and the
// agent goes on; usage at /monitor/statistics and in the master's /metrics;
// tasks in a root filesystem and as an unprivileged user. Needs root.
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cluster/cluster_fixture.hpp"

namespace stoa {
namespace {

namespace fs = std::filesystem;
using cluster::ClusterTest;
using cluster::Command;
using cluster::Recorder;
using json = nlohmann::json;
using stoa::testing::ReadFile;
using stoa::testing::WaitFor;

constexpr const char* kIsolation =
    "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
    "namespaces/ipc,filesystem/linux";

class IsolationClusterTest : public ClusterTest {
 protected:
  IsolationClusterTest() { agent_count_ = 1; }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: cgroups, namespaces and mounts";
    for (const char* controller : {"cpu", "memory", "pids"}) {
      auto found = isolators::cgroups::FindHierarchy(controller);
      if (!found.ok()) GTEST_SKIP() << found.error();
    }
    ClusterTest::SetUp();
  }

  void AdjustAgent(int, agent::AgentOptions& options) override {
    options.isolation = kIsolation;
    options.pids_limit = 64;
  }

  // The agent's view of the sandbox of a task (running or completed).
  std::string Sandbox(const TaskId& id) {
    json state = json::parse(agents_[0]->StateJson());
    for (const auto& task : state["completed_tasks"]) {
      if (task["id"] == id) return task["sandbox"];
    }
    for (const auto& framework : state["frameworks"]) {
      for (const auto& executor : framework["executors"]) {
        for (const auto& task : executor["tasks"]) {
          if (task["id"] == id) return task["sandbox"];
        }
      }
    }
    return "";
  }

  // Launches `task` on the next offer and waits for its terminal state.
  std::optional<TaskStatus> RunToEnd(Recorder& recorder, sdk::SchedulerDriver& driver,
                                     TaskInfo task, TaskState expected) {
    size_t seen = recorder.offers().size();
    if (seen == 0) {
      EXPECT_TRUE(recorder.WaitForOffers(1));
      seen = 1;
    }
    driver.Launch(recorder.offers().back(), {task});
    EXPECT_TRUE(recorder.WaitForState(task.task_id, expected))
        << "task " << task.task_id << ": " << Describe(recorder, task.task_id);
    return recorder.Find(task.task_id, expected);
  }

  static std::string Describe(Recorder& recorder, const TaskId& id) {
    std::string text;
    for (const auto& update : recorder.updates()) {
      if (update.task_id != id) continue;
      text += std::string(ToString(update.state)) + " (" + ToString(update.reason) +
              "): " + update.message + "; ";
    }
    return text;
  }

  std::string Helper() { return stoa::testing::BinDir() + "/stoa-isolation-helper"; }
};

TEST_F(IsolationClusterTest, TaskOverItsMemoryLimitFailsAndTheAgentGoesOn) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  auto failed =
      RunToEnd(recorder, driver, Command("hog", Helper() + " allocate 256", "cpus:0.5;mem:64"),
               TaskState::kFailed);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->reason, Reason::kMemoryLimit) << failed->message;
  EXPECT_NE(failed->message.find("memory limit of 64 MiB exceeded"), std::string::npos)
      << failed->message;
  ASSERT_TRUE(WaitFor([&] { return MasterTask("hog")["state"] == "TASK_FAILED"; }));
  // The agent launches the next task as if nothing happened.
  driver.Revive();
  ASSERT_TRUE(recorder.WaitForOffers(2));
  auto finished =
      RunToEnd(recorder, driver, Command("after", "echo still fine"), TaskState::kFinished);
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(ReadFile(Sandbox("after") + "/stdout"), "still fine\n");
}

TEST_F(IsolationClusterTest, ForkBombIsContainedAndOtherTasksKeepWorking) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver, Command("bomb", "b() { b | b & }; b; exec sleep 600"));
  ASSERT_TRUE(recorder.WaitForState("bomb", TaskState::kRunning));
  json statistics;
  auto pids = isolators::cgroups::FindHierarchy("pids");
  ASSERT_TRUE(pids.ok()) << pids.error();
  // The kernel refused forks at the limit (the bomb's size at any one moment
  // rises and collapses as its shells give up, so it is no signal to wait on).
  ASSERT_TRUE(WaitFor([&] {
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    statistics = body.ok() ? json::parse(*body) : json::array();
    if (statistics.size() != 1) return false;
    std::string path = isolators::cgroups::ContainerPath(
        *pids, cgroups_root_, statistics[0]["container_id"].get<std::string>());
    auto events = isolators::cgroups::ReadKeyed(path, "pids.events");
    return events.ok() && (*events)["max"] > 0;
  })) << statistics.dump();
  // The limit counts threads (the executor has a few) as well as processes.
  EXPECT_LE(statistics[0]["statistics"]["threads"].get<int>(), 64);
  EXPECT_LE(statistics[0]["statistics"]["processes"].get<int>(), 64);
  driver.Revive();
  ASSERT_TRUE(recorder.WaitForOffers(2));
  auto finished =
      RunToEnd(recorder, driver, Command("bystander", "echo unharmed"), TaskState::kFinished);
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(ReadFile(Sandbox("bystander") + "/stdout"), "unharmed\n");
  driver.Kill("bomb");
  ASSERT_TRUE(recorder.WaitForState("bomb", TaskState::kKilled)) << Describe(recorder, "bomb");
  // Every container is gone, with its cgroups.
  ASSERT_TRUE(WaitFor([&] {
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    return body.ok() && json::parse(*body).empty();
  }));
  ASSERT_TRUE(WaitFor([&] { return isolators::cgroups::List(*pids, cgroups_root_).empty(); }));
}

TEST_F(IsolationClusterTest, ExecutorsWithTheSameIdInTwoFrameworksBothRun) {
  // Each executor is pid 1 of its own pid namespace: that must not make two of
  // them look alike to the agent.
  Recorder first, second;
  auto& first_driver = StartDriver(&first);
  auto& second_driver = StartDriver(&second);
  LaunchOnFirstOffer(first, first_driver, Command("twin", "sleep 60", "cpus:0.5;mem:64"));
  ASSERT_TRUE(first.WaitForState("twin", TaskState::kRunning));
  second_driver.Revive();
  LaunchOnFirstOffer(second, second_driver, Command("twin", "sleep 60", "cpus:0.5;mem:64"));
  ASSERT_TRUE(second.WaitForState("twin", TaskState::kRunning)) << Describe(second, "twin");
  first_driver.Kill("twin");
  second_driver.Kill("twin");
  ASSERT_TRUE(first.WaitForState("twin", TaskState::kKilled)) << Describe(first, "twin");
  ASSERT_TRUE(second.WaitForState("twin", TaskState::kKilled)) << Describe(second, "twin");
}

TEST_F(IsolationClusterTest, MonitorStatisticsAndMasterMetricsReportRunningContainers) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver, Command("busy", "sleep 60", "cpus:0.5;mem:64"));
  ASSERT_TRUE(recorder.WaitForState("busy", TaskState::kRunning));
  json statistics;
  ASSERT_TRUE(WaitFor([&] {
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    if (!body.ok()) return false;
    statistics = json::parse(*body);
    return statistics.size() == 1;
  })) << statistics.dump();
  const json& entry = statistics[0];
  EXPECT_EQ(entry["framework_id"], recorder.framework_id());
  EXPECT_FALSE(entry["executor_id"].get<std::string>().empty());
  const json& usage = entry["statistics"];
  EXPECT_GE(usage["mem_limit_bytes"].get<uint64_t>(), 64u << 20) << usage.dump();
  EXPECT_GT(usage["mem_total_bytes"].get<uint64_t>(), 0u) << usage.dump();
  EXPECT_GE(usage["processes"].get<uint64_t>(), 2u) << usage.dump();  // executor and sleep
  EXPECT_GE(usage["cpus_limit"].get<double>(), 0.5) << usage.dump();
  EXPECT_TRUE(usage.contains("cpus_user_time_secs")) << usage.dump();
  EXPECT_TRUE(usage.contains("cpus_throttled_time_secs")) << usage.dump();
  // The master sums what the agents report with their pongs.
  std::string metrics;
  ASSERT_TRUE(WaitFor([&] {
    auto body = HttpGet("127.0.0.1", master_->http_port(), "/metrics");
    metrics = body.ok() ? *body : "";
    return metrics.find("stoa_master_containers 1\n") != std::string::npos;
  })) << metrics;
  EXPECT_NE(metrics.find("stoa_master_container_processes "), std::string::npos);
  EXPECT_EQ(metrics.find("stoa_master_container_memory_bytes 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("stoa_master_container_cpu_seconds "), std::string::npos);
  driver.Kill("busy");
  ASSERT_TRUE(recorder.WaitForState("busy", TaskState::kKilled));
  ASSERT_TRUE(WaitFor([&] {
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    return body.ok() && json::parse(*body).empty();
  }));
}

TEST_F(IsolationClusterTest, TaskInARootFilesystemSeesOnlyItsRootAndItsSandbox) {
  if (!fs::exists("/bin/busybox")) {
    GTEST_SKIP() << "needs /bin/busybox (Debian's busybox-static; scripts/install-deps.sh)";
  }
  std::string root = dir_.path() + "/busybox-root";
  fs::create_directories(root + "/bin");
  fs::copy_file("/bin/busybox", root + "/bin/busybox");
  for (const char* applet : {"sh", "ls", "cat", "echo", "test", "hostname", "grep", "wc"}) {
    fs::create_symlink("busybox", root + "/bin/" + applet);
  }
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  TaskInfo task = Command("jailed",
                          "test -e /etc/debian_version && echo host-visible; "
                          "test -f /mnt/sandbox/stdout && echo sandbox=$STOA_SANDBOX; "
                          "echo host=$(hostname); ls /proc | grep -c '^[0-9]'");
  task.container.rootfs = root;
  task.container.hostname = "jail";
  auto finished = RunToEnd(recorder, driver, task, TaskState::kFinished);
  ASSERT_TRUE(finished.has_value());
  std::string output = ReadFile(Sandbox("jailed") + "/stdout");
  std::string expected = "sandbox=/mnt/sandbox\nhost=jail\n";
  ASSERT_EQ(output.substr(0, expected.size()), expected) << output;
  // Its pid namespace holds the executor (1), the shell and what it runs.
  EXPECT_LE(std::stoi(output.substr(expected.size())), 4) << output;
}

TEST_F(IsolationClusterTest, TaskRunsAsItsUser) {
  struct passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "needs the user 'nobody'";
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  TaskInfo task = Command("unprivileged", "id -u; touch mine && echo wrote-sandbox");
  task.command.user = "nobody";
  auto finished = RunToEnd(recorder, driver, task, TaskState::kFinished);
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(ReadFile(Sandbox("unprivileged") + "/stdout"),
            std::to_string(nobody->pw_uid) + "\nwrote-sandbox\n");
}

// A10: a second LAUNCH_GROUP for a running executor raises its container's
// limits to the executor's resources plus every live task's, and a task that
// ends lowers them again.
TEST_F(IsolationClusterTest, ASecondTaskGroupRaisesTheContainersMemoryLimit) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  ASSERT_TRUE(recorder.WaitForOffers(1));
  Operation group;
  group.type = Operation::Type::kLaunchGroup;
  group.executor.executor_id = "grouped";
  group.executor.group = true;
  group.executor.resources = *Resources::Parse("cpus:0.1;mem:32");
  group.tasks = {Command("first", "sleep 60", "cpus:0.5;mem:64")};
  size_t seen = recorder.offers().size();  // the next offer is one made after this accept
  driver.Accept({recorder.offers().back().id}, {group}, /*refuse_seconds=*/0);
  ASSERT_TRUE(recorder.WaitForState("first", TaskState::kRunning)) << Describe(recorder, "first");
  auto memory_limit = [&]() -> uint64_t {
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    if (!body.ok()) return 0;
    json statistics = json::parse(*body);
    if (statistics.size() != 1) return 0;
    return statistics[0]["statistics"].value("mem_limit_bytes", uint64_t{0});
  };
  ASSERT_TRUE(WaitFor([&] { return memory_limit() == (96u << 20); })) << memory_limit();

  ASSERT_TRUE(WaitFor([&] { return recorder.offers().size() > seen; }));
  group.tasks = {Command("second", "sleep 60", "cpus:0.5;mem:64")};
  driver.Accept({recorder.offers().back().id}, {group}, 0);
  ASSERT_TRUE(recorder.WaitForState("second", TaskState::kRunning)) << Describe(recorder, "second");
  ASSERT_TRUE(WaitFor([&] { return memory_limit() == (160u << 20); })) << memory_limit();

  driver.Kill("first");
  ASSERT_TRUE(recorder.WaitForState("first", TaskState::kKilled));
  EXPECT_TRUE(WaitFor([&] { return memory_limit() == (96u << 20); })) << memory_limit();
  driver.Kill("second");
  ASSERT_TRUE(recorder.WaitForState("second", TaskState::kKilled));
}

}  // namespace
}  // namespace stoa

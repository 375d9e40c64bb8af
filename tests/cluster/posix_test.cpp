// A whole cluster (master, one agent with posix isolation, an SDK scheduler,
// real executors): what is left of a container when its executor dies, and
// disk/du's quota on what a task writes into its sandbox.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "tests/cluster/cluster_fixture.hpp"

namespace stoa {
namespace {

using cluster::ClusterTest;
using cluster::Command;
using cluster::Recorder;
using json = nlohmann::json;
using stoa::testing::ReadFile;
using stoa::testing::WaitFor;

// Whether `pid` runs (exists and is not a zombie).
bool Alive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

class PosixClusterTest : public ClusterTest {
 protected:
  PosixClusterTest() { agent_count_ = 1; }
  void AdjustAgent(int, agent::AgentOptions& options) override { options.isolation = "posix"; }

  // The agent's executor entry running `task_id`, or null.
  json ExecutorOf(const TaskId& task_id) {
    json state = json::parse(agents_[0]->StateJson());
    for (const auto& framework : state["frameworks"]) {
      for (const auto& executor : framework["executors"]) {
        for (const auto& task : executor["tasks"]) {
          if (task["id"] == task_id) return executor;
        }
      }
    }
    return nullptr;
  }
};

TEST_F(PosixClusterTest, KilledExecutorTakesItsTaskAndTheTasksChildrenAlong) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver,
                     Command("tree", "sleep 600 & echo $! > grandchild; echo $$ > task; wait"));
  ASSERT_TRUE(recorder.WaitForState("tree", TaskState::kRunning));
  json executor;
  pid_t task = 0;
  pid_t grandchild = 0;
  ASSERT_TRUE(WaitFor([&] {
    executor = ExecutorOf("tree");
    if (executor.is_null()) return false;
    std::string sandbox = executor["sandbox"];
    std::string task_text = ReadFile(sandbox + "/task");
    std::string child_text = ReadFile(sandbox + "/grandchild");
    if (task_text.find('\n') == std::string::npos || child_text.find('\n') == std::string::npos) {
      return false;
    }
    task = static_cast<pid_t>(std::stol(task_text));
    grandchild = static_cast<pid_t>(std::stol(child_text));
    return true;
  })) << executor.dump();
  pid_t executor_pid = executor["pid"];
  ASSERT_GT(executor_pid, 0);
  ASSERT_TRUE(Alive(task) && Alive(grandchild));

  ASSERT_EQ(kill(executor_pid, SIGKILL), 0);
  EXPECT_TRUE(WaitFor([&] { return !Alive(task) && !Alive(grandchild); }, std::chrono::seconds(10)))
      << "left running: task " << Alive(task) << ", grandchild " << Alive(grandchild);
  for (pid_t pid : {task, grandchild}) kill(pid, SIGKILL);
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& update : recorder.updates()) {
      if (update.task_id == "tree" && IsTerminal(update.state)) return true;
    }
    return false;
  }));
}

class DiskQuotaClusterTest : public PosixClusterTest {
 protected:
  void AdjustAgent(int, agent::AgentOptions& options) override {
    options.isolation = "posix,disk/du";
    options.container_disk_watch_interval = 0.05;
  }

  // The /monitor/statistics entry of the executor running `task_id`, or null.
  json StatisticsOf(const TaskId& task_id) {
    json executor = ExecutorOf(task_id);
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    if (executor.is_null() || !body.ok()) return nullptr;
    for (const auto& entry : json::parse(*body)) {
      if (entry["executor_id"] == executor["id"]) return entry["statistics"];
    }
    return nullptr;
  }
};

// A16: the agent measures each sandbox and, as Mesos's disk/du does, ends the
// container of a task that writes past its `disk` (TASK_FAILED,
// REASON_CONTAINER_LIMITATION_DISK, the use and the limit in the message); a
// task within its `disk` is measured, reported, and left to finish.
TEST_F(DiskQuotaClusterTest, ATaskWritingPastItsDiskFailsAndOneWithinItFinishes) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  ASSERT_TRUE(recorder.WaitForOffers(1));
  TaskInfo within = Command("within",
                            "head -c 2097152 /dev/zero > data && "
                            "while [ ! -f done ]; do sleep 0.05; done",
                            "cpus:0.5;mem:64;disk:10");
  TaskInfo over = Command("over", "head -c 20971520 /dev/zero > data; exec sleep 600",
                          "cpus:0.5;mem:64;disk:10");
  driver.Launch(recorder.offers().back(), {within, over});

  ASSERT_TRUE(recorder.WaitForState("over", TaskState::kFailed));
  TaskStatus failed = *recorder.Find("over", TaskState::kFailed);
  EXPECT_EQ(failed.reason, Reason::kContainerLimitationDisk) << ToString(failed.reason);
  EXPECT_NE(failed.message.find("disk usage "), std::string::npos) << failed.message;
  EXPECT_NE(failed.message.find("exceeds the container's disk limit of 10.0 MiB"),
            std::string::npos)
      << failed.message;

  ASSERT_TRUE(recorder.WaitForState("within", TaskState::kRunning));
  json statistics;
  ASSERT_TRUE(WaitFor([&] {
    statistics = StatisticsOf("within");
    return !statistics.is_null() && statistics.value("disk_used_bytes", uint64_t{0}) >= (2u << 20);
  })) << statistics.dump();
  EXPECT_EQ(statistics["disk_limit_bytes"].get<uint64_t>(), 10u << 20);
  EXPECT_LT(statistics["disk_used_bytes"].get<uint64_t>(), 10u << 20);
  std::string sandbox = ExecutorOf("within")["sandbox"];
  std::ofstream(sandbox + "/done").put('x');
  ASSERT_TRUE(recorder.WaitForState("within", TaskState::kFinished));
  EXPECT_FALSE(recorder.Find("within", TaskState::kFailed).has_value());
}

}  // namespace
}  // namespace stoa

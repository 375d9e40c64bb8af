// A whole cluster (master, one agent with posix isolation, an SDK scheduler,
// real executors): what is left of a container when its executor dies.
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
using stoa::testing::WaitFor;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

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

}  // namespace
}  // namespace stoa

// Real processes on loopback: `stoa master`, two `stoa agent`s, and `stoa
// execute` or the example framework, exactly as an operator starts them.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "common/http_server.hpp"
#include "tests/system/local_cluster.hpp"

namespace stoa {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

class SystemTest : public ::testing::Test, protected stoa::testing::LocalCluster {
 protected:
  void SetUp() override {
    StartMaster();
    for (int i = 0; i < 2; ++i) StartAgent("agent" + std::to_string(i));
    ASSERT_TRUE(WaitFor([&] { return ActiveAgents() == 2; })) << Log("master");
  }

  int Run(std::vector<std::string> args, std::string* output) {
    static int counter = 0;
    std::string path = dir_.path() + "/run" + std::to_string(counter++) + ".out";
    Process process(std::move(args), path);
    int code = process.Wait(std::chrono::seconds(120));
    *output = process.Output();
    return code;
  }
};

TEST_F(SystemTest, ExecuteRunsTwentyTasksToCompletion) {
  std::string output;
  int code = Run(
      {bin_ + "/stoa", "execute", "--master=" + master_, "--instances=20", "--command=echo hello"},
      &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("20 of 20 tasks finished"), std::string::npos) << output;

  auto tasks = MasterTasks();
  int finished = 0;
  for (const auto& [id, task] : tasks) finished += task["state"] == "TASK_FINISHED" ? 1 : 0;
  EXPECT_EQ(finished, 20);
  EXPECT_EQ(State()["agents"].size(), 2u);

  // Each task's sandbox stdout holds its output.
  int sandboxes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_.path())) {
    if (entry.path().filename() != "stdout") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "hello") << entry.path();
    ++sandboxes;
  }
  EXPECT_EQ(sandboxes, 20);

  Result<std::string> metrics = HttpGet("127.0.0.1", master_http_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  for (const char* expected :
       {"stoa_master_agents{state=\"active\"} 2", "stoa_master_frameworks{state=\"completed\"} 1",
        "stoa_master_tasks{state=\"TASK_FINISHED\"} 20",
        "stoa_master_resources{resource=\"cpus\"} 4",
        "stoa_master_resources_used{resource=\"cpus\"} 0", "stoa_allocator_round_seconds_count",
        "stoa_allocator_last_round_seconds"}) {
    EXPECT_NE(metrics->find(expected), std::string::npos) << expected << "\n" << *metrics;
  }
}

// A leader publishes its HTTP port in ZooKeeper before serving, so a port
// picked at random (0) would be useless to everyone who looks it up.
TEST_F(SystemTest, MasterRefusesARandomHttpPortWithZooKeeper) {
  std::string output;
  int code = Run({bin_ + "/stoa", "master", "--zk=zk://127.0.0.1:1/stoa", "--http_port=0",
                  "--work_dir=" + dir_.path() + "/zk-master"},
                 &output);
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("--http_port=0 cannot be used with --zk"), std::string::npos) << output;
}

// Where no master runs, `stoa execute` says so within seconds instead of
// waiting in silence for ever.
TEST_F(SystemTest, ExecuteWhereNoMasterAnswersSaysSoWithinSeconds) {
  std::string output;
  int port = stoa::testing::FreePort();
  int code = Run({bin_ + "/stoa", "execute", "--master=127.0.0.1:" + std::to_string(port),
                  "--connect_timeout=1secs", "--command=true"},
                 &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("no master answers at 127.0.0.1:" + std::to_string(port) + " after 1secs"),
            std::string::npos)
      << output;
}

TEST_F(SystemTest, ExecuteReportsAFailedCommandAndExitsNonZero) {
  std::string output;
  int code = Run({bin_ + "/stoa", "execute", "--master=" + master_, "--command=exit 3"}, &output);
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find("TASK_FAILED"), std::string::npos) << output;
  EXPECT_NE(output.find("exited with status 3"), std::string::npos) << output;
}

TEST_F(SystemTest, RandomBytesOnTheMasterPortAreLoggedAndServingGoesOn) {
  std::mt19937 random(7);
  for (int connection = 0; connection < 5; ++connection) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(master_port_));
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    std::string garbage(4096, '\0');
    for (auto& c : garbage) c = static_cast<char>(random());
    (void)!write(fd, garbage.data(), garbage.size());
    close(fd);
  }
  ASSERT_TRUE(WaitFor([&] {
    std::string log = Log("master");
    return log.find("not a Stoa process") != std::string::npos ||
           log.find("invalid frame") != std::string::npos;
  })) << Log("master");
  std::string output;
  ASSERT_EQ(Run({bin_ + "/stoa", "execute", "--master=" + master_, "--command=true"}, &output), 0)
      << output;
  EXPECT_EQ(ActiveAgents(), 2);
}

TEST_F(SystemTest, SchedulerKilledAndRestartedFindsItsTasksRunning) {
  std::string out1 = dir_.path() + "/framework1.out";
  auto scheduler = std::make_unique<Process>(
      std::vector<std::string>{bin_ + "/stoa-example-framework", "--master=" + master_,
                               "--instances=2", "--command=sleep 300", "--failover_timeout=1mins"},
      out1);
  ASSERT_TRUE(WaitFor([&] {
    auto tasks = MasterTasks();
    return tasks.size() == 2 && tasks.begin()->second["state"] == "TASK_RUNNING" &&
           tasks.rbegin()->second["state"] == "TASK_RUNNING";
  })) << scheduler->Output();
  std::smatch match;
  std::string first_output = scheduler->Output();
  ASSERT_TRUE(std::regex_search(first_output, match, std::regex("framework_id (\\S+)")));
  std::string framework_id = match[1];

  scheduler->Kill(SIGKILL);
  scheduler->Wait();
  ASSERT_TRUE(WaitFor([&] { return State()["frameworks"][0]["connected"] == false; }));

  Process restarted(
      {bin_ + "/stoa-example-framework", "--master=" + master_, "--instances=2",
       "--command=sleep 300", "--failover_timeout=1mins", "--framework_id=" + framework_id},
      dir_.path() + "/framework2.out");
  ASSERT_TRUE(WaitFor([&] {
    std::string out = restarted.Output();
    return out.find("task hello-1 TASK_RUNNING") != std::string::npos &&
           out.find("task hello-2 TASK_RUNNING") != std::string::npos;
  })) << restarted.Output();
  EXPECT_NE(restarted.Output().find("framework_id " + framework_id), std::string::npos);
  auto tasks = MasterTasks();
  EXPECT_EQ(tasks.size(), 2u);  // it adopted its tasks instead of launching new ones
  for (const auto& [id, task] : tasks) EXPECT_EQ(task["state"], "TASK_RUNNING") << id;
  EXPECT_EQ(State()["frameworks"][0]["connected"], true);
}

}  // namespace
}  // namespace stoa

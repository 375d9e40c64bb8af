// High availability with real processes: masters elected through a real
// ZooKeeper server, agents restarted under running tasks, a master restarted
// on its LevelDB registry.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/duration.hpp"
#include "common/http_server.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

json GetJson(int port, const std::string& path) {
  int status = 0;
  Result<std::string> body = HttpGet("127.0.0.1", port, path, &status);
  if (!body.ok() || status != 200) return json::object();
  return json::parse(*body, nullptr, false);
}

struct MasterProcess {
  int port = 0;
  int http_port = 0;
  std::unique_ptr<Process> process;
};

class HaTest : public ::testing::Test {
 protected:
  std::string Bin(const std::string& name) { return stoa::testing::BinDir() + "/" + name; }

  void StartZooKeeper() {
    zookeeper_ = std::make_unique<stoa::testing::ZooKeeperServer>(dir_.path() + "/zk");
    ASSERT_TRUE(zookeeper_->error().empty()) << zookeeper_->error();
    zk_ = "zk://" + zookeeper_->servers() + "/stoa";
  }

  // Starts (or restarts) master `index`; with ZooKeeper unless `zk_` is empty.
  void StartMaster(size_t index) {
    if (masters_.size() <= index) masters_.resize(index + 1);
    MasterProcess& m = masters_[index];
    if (m.port == 0) {
      m.port = FreePort();
      m.http_port = FreePort();
    }
    std::vector<std::string> args = {
        Bin("stoa"),
        "master",
        "--ip=127.0.0.1",
        "--port=" + std::to_string(m.port),
        "--http_port=" + std::to_string(m.http_port),
        "--work_dir=" + dir_.path() + "/master" + std::to_string(index),
        "--allocation_interval=100ms",
        "--agent_ping_timeout=500ms",
        "--max_agent_ping_timeouts=10",
        "--framework_heartbeat_interval=500ms",
        "--agent_reregister_timeout=20secs"};
    if (!zk_.empty()) {
      args.push_back("--zk=" + zk_);
      args.push_back("--zk_session_timeout=" + session_timeout_);
    }
    m.process =
        std::make_unique<Process>(args, dir_.path() + "/master" + std::to_string(index) + ".log");
  }

  std::string MasterFlag() {
    return zk_.empty() ? "127.0.0.1:" + std::to_string(masters_[0].port) : zk_;
  }

  void StartAgent(size_t index) {
    if (agents_.size() <= index) agents_.resize(index + 1);
    if (agent_http_.size() <= index) agent_http_.resize(index + 1, 0);
    if (agent_http_[index] == 0) agent_http_[index] = FreePort();
    agents_[index] = std::make_unique<Process>(
        std::vector<std::string>{Bin("stoa"), "agent", "--master=" + MasterFlag(), "--ip=127.0.0.1",
                                 "--http_port=" + std::to_string(agent_http_[index]),
                                 "--work_dir=" + dir_.path() + "/agent" + std::to_string(index),
                                 "--resources=cpus:4;mem:4096;disk:1024",
                                 "--status_update_retry_interval=1secs", "--master_timeout=3secs",
                                 "--cgroups_root=" + cgroups_.name()},
        dir_.path() + "/agent" + std::to_string(index) + ".log");
  }

  // The index of the leading master, or -1.
  int Leader() {
    for (size_t i = 0; i < masters_.size(); ++i) {
      if (masters_[i].process == nullptr || !masters_[i].process->running()) continue;
      json health = GetJson(masters_[i].http_port, "/health");
      if (health.value("leading", false)) return static_cast<int>(i);
    }
    return -1;
  }

  json LeaderState() {
    int leader = Leader();
    return leader < 0 ? json::object() : GetJson(masters_[leader].http_port, "/state");
  }

  static int ActiveAgents(const json& state) {
    int active = 0;
    for (const auto& agent : state.value("agents", json::array())) {
      active += agent.value("active", false) ? 1 : 0;
    }
    return active;
  }

  static std::map<std::string, std::string> TaskStates(const json& state) {
    std::map<std::string, std::string> states;
    for (const auto& framework : state.value("frameworks", json::array())) {
      for (const auto& task : framework["tasks"]) states[task["id"]] = task["state"];
    }
    return states;
  }

  static int Running(const json& state) {
    int running = 0;
    for (const auto& [id, s] : TaskStates(state)) running += s == "TASK_RUNNING" ? 1 : 0;
    return running;
  }

  // Executor pids by executor id, from every agent's /state.
  std::map<std::string, int> ExecutorPids() {
    std::map<std::string, int> pids;
    for (int port : agent_http_) {
      json state = GetJson(port, "/state");
      for (const auto& framework : state.value("frameworks", json::array())) {
        for (const auto& executor : framework["executors"]) pids[executor["id"]] = executor["pid"];
      }
    }
    return pids;
  }

  std::unique_ptr<Process> StartFramework(int instances, const std::string& command,
                                          const std::string& output) {
    return std::make_unique<Process>(
        std::vector<std::string>{Bin("stoa-example-framework"), "--master=" + MasterFlag(),
                                 "--instances=" + std::to_string(instances), "--command=" + command,
                                 "--failover_timeout=2mins"},
        dir_.path() + "/" + output);
  }

  // `stoa execute` with no failover flag (a failover timeout of 0), as a user
  // runs it: 10 tasks that outlive `kills` leader failures (or restarts of
  // the single LevelDB master), each with the same pids, and no update that
  // ends a task; the scheduler is still waiting for them at the end.
  void ExecuteSurvivesMasterFailures(int kills) {
    for (size_t i = 0; i < 2; ++i) StartAgent(i);
    ASSERT_TRUE(WaitFor([&] { return ActiveAgents(LeaderState()) == 2; }));
    Process execute({Bin("stoa"), "execute", "--master=" + MasterFlag(), "--instances=10",
                     "--command=sleep 600"},
                    dir_.path() + "/execute.out");
    ASSERT_TRUE(WaitFor([&] { return Running(LeaderState()) == 10; })) << execute.Output();
    std::map<std::string, int> pids = ExecutorPids();
    ASSERT_EQ(pids.size(), 10u);
    for (int round = 0; round < kills; ++round) {
      int leader = Leader();
      ASSERT_GE(leader, 0);
      masters_[leader].process->Kill(SIGKILL);
      masters_[leader].process->Wait();
      if (zk_.empty()) StartMaster(0);  // the same work dir and registry
      ASSERT_TRUE(WaitFor(
          [&] {
            json state = LeaderState();
            return ActiveAgents(state) == 2 && Running(state) == 10 &&
                   !state["frameworks"].empty() && state["frameworks"][0].value("connected", false);
          },
          std::chrono::seconds(60)))
          << "round " << round << ": " << LeaderState().dump() << "\n"
          << execute.Output();
      EXPECT_EQ(ExecutorPids(), pids) << "round " << round;
      if (!zk_.empty()) StartMaster(static_cast<size_t>(leader));  // back as a standby
    }
    EXPECT_TRUE(execute.running()) << execute.Output();
    std::string output = execute.Output();
    for (const char* ended : {"TASK_LOST", "TASK_KILLED", "TASK_FAILED", "torn down"}) {
      EXPECT_EQ(output.find(ended), std::string::npos) << ended << " in:\n" << output;
    }
  }

  stoa::testing::CgroupRoot cgroups_;  // removed after the processes below are gone
  stoa::testing::TempDir dir_;
  std::unique_ptr<stoa::testing::ZooKeeperServer> zookeeper_;
  std::string zk_;
  std::string session_timeout_ = "2secs";
  std::vector<MasterProcess> masters_;
  std::vector<std::unique_ptr<Process>> agents_;
  std::vector<int> agent_http_;
};

TEST_F(HaTest, LeaderKilledFiveTimesTasksKeepRunning) {
  StartZooKeeper();
  for (size_t i = 0; i < 3; ++i) StartMaster(i);
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << masters_[0].process->Output();
  for (size_t i = 0; i < 2; ++i) StartAgent(i);
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents(LeaderState()) == 2; }));
  auto framework = StartFramework(10, "sleep 600", "framework.out");
  ASSERT_TRUE(WaitFor([&] { return Running(LeaderState()) == 10; })) << framework->Output();
  std::map<std::string, int> pids = ExecutorPids();
  ASSERT_EQ(pids.size(), 10u);

  std::vector<double> failover_seconds;
  for (int round = 0; round < 5; ++round) {
    int leader = Leader();
    ASSERT_GE(leader, 0);
    double killed_at = MonotonicSeconds();
    masters_[leader].process->Kill(SIGKILL);
    masters_[leader].process->Wait();
    ASSERT_TRUE(WaitFor(
        [&] {
          int now = Leader();
          if (now < 0 || now == leader) return false;
          json state = GetJson(masters_[now].http_port, "/state");
          return ActiveAgents(state) == 2 && Running(state) == 10;
        },
        std::chrono::seconds(60)))
        << "round " << round << ": " << LeaderState().dump();
    failover_seconds.push_back(MonotonicSeconds() - killed_at);
    // The framework is back too, and no task was reported lost or failed.
    ASSERT_TRUE(WaitFor([&] {
      json state = LeaderState();
      return !state["frameworks"].empty() && state["frameworks"][0].value("connected", false);
    })) << framework->Output();
    EXPECT_EQ(ExecutorPids(), pids) << "round " << round;
    StartMaster(static_cast<size_t>(leader));  // back as a standby
  }
  std::string output = framework->Output();
  EXPECT_EQ(output.find("TASK_LOST"), std::string::npos) << output;
  EXPECT_EQ(output.find("TASK_FAILED"), std::string::npos) << output;
  for (double seconds : failover_seconds) {
    std::printf(
        "failover: leader killed -> new leader with every agent reregistered: %.2f s "
        "(ZooKeeper session timeout %s)\n",
        seconds, session_timeout_.c_str());
  }

  // A new task can be launched through the new leader.
  Process execute({Bin("stoa"), "execute", "--master=" + zk_, "--command=true"},
                  dir_.path() + "/execute.out");
  EXPECT_EQ(execute.Wait(std::chrono::seconds(60)), 0) << execute.Output();
}

TEST_F(HaTest, ExecuteWithoutAFailoverTimeoutKeepsItsTasksAcrossLeaderKills) {
  StartZooKeeper();
  for (size_t i = 0; i < 3; ++i) StartMaster(i);
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << masters_[0].process->Output();
  ExecuteSurvivesMasterFailures(3);
}

TEST_F(HaTest, ExecuteWithoutAFailoverTimeoutKeepsItsTasksAcrossALevelDbMasterRestart) {
  StartMaster(0);
  ASSERT_TRUE(
      WaitFor([&] { return GetJson(masters_[0].http_port, "/health").value("healthy", false); }));
  ExecuteSurvivesMasterFailures(2);
}

TEST_F(HaTest, LeaderWhoseSessionExpiresStopsLeading) {
  StartZooKeeper();
  for (size_t i = 0; i < 2; ++i) StartMaster(i);
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; }));
  int leader = Leader();
  // Frozen for longer than its session timeout, the leader loses its session.
  masters_[leader].process->Kill(SIGSTOP);
  int other = 1 - leader;
  bool taken_over =
      WaitFor([&] { return GetJson(masters_[other].http_port, "/health").value("leading", false); },
              std::chrono::seconds(30));
  masters_[leader].process->Kill(SIGCONT);
  ASSERT_TRUE(taken_over) << masters_[other].process->Output();
  // Thawed, the old leader learns its session is gone and exits at once.
  EXPECT_EQ(masters_[leader].process->Wait(std::chrono::seconds(30)), 1)
      << masters_[leader].process->Output();
  std::string said = masters_[leader].process->Output();
  EXPECT_TRUE(said.find("session expired") != std::string::npos ||
              said.find("stepping down") != std::string::npos)
      << said;
  EXPECT_EQ(Leader(), other);
}

TEST_F(HaTest, AgentKilledAndRestartedKeepsItsTasks) {
  StartMaster(0);
  ASSERT_TRUE(
      WaitFor([&] { return GetJson(masters_[0].http_port, "/health").value("healthy", false); }));
  StartAgent(0);
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents(LeaderState()) == 1; }));
  std::string release = dir_.path() + "/release";
  auto framework =
      StartFramework(3, "while [ ! -f " + release + " ]; do sleep 0.1; done", "framework.out");
  ASSERT_TRUE(WaitFor([&] { return Running(LeaderState()) == 3; })) << framework->Output();
  std::map<std::string, int> pids = ExecutorPids();
  ASSERT_EQ(pids.size(), 3u);

  agents_[0]->Kill(SIGKILL);
  agents_[0]->Wait();
  // While the agent is down the tasks finish; their updates wait in the executors.
  std::ofstream(release).put('x');
  for (const auto& [id, pid] : pids) EXPECT_EQ(kill(pid, 0), 0) << id << " died with the agent";
  StartAgent(0);
  ASSERT_TRUE(WaitFor([&] {
    std::string out = framework->Output();
    int finished = 0;
    for (int i = 1; i <= 3; ++i) {
      finished +=
          out.find("task hello-" + std::to_string(i) + " TASK_FINISHED") != std::string::npos;
    }
    return finished == 3;
  })) << framework->Output()
      << "\n"
      << agents_[0]->Output();
  // Exactly once each, and never lost.
  std::string out = framework->Output();
  for (int i = 1; i <= 3; ++i) {
    std::string line = "task hello-" + std::to_string(i) + " TASK_FINISHED";
    size_t first = out.find(line);
    EXPECT_EQ(out.find(line, first + 1), std::string::npos) << line << " twice:\n" << out;
  }
  EXPECT_EQ(out.find("TASK_LOST"), std::string::npos) << out;
  EXPECT_EQ(out.find("TASK_FAILED"), std::string::npos) << out;
}

TEST_F(HaTest, AgentAfterAHostRebootReportsItsOldTasksGone) {
  // A reboot is the one fault a test cannot cause: the agent reads its boot id
  // from a file the test controls, and the test kills what a reboot would.
  std::string boot_id = dir_.path() + "/boot_id";
  std::ofstream(boot_id) << "boot-1\n";
  setenv("STOA_BOOT_ID_FILE", boot_id.c_str(), 1);
  StartMaster(0);
  StartAgent(0);
  unsetenv("STOA_BOOT_ID_FILE");
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents(LeaderState()) == 1; }));
  auto framework = StartFramework(2, "sleep 600", "framework.out");
  ASSERT_TRUE(WaitFor([&] { return Running(LeaderState()) == 2; })) << framework->Output();

  agents_[0]->Kill(SIGKILL);
  agents_[0]->Wait();
  stoa::testing::KillProcessesUnder(dir_.path() + "/agent0");
  std::ofstream(boot_id) << "boot-2\n";
  setenv("STOA_BOOT_ID_FILE", boot_id.c_str(), 1);
  StartAgent(0);
  unsetenv("STOA_BOOT_ID_FILE");
  ASSERT_TRUE(WaitFor([&] {
    std::string out = framework->Output();
    return out.find("task hello-1 TASK_GONE") != std::string::npos &&
           out.find("task hello-2 TASK_GONE") != std::string::npos;
  })) << framework->Output()
      << "\n"
      << agents_[0]->Output();
}

TEST_F(HaTest, MasterRestartedOnItsLevelDbRegistryRemembersAgentsAndFrameworks) {
  StartMaster(0);
  for (size_t i = 0; i < 2; ++i) StartAgent(i);
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents(LeaderState()) == 2; }));
  auto framework = StartFramework(2, "sleep 600", "framework.out");
  ASSERT_TRUE(WaitFor([&] { return Running(LeaderState()) == 2; }));
  json before = LeaderState();
  std::string framework_id = before["frameworks"][0]["id"];
  std::set<std::string> agent_ids;
  for (const auto& agent : before["agents"]) agent_ids.insert(agent["id"]);

  // Everything but the tasks goes down; the master comes back alone.
  framework->Kill(SIGKILL);
  for (auto& agent : agents_) agent->Kill(SIGKILL);
  masters_[0].process->Kill(SIGKILL);
  masters_[0].process->Wait();
  StartMaster(0);
  json after;
  ASSERT_TRUE(WaitFor([&] {
    after = GetJson(masters_[0].http_port, "/state");
    return after.contains("frameworks");
  }));
  std::set<std::string> recovered(after["recovered_agents"].begin(),
                                  after["recovered_agents"].end());
  EXPECT_EQ(recovered, agent_ids);
  ASSERT_EQ(after["frameworks"].size(), 1u);
  EXPECT_EQ(after["frameworks"][0]["id"], framework_id);
  EXPECT_EQ(after["frameworks"][0]["connected"], false);

  // The agents come back with their tasks.
  for (size_t i = 0; i < 2; ++i) StartAgent(i);
  ASSERT_TRUE(WaitFor([&] {
    json state = LeaderState();
    return ActiveAgents(state) == 2 && Running(state) == 2;
  })) << LeaderState().dump();
  std::set<std::string> back;
  json state = LeaderState();
  for (const auto& agent : state["agents"]) back.insert(agent["id"]);
  EXPECT_EQ(back, agent_ids);
}

}  // namespace
}  // namespace stoa

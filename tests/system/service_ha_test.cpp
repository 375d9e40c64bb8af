// Two `stoa service --zk` instances on a real ZooKeeper server, with a real
// master and agent: one leads, the other stands by and passes the API on to
// it; the leader killed with SIGKILL, the standby takes over the same
// framework and its running tasks, and goes on changing them; a leader asked
// to abdicate (DELETE /v2/leader) stops and hands over the same way.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <set>

#include "common/http_server.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

struct ServiceInstance {
  int http_port = 0;
  std::unique_ptr<Process> process;
  std::string address() const { return "127.0.0.1:" + std::to_string(http_port); }
};

class ServiceHaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = stoa::testing::BinDir();
    zookeeper_ = std::make_unique<stoa::testing::ZooKeeperServer>(dir_.path() + "/zk");
    ASSERT_TRUE(zookeeper_->error().empty()) << zookeeper_->error();
    int master_port = FreePort();
    master_http_ = FreePort();
    master_ = "127.0.0.1:" + std::to_string(master_port);
    processes_.push_back(std::make_unique<Process>(
        std::vector<std::string>{
            bin_ + "/stoa", "master", "--ip=127.0.0.1", "--port=" + std::to_string(master_port),
            "--http_port=" + std::to_string(master_http_), "--work_dir=" + dir_.path() + "/master",
            "--allocation_interval=100ms", "--agent_ping_timeout=500ms",
            "--framework_heartbeat_interval=500ms"},
        dir_.path() + "/master.log"));
    processes_.push_back(std::make_unique<Process>(
        std::vector<std::string>{
            bin_ + "/stoa", "agent", "--master=" + master_, "--ip=127.0.0.1",
            "--http_port=" + std::to_string(FreePort()), "--work_dir=" + dir_.path() + "/agent",
            "--resources=cpus:2;mem:2048;disk:1024;ports:[31000-31099]",
            "--status_update_retry_interval=1secs", "--cgroups_root=" + cgroups_.name()},
        dir_.path() + "/agent.log"));
    for (size_t i = 0; i < 2; ++i) StartService(i);
  }

  // Starts (or restarts, on the same port) service instance `index`.
  void StartService(size_t index) {
    if (services_.size() <= index) services_.resize(index + 1);
    ServiceInstance& s = services_[index];
    if (s.http_port == 0) s.http_port = FreePort();
    s.process = std::make_unique<Process>(
        std::vector<std::string>{bin_ + "/stoa", "service", "--master=" + master_, "--ip=127.0.0.1",
                                 "--http_port=" + std::to_string(s.http_port),
                                 "--zk=zk://" + zookeeper_->servers() + "/stoa-service",
                                 "--zk_session_timeout=3secs", "--min_revive_offers_interval=200ms",
                                 "--work_dir=" + dir_.path() + "/service" + std::to_string(index)},
        dir_.path() + "/service" + std::to_string(index) + ".log");
  }

  HttpReply Call(size_t index, const std::string& method, const std::string& path,
                 const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", services_[index].http_port, path, body);
    return reply.ok() ? *reply : HttpReply{};
  }
  json Get(size_t index, const std::string& path) {
    HttpReply reply = Call(index, "GET", path);
    return reply.status == 200 ? json::parse(reply.body, nullptr, false) : json::object();
  }

  // The instance that says it is elected and has subscribed, or -1.
  int Leader() {
    for (size_t i = 0; i < services_.size(); ++i) {
      if (!services_[i].process || !services_[i].process->running()) continue;
      json info = Get(i, "/v2/info");
      if (info.value("elected", false) && info.value("frameworkId", json()).is_string()) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  // The app's task states by id, as instance `index` shows them.
  std::map<std::string, std::string> Tasks(size_t index, const std::string& app) {
    std::map<std::string, std::string> tasks;
    for (const auto& task : Get(index, "/v2/apps" + app + "/tasks").value("tasks", json::array())) {
      tasks[task["id"]] = task["state"];
    }
    return tasks;
  }
  bool AllRunning(size_t index, const std::string& app, size_t count) {
    auto tasks = Tasks(index, app);
    if (tasks.size() != count) return false;
    for (const auto& [id, state] : tasks) {
      if (state != "TASK_RUNNING") return false;
    }
    return Get(index, "/v2/deployments").empty();
  }

  // The stoa-service frameworks the master knows, with their task ids.
  std::map<std::string, std::set<std::string>> MasterFrameworks() {
    std::map<std::string, std::set<std::string>> frameworks;
    auto state = HttpGet("127.0.0.1", master_http_, "/state");
    if (!state.ok()) return frameworks;
    json parsed = json::parse(*state, nullptr, false);
    for (const auto& framework : parsed.value("frameworks", json::array())) {
      if (framework.value("name", "") != "stoa-service") continue;
      auto& tasks = frameworks[framework["id"]];
      for (const auto& task : framework["tasks"]) tasks.insert(task["id"].get<std::string>());
    }
    return frameworks;
  }

  std::string Logs() {
    std::string logs;
    for (size_t i = 0; i < services_.size(); ++i) {
      if (services_[i].process) {
        logs += "--- service" + std::to_string(i) + "\n" + services_[i].process->Output();
      }
    }
    return logs;
  }

  stoa::testing::CgroupRoot cgroups_;  // removed after the processes below are gone
  stoa::testing::TempDir dir_;
  std::unique_ptr<stoa::testing::ZooKeeperServer> zookeeper_;
  std::string bin_;
  std::string master_;
  int master_http_ = 0;
  std::vector<std::unique_ptr<Process>> processes_;
  std::vector<ServiceInstance> services_;
};

TEST_F(ServiceHaTest, TheStandbyTakesOverTheLeadersFrameworkAndTasksAfterAKill9) {
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << Logs();
  size_t leader = static_cast<size_t>(Leader());
  size_t standby = 1 - leader;
  std::string framework = Get(leader, "/v2/info")["frameworkId"];

  // Both say who leads; the standby says it is not elected.
  json standby_info = Get(standby, "/v2/info");
  EXPECT_EQ(standby_info["elected"], false) << standby_info.dump();
  EXPECT_EQ(standby_info["leader"], services_[leader].address());
  EXPECT_EQ(standby_info["marathon_config"]["ha"], true);
  EXPECT_EQ(standby_info["zookeeper_config"]["zk_session_timeout"], 3000);
  EXPECT_EQ(Get(standby, "/v2/leader")["leader"], services_[leader].address());
  EXPECT_EQ(Get(leader, "/v2/leader")["leader"], services_[leader].address());
  EXPECT_EQ(Call(standby, "GET", "/ping").body, "pong");

  // An app created through the standby: the leader's answer, passed on.
  HttpReply created = Call(standby, "POST", "/v2/apps",
                           R"({"id": "/ha/web", "instances": 3, "cpus": 0.1, "mem": 16,
                               "cmd": "sleep 1000"})");
  ASSERT_EQ(created.status, 201) << created.body << Logs();
  EXPECT_FALSE(created.headers["Marathon-Deployment-Id"].empty());
  EXPECT_EQ(created.headers["X-Marathon-Leader"], "http://" + services_[leader].address());
  EXPECT_EQ(created.headers["X-Marathon-Via"], "1.1 " + services_[standby].address());
  ASSERT_TRUE(WaitFor([&] { return AllRunning(standby, "/ha/web", 3); }))
      << Get(leader, "/v2/apps/ha/web").dump() << Logs();
  auto before = Tasks(standby, "/ha/web");
  std::set<std::string> ids;
  for (const auto& [id, state] : before) ids.insert(id);
  EXPECT_EQ(MasterFrameworks(), (std::map<std::string, std::set<std::string>>{{framework, ids}}));

  // The leader killed: the standby is elected, fails over to the same
  // framework and adopts the same three tasks, still running.
  services_[leader].process->Kill(SIGKILL);
  services_[leader].process->Wait();
  ASSERT_TRUE(
      WaitFor([&] { return Leader() == static_cast<int>(standby); }, std::chrono::seconds(60)))
      << Logs();
  EXPECT_EQ(Get(standby, "/v2/info")["frameworkId"], framework);
  EXPECT_EQ(Get(standby, "/v2/leader")["leader"], services_[standby].address());
  ASSERT_TRUE(WaitFor([&] { return AllRunning(standby, "/ha/web", 3); })) << Logs();
  EXPECT_EQ(Tasks(standby, "/ha/web"), before);
  EXPECT_EQ(MasterFrameworks(), (std::map<std::string, std::set<std::string>>{{framework, ids}}));

  // A scale through the new leader works, and keeps the three.
  HttpReply scaled = Call(standby, "PUT", "/v2/apps/ha/web", R"({"instances": 4})");
  ASSERT_EQ(scaled.status, 200) << scaled.body << Logs();
  ASSERT_TRUE(WaitFor([&] { return AllRunning(standby, "/ha/web", 4); })) << Logs();
  auto after = Tasks(standby, "/ha/web");
  for (const auto& id : ids) EXPECT_TRUE(after.count(id)) << id;

  // The killed instance comes back as a standby and passes requests on.
  StartService(leader);
  ASSERT_TRUE(WaitFor([&] {
    return Get(leader, "/v2/leader").value("leader", "") == services_[standby].address();
  })) << Logs();
  EXPECT_EQ(Get(leader, "/v2/info")["elected"], false);
  EXPECT_EQ(Tasks(leader, "/ha/web"), after);

  // DELETE /v2/leader (through the standby): the leader abdicates and stops,
  // and the standby takes over the same tasks.
  HttpReply abdicated = Call(leader, "DELETE", "/v2/leader");
  ASSERT_EQ(abdicated.status, 200) << abdicated.body << Logs();
  EXPECT_EQ(json::parse(abdicated.body), (json{{"message", "Leadership abdicated"}}));
  EXPECT_EQ(services_[standby].process->Wait(std::chrono::seconds(30)), 1) << Logs();
  EXPECT_NE(services_[standby].process->Output().find("leadership abdicated"), std::string::npos);
  ASSERT_TRUE(
      WaitFor([&] { return Leader() == static_cast<int>(leader); }, std::chrono::seconds(60)))
      << Logs();
  ASSERT_TRUE(WaitFor([&] { return AllRunning(leader, "/ha/web", 4); })) << Logs();
  EXPECT_EQ(Tasks(leader, "/ha/web"), after);
}

// A leader frozen past its session timeout has lost the lead when it thaws:
// it exits at once instead of acting next to the new leader.
TEST_F(ServiceHaTest, ALeaderThatLostItsSessionExits) {
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << Logs();
  size_t leader = static_cast<size_t>(Leader());
  size_t other = 1 - leader;
  services_[leader].process->Kill(SIGSTOP);
  // Only the other is asked: the frozen one would hold the request.
  bool taken_over = WaitFor(
      [&] {
        json info = Get(other, "/v2/info");
        return info.value("elected", false) && info.value("frameworkId", json()).is_string();
      },
      std::chrono::seconds(60));
  services_[leader].process->Kill(SIGCONT);
  ASSERT_TRUE(taken_over) << Logs();
  EXPECT_EQ(services_[leader].process->Wait(std::chrono::seconds(30)), 1) << Logs();
  std::string said = services_[leader].process->Output();
  EXPECT_TRUE(said.find("session expired") != std::string::npos ||
              said.find("steps down") != std::string::npos)
      << said;
  EXPECT_EQ(Leader(), static_cast<int>(other));
  EXPECT_EQ(Call(other, "POST", "/v2/apps", R"({"id": "/after", "cmd": "sleep 100", "cpus": 0.1,
                                                 "mem": 16})")
                .status,
            201);
}

}  // namespace
}  // namespace stoa

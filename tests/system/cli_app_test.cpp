// `stoa app` as a user runs it against real `stoa master`, `stoa agent` and
// `stoa service` processes: each command's exit code and what it prints, and
// the service's state over HTTP to check that the change happened.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/http_server.hpp"
#include "tests/system/local_cluster.hpp"

namespace stoa {
namespace {

using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

class CliAppTest : public ::testing::Test, protected stoa::testing::LocalCluster {
 protected:
  void SetUp() override {
    StartMaster();
    StartAgent("agent", {"--resources=cpus:2;mem:2048;disk:1024;ports:[31000-31099]"});
    service_port_ = FreePort();
    processes_.push_back(std::make_unique<Process>(
        std::vector<std::string>{bin_ + "/stoa", "service", "--master=" + master_, "--ip=127.0.0.1",
                                 "--http_port=" + std::to_string(service_port_),
                                 "--work_dir=" + dir_.path() + "/service",
                                 "--min_revive_offers_interval=200ms"},
        dir_.path() + "/service.log"));
    service_ = "--service=http://127.0.0.1:" + std::to_string(service_port_);
    ASSERT_TRUE(WaitFor([&] { return Get("/v2/info").value("frameworkId", json()).is_string(); }))
        << Log("service");
  }

  // Runs `stoa app ARGS... --service=...` to its end.
  CliRun App(std::vector<std::string> args, bool with_service = true) {
    std::vector<std::string> argv = {bin_ + "/stoa", "app"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (with_service) argv.push_back(service_);
    std::string output = dir_.path() + "/cli-" + std::to_string(++runs_) + ".out";
    Process process(argv, output);
    CliRun run;
    run.code = process.Wait(std::chrono::seconds(90));
    run.output = process.Output();
    return run;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  json Get(const std::string& path) {
    auto reply = HttpCall("GET", "127.0.0.1", service_port_, path);
    if (!reply.ok() || reply->status != 200) return json::object();
    return json::parse(reply->body, nullptr, false);
  }
  json Shown(const std::string& app) { return Get("/v2/apps" + app).value("app", json::object()); }
  std::set<std::string> RunningTasks(const std::string& app) {
    std::set<std::string> ids;
    for (const auto& task : Shown(app).value("tasks", json::array())) {
      if (task["state"] == "TASK_RUNNING") ids.insert(task["id"].get<std::string>());
    }
    return ids;
  }
  // The tasks the master holds for any framework (not the completed ones).
  size_t MasterActiveTasks() {
    size_t count = 0;
    for (const auto& framework : State().value("frameworks", json::array())) {
      count += framework.value("tasks", json::array()).size();
    }
    return count;
  }

  int service_port_ = 0;
  std::string service_;
  int runs_ = 0;
};

constexpr const char* kWebV1 = R"({"id": "/shop/web", "instances": 2, "cpus": 0.1, "mem": 32,
  "cmd": "echo v1; sleep 1000", "portDefinitions": [{"port": 0, "name": "http"}]})";
constexpr const char* kWebV2 = R"({"id": "/shop/web", "instances": 2, "cpus": 0.1, "mem": 32,
  "cmd": "echo v2; sleep 1000", "portDefinitions": [{"port": 0, "name": "http"}]})";

TEST_F(CliAppTest, DeploysListsScalesRestartsRollsBackAndRemovesAnApp) {
  // Deploy: POST, then it waits for the deployment with a progress line.
  CliRun deployed = App({"deploy", WriteFile("web.json", kWebV1)});
  ASSERT_EQ(deployed.code, 0) << deployed.output << Log("service");
  EXPECT_TRUE(
      std::regex_search(deployed.output, std::regex("\ndeploying /shop/web: [0-2]/2 running")))
      << deployed.output;
  EXPECT_NE(deployed.output.find("deployed /shop/web: 2/2 running"), std::string::npos)
      << deployed.output;
  EXPECT_EQ(RunningTasks("/shop/web").size(), 2u);
  EXPECT_TRUE(Get("/v2/deployments").empty());

  // The same id again: the file replaces the definition (PUT), every task replaced.
  auto v1_tasks = RunningTasks("/shop/web");
  std::string v1 = Shown("/shop/web")["version"];
  CliRun updated = App({"deploy", WriteFile("web2.json", kWebV2)});
  ASSERT_EQ(updated.code, 0) << updated.output << Log("service");
  EXPECT_EQ(Shown("/shop/web")["cmd"], "echo v2; sleep 1000");
  auto v2_tasks = RunningTasks("/shop/web");
  EXPECT_EQ(v2_tasks.size(), 2u);
  for (const auto& id : v1_tasks) EXPECT_FALSE(v2_tasks.count(id)) << id;
  std::string v2 = Shown("/shop/web")["version"];

  // list: a table with the app; --json: the apps array as the service gave it.
  CliRun listed = App({"list"});
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_NE(listed.output.find("ID"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("/shop/web"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("2/2"), std::string::npos) << listed.output;
  CliRun listed_json = App({"list", "--json"});
  ASSERT_EQ(listed_json.code, 0) << listed_json.output;
  json apps = json::parse(listed_json.output, nullptr, false);
  ASSERT_TRUE(apps.is_array()) << listed_json.output;
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0]["id"], "/shop/web");
  EXPECT_EQ(apps[0]["tasksRunning"], 2);

  // show: the fields and a row per task; --json the app with its tasks.
  CliRun shown = App({"show", "shop/web"});
  ASSERT_EQ(shown.code, 0) << shown.output;
  for (const auto& id : v2_tasks) EXPECT_NE(shown.output.find(id), std::string::npos) << id;
  EXPECT_NE(shown.output.find("echo v2; sleep 1000"), std::string::npos) << shown.output;
  CliRun shown_json = App({"show", "/shop/web", "--json"});
  json app = json::parse(shown_json.output, nullptr, false);
  ASSERT_TRUE(app.is_object()) << shown_json.output;
  EXPECT_EQ(app["tasks"].size(), 2u);

  // rollback without --version: the version before the current one (v1's definition).
  CliRun rolled = App({"rollback", "/shop/web"});
  ASSERT_EQ(rolled.code, 0) << rolled.output << Log("service");
  EXPECT_NE(rolled.output.find("rolling /shop/web back to version " + v1), std::string::npos)
      << rolled.output;
  EXPECT_EQ(Shown("/shop/web")["cmd"], "echo v1; sleep 1000");
  EXPECT_EQ(RunningTasks("/shop/web").size(), 2u);

  // scale: three running once it returns.
  CliRun scaled = App({"scale", "/shop/web", "3"});
  ASSERT_EQ(scaled.code, 0) << scaled.output << Log("service");
  EXPECT_NE(scaled.output.find("scaled /shop/web: 3/3 running"), std::string::npos)
      << scaled.output;
  EXPECT_EQ(RunningTasks("/shop/web").size(), 3u);

  // restart: every task replaced, three running again.
  auto before_restart = RunningTasks("/shop/web");
  CliRun restarted = App({"restart", "/shop/web"});
  ASSERT_EQ(restarted.code, 0) << restarted.output << Log("service");
  auto after_restart = RunningTasks("/shop/web");
  EXPECT_EQ(after_restart.size(), 3u);
  for (const auto& id : before_restart) EXPECT_FALSE(after_restart.count(id)) << id;

  // rollback to a named version: v2's command and instances.
  CliRun to_v2 = App({"rollback", "/shop/web", "--version", v2});
  ASSERT_EQ(to_v2.code, 0) << to_v2.output << Log("service");
  EXPECT_EQ(Shown("/shop/web")["cmd"], "echo v2; sleep 1000");
  EXPECT_EQ(Shown("/shop/web")["instances"], 2);
  EXPECT_EQ(RunningTasks("/shop/web").size(), 2u);

  // remove: waits until no task is left.
  CliRun removed = App({"remove", "/shop/web"});
  ASSERT_EQ(removed.code, 0) << removed.output << Log("service");
  EXPECT_NE(removed.output.find("removed /shop/web: its tasks are gone"), std::string::npos)
      << removed.output;
  auto gone = HttpCall("GET", "127.0.0.1", service_port_, "/v2/apps/shop/web");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, 404);
  // ...and the master has none of the service's tasks left (once it has the
  // service's acknowledgements of their last updates).
  EXPECT_TRUE(WaitFor([&] { return MasterActiveTasks() == 0; }, std::chrono::seconds(5)))
      << State().dump();

  // Unknown apps are a message and exit 1.
  CliRun unknown = App({"show", "/shop/web"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.output.find("App '/shop/web' does not exist"), std::string::npos)
      << unknown.output;
  CliRun list_empty = App({"list"});
  EXPECT_EQ(list_empty.code, 0);
  EXPECT_NE(list_empty.output.find("no apps"), std::string::npos) << list_empty.output;
}

TEST_F(CliAppTest, MalformedFilesSayWhereAndWhyBeforeOrFromTheService) {
  // Not JSON: the parse error with its line and column, and no request.
  CliRun bad_json = App({"deploy", WriteFile("bad.json", "{\n  \"id\": \"/x\",\n  cpus: 1\n}\n")});
  EXPECT_EQ(bad_json.code, 2);
  EXPECT_NE(bad_json.output.find("is not JSON: line 3, column 3"), std::string::npos)
      << bad_json.output;

  // A field the service refuses: its path and why, from the 422.
  CliRun negative = App({"deploy", WriteFile("negative.json",
                                             R"({"id": "/x", "cmd": "sleep 1", "cpus": -1,
                                              "constraints": [["hostname", "SOMETIMES"]]})")});
  EXPECT_EQ(negative.code, 1);
  EXPECT_NE(negative.output.find("Object is not valid (HTTP 422)"), std::string::npos)
      << negative.output;
  EXPECT_NE(negative.output.find("\n  /cpus: "), std::string::npos) << negative.output;
  EXPECT_NE(negative.output.find("\n  /constraints(0): "), std::string::npos) << negative.output;

  // No id at all: the service names /id.
  CliRun no_id = App({"deploy", WriteFile("no-id.json", R"({"cmd": "sleep 1"})")});
  EXPECT_EQ(no_id.code, 1);
  EXPECT_NE(no_id.output.find("\n  /id: "), std::string::npos) << no_id.output;

  CliRun array = App({"deploy", WriteFile("array.json", "[1, 2]")});
  EXPECT_EQ(array.code, 2);
  EXPECT_NE(array.output.find("holds array, not an app definition"), std::string::npos)
      << array.output;
  CliRun missing = App({"deploy", dir_.path() + "/nothing.json"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("No such file or directory"), std::string::npos) << missing.output;

  EXPECT_TRUE(Get("/v2/apps")["apps"].empty());
}

TEST_F(CliAppTest, AnUnreachableServiceIsAClearMessageWithinSeconds) {
  std::string nobody = "http://127.0.0.1:" + std::to_string(FreePort());
  Process list({bin_ + "/stoa", "app", "list", "--service=" + nobody}, dir_.path() + "/nobody.out");
  ASSERT_EQ(list.Wait(std::chrono::seconds(10)), 1) << list.Output();
  EXPECT_NE(list.Output().find("no service framework answers at " + nobody), std::string::npos)
      << list.Output();

  // $STOA_SERVICE when no --service is given.
  setenv("STOA_SERVICE", nobody.c_str(), 1);
  CliRun from_env = App({"deploy", WriteFile("web.json", kWebV1)}, false);
  unsetenv("STOA_SERVICE");
  EXPECT_EQ(from_env.code, 1);
  EXPECT_NE(from_env.output.find("no service framework answers at " + nobody), std::string::npos)
      << from_env.output;

  CliRun bad_address = App({"list", "--service=ftp://127.0.0.1:1"}, false);
  EXPECT_EQ(bad_address.code, 2);
  EXPECT_NE(bad_address.output.find("only plain http"), std::string::npos) << bad_address.output;
}

TEST_F(CliAppTest, NoWaitTimeoutAndASupersededDeploymentEndAsTheySay) {
  // More cpus than the agent has: never placed.
  std::string big = WriteFile("big.json", R"({"id": "/big", "cmd": "sleep 1000", "cpus": 100})");
  CliRun no_wait = App({"deploy", "--no-wait", big});
  ASSERT_EQ(no_wait.code, 0) << no_wait.output;
  EXPECT_EQ(no_wait.output.find("deployed"), std::string::npos) << no_wait.output;
  EXPECT_EQ(Get("/v2/deployments").size(), 1u);

  CliRun timed_out = App({"scale", "/big", "2", "--force", "--timeout=1secs"});
  EXPECT_EQ(timed_out.code, 1);
  EXPECT_NE(timed_out.output.find("/big did not reach its goal within 1secs (0/2 running)"),
            std::string::npos)
      << timed_out.output;

  // A deploy waiting while another change supersedes its deployment.
  Process waiting({bin_ + "/stoa", "app", "restart", "/big", "--force", service_},
                  dir_.path() + "/waiting.out");
  ASSERT_TRUE(WaitFor([&] {
    return waiting.Output().find("restarting /big (deployment") != std::string::npos;
  })) << waiting.Output();
  CliRun superseded = App({"scale", "/big", "0", "--force"});
  EXPECT_EQ(superseded.code, 0) << superseded.output;
  EXPECT_EQ(waiting.Wait(std::chrono::seconds(30)), 1) << waiting.Output();
  EXPECT_NE(waiting.Output().find("not at its goal"), std::string::npos) << waiting.Output();
  EXPECT_NE(waiting.Output().find("superseded it"), std::string::npos) << waiting.Output();
}

}  // namespace
}  // namespace stoa

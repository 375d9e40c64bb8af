// The service framework as an operator runs it: `stoa master`, `stoa agent`
// and `stoa service` as real processes on loopback, driven over plain HTTP as
// a Marathon user would with curl.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/system/service_cluster.hpp"

namespace stoa {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;
using system_test::ParseEvents;
using system_test::ServiceClusterTest;

TEST_F(ServiceClusterTest, RunsScalesHealsSurvivesARestartAndDeletesAnApp) {
  const std::string app = R"({"id": "/test/web", "instances": 3, "cpus": 0.1, "mem": 32,
    "cmd": "echo PORT0=$PORT0 PORTS=$PORTS HOST=$HOST APP=$MARATHON_APP_ID; sleep 1000",
    "portDefinitions": [{"port": 0, "name": "http"}]})";
  HttpReply created = Call("POST", "/v2/apps", app);
  ASSERT_EQ(created.status, 201) << created.body << Log("service");
  EXPECT_FALSE(created.headers["Marathon-Deployment-Id"].empty());
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/test/web", 3); }))
      << Get("/v2/apps/test/web").dump() << Log("service");

  // Each task was given its host port in PORT0, and the ports differ.
  std::set<int> ports;
  for (const auto& [id, task] : Tasks("/test/web")) {
    ASSERT_EQ(task["ports"].size(), 1u) << task.dump();
    int port = task["ports"][0];
    EXPECT_GE(port, 31000);
    EXPECT_LE(port, 31099);
    ports.insert(port);
    EXPECT_EQ(task["host"], "node0");
    std::string sandbox = Sandbox(id);
    ASSERT_FALSE(sandbox.empty()) << id;
    ASSERT_TRUE(WaitFor([&] { return !Read(sandbox + "/stdout").empty(); }));
    EXPECT_EQ(Read(sandbox + "/stdout"), "PORT0=" + std::to_string(port) + " PORTS=" +
                                             std::to_string(port) + " HOST=node0 APP=/test/web\n");
  }
  EXPECT_EQ(ports.size(), 3u);

  // Scale to 5 (a partial update), and the two new ones run too.
  HttpReply scaled = Call("PUT", "/v2/apps/test/web?force=False", R"({"instances": 5})");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_EQ(json::parse(scaled.body)["deploymentId"], scaled.headers["Marathon-Deployment-Id"]);
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/test/web", 5); }))
      << Get("/v2/apps/test/web").dump();

  // A task killed by hand (its processes, SIGKILL) is replaced.
  auto before = Tasks("/test/web");
  std::string victim = before.begin()->first;
  stoa::testing::KillProcessesUnder(Sandbox(victim));
  ASSERT_TRUE(WaitFor([&] {
    auto tasks = Tasks("/test/web");
    return !tasks.count(victim) && AllRunning("/test/web", 5);
  })) << Get("/v2/apps/test/web").dump()
      << Log("service");
  json shown = Get("/v2/apps/test/web");
  EXPECT_EQ(shown["app"]["lastTaskFailure"]["taskId"], victim) << shown.dump();

  // The service killed with SIGKILL and started again fails over to its
  // framework and adopts the tasks: the same ids, still running.
  std::string framework = Get("/v2/info")["frameworkId"];
  auto running = Tasks("/test/web");
  service_->Kill(SIGKILL);
  service_->Wait();
  StartService();
  ASSERT_TRUE(WaitFor([&] { return Get("/v2/info").value("frameworkId", json()) == framework; }))
      << Log("service");
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/test/web", 5); })) << Log("service");
  auto adopted = Tasks("/test/web");
  ASSERT_EQ(adopted.size(), running.size());
  for (const auto& [id, task] : running) EXPECT_TRUE(adopted.count(id)) << id;

  // Deleted: 404 at once, and every task is killed.
  HttpReply deleted = Call("DELETE", "/v2/apps/test/web");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  HttpReply gone = Call("GET", "/v2/apps/test/web");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(json::parse(gone.body)["message"], "App '/test/web' does not exist");
  ASSERT_TRUE(WaitFor([&] {
    auto state = HttpGet("127.0.0.1", master_http_, "/state");
    if (!state.ok()) return false;
    json master = json::parse(*state, nullptr, false);
    for (const auto& f : master.value("frameworks", json::array())) {
      if (f["id"] == framework && !f["tasks"].empty()) return false;
    }
    return true;
  })) << HttpGet("127.0.0.1", master_http_, "/state").status().ToString();
  EXPECT_TRUE(Get("/v2/deployments").empty());
}

// Health checks run by the executor next to each task: an HTTP check on
// $PORT0 makes every instance healthy (tasksHealthy, healthCheckResults), and
// a COMMAND check that starts failing on one task gets it killed and replaced.
TEST_F(ServiceClusterTest, HealthChecksMakeTasksHealthyAndReplaceAFailingOne) {
  HttpReply web = Call("POST", "/v2/apps", R"({"id": "/health/web", "instances": 2, "cpus": 0.1,
    "mem": 32, "cmd": "mkdir -p www && echo ok > www/index.html && exec busybox httpd -f -p 127.0.0.1:$PORT0 -h www",
    "healthChecks": [{"protocol": "HTTP", "path": "/index.html", "portIndex": 0,
      "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1,
      "maxConsecutiveFailures": 3, "delaySeconds": 0}]})");
  ASSERT_EQ(web.status, 201) << web.body;
  HttpReply sick = Call("POST", "/v2/apps", R"({"id": "/health/cmd", "instances": 2, "cpus": 0.1,
    "mem": 16, "cmd": "sleep 1000",
    "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test ! -e $MESOS_SANDBOX/sick"},
      "gracePeriodSeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1,
      "maxConsecutiveFailures": 2, "delaySeconds": 0}]})");
  ASSERT_EQ(sick.status, 201) << sick.body;
  auto healthy = [&](const std::string& app) {
    json shown = Get("/v2/apps" + app)["app"];
    if (shown.value("tasksHealthy", -1) != 2 || shown.value("tasksUnhealthy", -1) != 0) {
      return false;
    }
    for (const auto& task : shown["tasks"]) {
      const json& results = task["healthCheckResults"];
      if (results.size() != 1 || results[0]["alive"] != true) return false;
    }
    return AllRunning(app, 2);
  };
  ASSERT_TRUE(WaitFor([&] { return healthy("/health/web") && healthy("/health/cmd"); }))
      << Get("/v2/apps?embed=apps.tasks").dump() << Log("service");
  for (const auto& [id, task] : Tasks("/health/web")) {
    const json& result = task["healthCheckResults"][0];
    EXPECT_EQ(result["instanceId"], id);
    EXPECT_EQ(result["consecutiveFailures"], 0);
    EXPECT_TRUE(result["firstSuccess"].is_string()) << result.dump();
    EXPECT_TRUE(result["lastFailure"].is_null()) << result.dump();
  }

  // One task turns sick: its second failure in a row has the executor kill it,
  // and the service replaces it under a new id.
  auto before = Tasks("/health/cmd");
  std::string victim = before.begin()->first;
  std::string sandbox = Sandbox(victim);
  ASSERT_FALSE(sandbox.empty()) << victim;
  std::ofstream(sandbox + "/sick") << "1";
  ASSERT_TRUE(WaitFor([&] {
    auto tasks = Tasks("/health/cmd");
    return !tasks.count(victim) && healthy("/health/cmd");
  })) << Get("/v2/apps/health/cmd").dump()
      << Log("service");
  auto after = Tasks("/health/cmd");
  EXPECT_EQ(after.size(), 2u);
  for (const auto& [id, task] : before) {
    if (id != victim) {
      EXPECT_TRUE(after.count(id)) << "the healthy task " << id << " stays";
    }
  }
  json failure = Get("/v2/apps/health/cmd")["app"]["lastTaskFailure"];
  EXPECT_EQ(failure["taskId"], victim) << failure.dump();
  EXPECT_EQ(failure["state"], "TASK_KILLED") << failure.dump();
  EXPECT_NE(failure["message"].get<std::string>().find("failed its health check"),
            std::string::npos)
      << failure.dump();
}

// Constraints see the agent's --attributes: an app held to another rack gets
// no task, while one held to the agent's runs.
TEST_F(ServiceClusterTest, PlacesByAgentAttributes) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/elsewhere", "cmd": "sleep 1000", "cpus": 0.1,
    "mem": 16, "constraints": [["rack", "CLUSTER", "r2"]]})")
                .status,
            201);
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/here", "cmd": "sleep 1000", "cpus": 0.1,
    "mem": 16, "instances": 2, "constraints": [["rack", "CLUSTER", "r1"]]})")
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return Tasks("/here").size() == 2; })) << Log("service");
  EXPECT_TRUE(Tasks("/elsewhere").empty());
}

// An app with Stoa's container.rootfs runs inside that root filesystem (a
// busybox directory here), with a host volume mounted at an absolute path in it.
TEST_F(ServiceClusterTest, RunsAnAppInItsOwnRootFilesystem) {
  if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
  std::string root = dir_.path() + "/rootfs";
  fs::create_directories(root + "/bin");
  fs::create_directories(root + "/etc");
  fs::copy_file("/bin/busybox", root + "/bin/busybox");
  for (const char* applet : {"sh", "cat", "sleep", "ls"}) {
    fs::create_symlink("busybox", root + "/bin/" + applet);
  }
  std::ofstream(root + "/etc/marker") << "inside\n";
  fs::create_directories(dir_.path() + "/shared");
  std::ofstream(dir_.path() + "/shared/note") << "from the host\n";
  json app = {
      {"id", "/rooted"},
      {"cmd", "cat /etc/marker /data/note; sleep 1000"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container",
       {{"type", "MESOS"},
        {"rootfs", root},
        {"volumes",
         {{{"containerPath", "/data"}, {"hostPath", dir_.path() + "/shared"}, {"mode", "RO"}}}}}}};
  HttpReply created = Call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["container"]["rootfs"], root);
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/rooted", 1); })) << Log("agent");
  std::string sandbox = Sandbox(Tasks("/rooted").begin()->first);
  ASSERT_TRUE(WaitFor([&] { return Read(sandbox + "/stdout") == "inside\nfrom the host\n"; }))
      << Read(sandbox + "/stdout") << Read(sandbox + "/stderr");
}

// Marathon's own example app definitions, exactly as its documentation gives
// them (docs/articles/examples/requests/app-simple.json, the first hostname
// example of docs/docs/constraints.md, the API's HTTP app example), deploy
// and run; the HTTP app with a documented HTTP health check gets healthy.
TEST_F(ServiceClusterTest, MarathonsExampleAppsDeployUnchanged) {
  StartAgent("agent1",
             {"--hostname=node1", "--resources=cpus:4;mem:2048;disk:1024;ports:[31100-31199]"});
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents() == 2; })) << Log("master");
  const char* simple = R"({
  "id": "/simple",
  "instances": 2,
  "cmd": "sleep 1000",
  "cpus": 0.1,
  "disk": 0,
  "mem": 16
})";
  const char* cluster = R"({
    "id": "sleep-cluster",
    "cmd": "sleep 60",
    "instances": 3,
    "constraints": [["hostname", "CLUSTER", "a.specific.node.com"]]
  })";
  HttpReply created = Call("POST", "/v2/apps", simple);
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/simple", 2); })) << Log("service");
  // On a node of that name: every instance runs there once it joins.
  created = Call("POST", "/v2/apps", cluster);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["id"], "/sleep-cluster");
  StartAgent("agent2", {"--hostname=a.specific.node.com",
                        "--resources=cpus:4;mem:2048;disk:1024;ports:[31200-31299]"});
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/sleep-cluster", 3); }))
      << Get("/v2/apps/sleep-cluster").dump() << Log("service");
  for (const auto& [id, task] : Tasks("/sleep-cluster")) {
    EXPECT_EQ(task["host"], "a.specific.node.com");
  }

  // docs/docs/rest-api/public/api/v2/examples/app-check-http-example.json: a
  // port from the offers, an HTTP server on it that answers.
  const char* http = R"({
  "id": "http-index-test",
  "cmd": "python3 -m http.server $PORT0",
  "cpus": 1,
  "mem": 128,
  "disk": 0,
  "instances": 1,
  "portDefinitions": [
    {
        "port": 0,
        "protocol": "tcp",
        "name": "http"
    }],
  "requirePorts" : false,
  "env": {},
  "labels": {},
  "check": {
     "http" : {
        "portIndex": 0,
        "path": "/"
      },
      "intervalSeconds": 60,
      "timeoutSeconds": 20
   }
})";
  created = Call("POST", "/v2/apps", http);
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& [id, task] : Tasks("/http-index-test")) {
      auto page = HttpCall("GET", "127.0.0.1", task["ports"][0].get<int>(), "/", "");
      if (page.ok() && page->status == 200) return true;
    }
    return false;
  })) << Get("/v2/apps/http-index-test").dump()
      << Log("service");
  // The same server with the HTTP health check of docs/docs/native-docker.md,
  // as given there (the first check after Marathon's delaySeconds, 15 s).
  json checked = json::parse(http);
  checked["id"] = "http-health-test";
  checked.erase("check");
  checked["healthChecks"] = json::parse(R"([
    {
      "protocol": "HTTP",
      "portIndex": 0,
      "path": "/",
      "gracePeriodSeconds": 5,
      "intervalSeconds": 20,
      "maxConsecutiveFailures": 3
    }
  ])");
  created = Call("POST", "/v2/apps", checked.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(
      WaitFor([&] { return Get("/v2/apps/http-health-test")["app"].value("tasksHealthy", 0) == 1; },
              std::chrono::seconds(60)))
      << Get("/v2/apps/http-health-test").dump() << Log("service");
}

// An agent killed with SIGKILL: the master finds it unreachable, and its
// instances come back on the other agent (Marathon's default
// unreachableStrategy replaces them at once).
TEST_F(ServiceClusterTest, AnAgentKilledHasItsInstancesReplacedElsewhere) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/moving", "instances": 2, "cmd": "sleep 1000",
    "cpus": 0.1, "mem": 16})")
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/moving", 2); })) << Log("service");
  for (const auto& [id, task] : Tasks("/moving")) EXPECT_EQ(task["host"], "node0");
  StartAgent("agent1",
             {"--hostname=node1", "--resources=cpus:2;mem:2048;disk:1024;ports:[31100-31199]"});
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents() == 2; })) << Log("master");
  processes_[1]->Kill(SIGKILL);  // the first agent, node0
  ASSERT_TRUE(WaitFor(
      [&] {
        auto tasks = Tasks("/moving");
        int elsewhere = 0;
        for (const auto& [id, task] : tasks) {
          elsewhere += task["host"] == "node1" && task["state"] == "TASK_RUNNING" ? 1 : 0;
        }
        return elsewhere == 2;
      },
      std::chrono::seconds(60)))
      << Get("/v2/apps/moving?embed=apps.tasks").dump() << Log("service");
}

// A global app runs one instance per agent, and one more on an agent that
// joins later.
TEST_F(ServiceClusterTest, AGlobalAppGetsAnInstanceOnAnAgentStartedLater) {
  HttpReply created = Call("POST", "/v2/apps", R"({"id": "/everywhere", "global": true,
    "cmd": "sleep 1000", "cpus": 0.1, "mem": 16})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["global"], true);
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/everywhere", 1); })) << Log("service");
  StartAgent("agent1",
             {"--hostname=node1", "--resources=cpus:2;mem:2048;disk:1024;ports:[31100-31199]"});
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/everywhere", 2); }))
      << Get("/v2/apps/everywhere").dump() << Log("service");
  std::set<std::string> hosts;
  for (const auto& [id, task] : Tasks("/everywhere")) hosts.insert(task["host"]);
  EXPECT_EQ(hosts, (std::set<std::string>{"node0", "node1"}));
}

// An operator's `curl -N` on /v2/events sees an app's life: the API call, its
// deployment, its task running, the deployment done, and its end on delete.
TEST_F(ServiceClusterTest, TheEventStreamShowsAnAppsLife) {
  std::string stream = dir_.path() + "/events.txt";
  Process curl({"/usr/bin/curl", "-sS", "-N", "-H", "Accept: text/event-stream",
                "http://127.0.0.1:" + std::to_string(service_http_) + "/v2/events"},
               stream);
  auto find = [&](const std::string& type, const std::function<bool(const json&)>& match) {
    for (const auto& [name, data] : ParseEvents(Read(stream))) {
      if (name == type && match(data)) return data;
    }
    return json();
  };
  auto any = [](const json&) { return true; };
  ASSERT_TRUE(WaitFor([&] { return !find("event_stream_attached", any).is_null(); }))
      << Read(stream);

  HttpReply created = Call("POST", "/v2/apps", R"({"id": "/watched", "cmd": "sleep 1000",
    "cpus": 0.1, "mem": 16})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string deployment = created.headers["Marathon-Deployment-Id"];
  auto done = [&](json e) { return e["id"] == deployment; };
  ASSERT_TRUE(WaitFor([&] { return !find("deployment_success", done).is_null(); }))
      << Read(stream) << Log("service");
  json post = find("api_post_event", any);
  EXPECT_EQ(post["uri"], "/v2/apps") << post.dump();
  EXPECT_EQ(post["clientIp"], "127.0.0.1");
  EXPECT_EQ(post["appDefinition"]["id"], "/watched");
  EXPECT_EQ(find("deployment_info", any)["plan"]["id"], deployment);
  json running =
      find("status_update_event", [](json e) { return e["taskStatus"] == "TASK_RUNNING"; });
  ASSERT_FALSE(running.is_null()) << Read(stream);
  EXPECT_EQ(running["appId"], "/watched");
  EXPECT_EQ(running["host"], "node0");
  EXPECT_EQ(Tasks("/watched").count(running["taskId"]), 1u) << running.dump();
  // The task ran before the deployment was done.
  std::vector<std::string> order;
  for (auto [name, data] : ParseEvents(Read(stream))) {
    if (name == "deployment_success" || data["taskStatus"] == "TASK_RUNNING") {
      order.push_back(name);
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"status_update_event", "deployment_success"}));

  ASSERT_EQ(Call("DELETE", "/v2/apps/watched").status, 200);
  ASSERT_TRUE(WaitFor([&] {
    return !find("app_terminated_event", [](json e) { return e["appId"] == "/watched"; }).is_null();
  })) << Read(stream)
      << Log("service");
  EXPECT_FALSE(find("status_update_event",
                    [&](json e) {
                      return e["taskId"] == running["taskId"] && e["taskStatus"] == "TASK_KILLED";
                    })
                   .is_null())
      << Read(stream);
  EXPECT_TRUE(curl.running()) << Read(stream);  // the stream stays open
}

TEST_F(ServiceClusterTest, AnAgentRefusesMalformedAttributes) {
  Process agent({bin_ + "/stoa", "agent", "--master=" + master_, "--port=-1", "--http_port=0",
                 "--work_dir=" + dir_.path() + "/bad-agent", "--attributes=rack:r1;zone"},
                dir_.path() + "/bad-agent.log");
  EXPECT_EQ(agent.Wait(), 1);
  EXPECT_NE(agent.Output().find("'zone' is not NAME:VALUE"), std::string::npos) << agent.Output();
}

TEST_F(ServiceClusterTest, RefusesAMalformedAppAndKeepsServing) {
  HttpReply bad = Call("POST", "/v2/apps",
                       R"({"id": "/bad", "cmd": "x", "cpus": -1,
                           "constraints": [["hostname", "SOMETIMES"]]})");
  ASSERT_EQ(bad.status, 422) << bad.body;
  json body = json::parse(bad.body);
  std::set<std::string> paths;
  for (const auto& detail : body["details"]) paths.insert(detail["path"]);
  EXPECT_EQ(paths, (std::set<std::string>{"/cpus", "/constraints(0)"}));
  EXPECT_EQ(Call("POST", "/v2/apps", "{not json").status, 400);
  EXPECT_EQ(Call("GET", "/ping").body, "pong");
  EXPECT_TRUE(Get("/v2/apps")["apps"].empty());
}

}  // namespace
}  // namespace stoa

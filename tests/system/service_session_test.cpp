// The session a Marathon user scripts with curl, on real processes: create
// three instances, scale to five, roll out a new cmd (listed in
// /v2/deployments while it runs, every task replaced), roll out a version
// whose health check always fails (rolled back by itself while every old
// task keeps serving), delete, 404. The event stream shows each step.
#include <gtest/gtest.h>

#include <set>

#include "tests/system/service_cluster.hpp"

namespace stoa {
namespace {

using json = nlohmann::json;
using stoa::testing::Process;
using stoa::testing::WaitFor;
using system_test::ParseEvents;
using system_test::ServiceClusterTest;

// Serves "`version`\n" at /index.html; `broken`: serves nothing, so its health check fails.
std::string Cmd(const std::string& version, bool broken = false) {
  std::string page = broken ? "" : "echo " + version + " > www/index.html && ";
  return "mkdir -p www && " + page + "exec busybox httpd -f -p 127.0.0.1:$PORT0 -h www";
}

class ServiceSessionTest : public ServiceClusterTest {
 protected:
  std::set<std::string> Ids(const std::string& app) {
    std::set<std::string> ids;
    for (const auto& [id, task] : Tasks(app)) ids.insert(id);
    return ids;
  }
  bool Healthy(const std::string& app, size_t count) {
    json shown = Get("/v2/apps" + app)["app"];
    return shown.value("tasksHealthy", -1) == static_cast<int>(count) && AllRunning(app, count);
  }
  // What each task of `app` serves, by task id ("" when it does not answer).
  std::map<std::string, std::string> Pages(const std::string& app) {
    std::map<std::string, std::string> pages;
    for (const auto& [id, task] : Tasks(app)) {
      auto reply = HttpCall("GET", "127.0.0.1", task["ports"][0].get<int>(), "/index.html", "");
      pages[id] = reply.ok() && reply->status == 200 ? reply->body : "";
    }
    return pages;
  }
};

TEST_F(ServiceSessionTest, CreateScaleUpdateAutomaticRollbackAndDeleteWithTheirEvents) {
  std::string stream = dir_.path() + "/events.txt";
  Process curl({"/usr/bin/curl", "-sS", "-N", "-H", "Accept: text/event-stream",
                "http://127.0.0.1:" + std::to_string(service_http_) + "/v2/events"},
               stream);
  auto events = [&](const std::string& type) {
    std::vector<json> out;
    for (auto& [name, data] : ParseEvents(Read(stream))) {
      if (name == type) out.push_back(data);
    }
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return !events("event_stream_attached").empty(); }));
  auto finished = [&](const std::string& deployment) {
    for (const auto& event : events("deployment_success")) {
      if (event["id"] == deployment) return true;
    }
    return false;
  };

  // Create 3.
  json app = {{"id", "/session/web"},
              {"cmd", Cmd("v1")},
              {"instances", 3},
              {"cpus", 0.1},
              {"mem", 32},
              {"portDefinitions", {{{"port", 0}, {"name", "http"}}}},
              {"healthChecks",
               {{{"protocol", "MESOS_HTTP"},
                 {"path", "/index.html"},
                 {"portIndex", 0},
                 {"gracePeriodSeconds", 3},
                 {"intervalSeconds", 1},
                 {"timeoutSeconds", 1},
                 {"maxConsecutiveFailures", 2},
                 {"delaySeconds", 0}}}}};
  HttpReply created = Call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(WaitFor([&] { return Healthy("/session/web", 3); }))
      << Get("/v2/apps/session/web").dump() << Log("service");
  // The stream may be a moment behind the API.
  EXPECT_TRUE(WaitFor([&] { return finished(created.headers["Marathon-Deployment-Id"]); }))
      << Read(stream);

  // Scale to 5: the 3 stay.
  std::set<std::string> three = Ids("/session/web");
  HttpReply scaled = Call("PUT", "/v2/apps/session/web", R"({"instances": 5})");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  ASSERT_TRUE(WaitFor([&] { return Healthy("/session/web", 5); }))
      << Get("/v2/apps/session/web").dump() << Log("service");
  std::set<std::string> five = Ids("/session/web");
  EXPECT_TRUE(std::includes(five.begin(), five.end(), three.begin(), three.end()));

  // A new cmd: a rolling update, listed while it runs; every task replaced.
  HttpReply updated = Call("PUT", "/v2/apps/session/web", json({{"cmd", Cmd("v2")}}).dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  std::string update = json::parse(updated.body)["deploymentId"];
  json listed = Get("/v2/deployments");
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["id"], update);
  EXPECT_EQ(listed[0]["affectedApps"], json::array({"/session/web"}));
  EXPECT_EQ(listed[0]["currentActions"][0]["action"], "RestartApplication");
  ASSERT_TRUE(WaitFor([&] { return finished(update) && Healthy("/session/web", 5); }))
      << Get("/v2/apps/session/web?embed=apps.tasks").dump() << Log("service");
  std::set<std::string> v2 = Ids("/session/web");
  for (const auto& id : v2) EXPECT_EQ(five.count(id), 0u) << id << " was not replaced";
  for (const auto& [id, page] : Pages("/session/web")) EXPECT_EQ(page, "v2\n") << id;

  // A version whose health check always fails: rolled back by itself, and
  // every v2 task serves all along.
  HttpReply broken = Call("PUT", "/v2/apps/session/web", json({{"cmd", Cmd("v3", true)}}).dump());
  ASSERT_EQ(broken.status, 200) << broken.body;
  std::string bad = json::parse(broken.body)["deploymentId"];
  int checks = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::map<std::string, std::string> pages = Pages("/session/web");
        for (const auto& id : v2) {
          EXPECT_EQ(pages[id], "v2\n") << id << " stopped serving during the failed update";
        }
        ++checks;
        for (const auto& event : events("deployment_failed")) {
          if (event["id"] == bad) return Get("/v2/deployments").empty();
        }
        return false;
      },
      std::chrono::seconds(60)))
      << Get("/v2/apps/session/web?embed=apps.tasks").dump() << Read(stream) << Log("service");
  EXPECT_GT(checks, 1);
  json failed = events("deployment_failed").back();
  std::string reason = failed["reason"];
  EXPECT_NE(reason.find("rolled back to version " +
                        json::parse(updated.body)["version"].get<std::string>()),
            std::string::npos)
      << reason;
  EXPECT_EQ(Get("/v2/apps/session/web")["app"]["cmd"], Cmd("v2"));
  EXPECT_EQ(Ids("/session/web"), v2);
  ASSERT_FALSE(events("unhealthy_instance_kill_event").empty()) << Read(stream);

  // Delete, then 404.
  ASSERT_EQ(Call("DELETE", "/v2/apps/session/web").status, 200);
  EXPECT_EQ(Call("GET", "/v2/apps/session/web").status, 404);
  ASSERT_TRUE(WaitFor([&] { return !events("app_terminated_event").empty(); }))
      << Read(stream) << Log("service");

  // Each step in the stream: the API calls, the deployments and the tasks
  // (the delete's deployment_success follows app_terminated_event).
  ASSERT_TRUE(WaitFor([&] { return events("deployment_success").size() >= 5; })) << Read(stream);
  EXPECT_EQ(events("api_post_event").size(), 5u);  // POST, scale, two updates, delete
  std::set<std::string> actions;
  for (const auto& event : events("deployment_info")) {
    actions.insert(event["currentStep"]["actions"][0]["action"].get<std::string>());
  }
  EXPECT_EQ(actions, (std::set<std::string>{"StartApplication", "ScaleApplication",
                                            "RestartApplication", "StopApplication"}));
  EXPECT_GE(events("deployment_success").size(), 5u);  // create, scale, update, the revert, delete
  EXPECT_FALSE(events("health_status_changed_event").empty());
  EXPECT_FALSE(events("failed_health_check_event").empty());
  size_t killed = 0;
  for (const auto& event : events("status_update_event"))
    killed += event["taskStatus"] == "TASK_KILLED";
  EXPECT_GE(killed, 5u + 3u + 5u);  // v1 replaced, broken v3 ones, v2 deleted
}

}  // namespace
}  // namespace stoa

// GET /v2/endpoints and /v2/apps/{id}/endpoints: the instances that should
// get traffic (running, healthy, not being killed), with their host ports.
#include <set>

#include "tests/unit/service_api_fixture.hpp"

namespace stoa::service {
namespace {

class EndpointsTest : public ServiceApiFixture {
 protected:
  void ReportHealth(const TaskId& id, bool healthy) {
    TaskStatus status;
    status.task_id = id;
    status.state = TaskState::kRunning;
    status.healthy = healthy;
    core_->Update(status);
  }
  std::set<std::string> EndpointTasks(const json& app) {
    std::set<std::string> ids;
    for (const auto& endpoint : app["endpoints"]) ids.insert(endpoint["taskId"]);
    return ids;
  }
};

TEST_F(EndpointsTest, OnlyHealthyInstancesThatAreNotBeingKilledAreEndpoints) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({
    "id": "/shop/web", "cmd": "serve", "cpus": 0.1, "instances": 3,
    "portDefinitions": [{"port": 0, "name": "http"}, {"port": 0}],
    "labels": {"HAPROXY_GROUP": "external"},
    "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0}]})")
                .status,
            201);
  RunTasks();
  ASSERT_EQ(actions_.launched.size(), 3u);
  json app = Json(Call("GET", "/v2/apps/shop/web/endpoints"));
  EXPECT_EQ(app["id"], "/shop/web");
  EXPECT_EQ(app["tasksRunning"], 3);
  EXPECT_TRUE(app["endpoints"].empty()) << "no health result yet: no traffic";
  ASSERT_EQ(app["servicePorts"].size(), 2u);
  EXPECT_GT(app["servicePorts"][0].get<int>(), 0) << "a service port was assigned";
  EXPECT_EQ(app["portDefinitions"][0]["name"], "http");
  EXPECT_EQ(app["labels"]["HAPROXY_GROUP"], "external");

  const TaskId a = actions_.launched[0].task_id, b = actions_.launched[1].task_id,
               c = actions_.launched[2].task_id;
  ReportHealth(a, true);
  ReportHealth(b, true);
  ReportHealth(c, false);
  app = Json(Call("GET", "/v2/apps/shop/web/endpoints"));
  EXPECT_EQ(EndpointTasks(app), (std::set<std::string>{a, b}));
  for (const auto& endpoint : app["endpoints"]) {
    EXPECT_EQ(endpoint["host"], "host-agent-1");
    ASSERT_EQ(endpoint["ports"].size(), 2u);
    EXPECT_GE(endpoint["ports"][0].get<int>(), 31000);
    EXPECT_NE(endpoint["ports"][0], endpoint["ports"][1]);
  }

  // A task the service is killing leaves at once, before it has ended.
  ASSERT_EQ(Call("DELETE", "/v2/apps/shop/web/tasks/" + a).status, 200);
  app = Json(Call("GET", "/v2/apps/shop/web/endpoints"));
  EXPECT_EQ(EndpointTasks(app), (std::set<std::string>{b}));
}

TEST_F(EndpointsTest, ListsEveryAppAndAnswers404ForAnUnknownOne) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/a", "cmd": "a", "cpus": 0.1})").status, 201);
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/b/c", "cmd": "c", "cpus": 0.1})").status, 201);
  RunTasks();
  json all = Json(Call("GET", "/v2/endpoints"));
  ASSERT_EQ(all["apps"].size(), 2u);
  EXPECT_EQ(all["apps"][0]["id"], "/a");
  EXPECT_EQ(all["apps"][0]["endpoints"].size(), 1u) << "no health checks: running is enough";
  EXPECT_EQ(all["apps"][1]["id"], "/b/c");
  HttpReply missing = Call("GET", "/v2/apps/nope/endpoints");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json(missing)["message"], "App '/nope' does not exist");
}

// After a restart the health of the recovered tasks is unknown until their
// checks report again: /v2/endpoints says it is settling meanwhile, so that
// DNS and the balancer keep the instances they had.
TEST_F(EndpointsTest, SaysItIsSettlingUntilRecoveredTasksReportTheirHealth) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/web", "cmd": "serve", "cpus": 0.1,
    "portDefinitions": [{"port": 0}], "healthChecks": [{"protocol": "MESOS_TCP"}]})")
                .status,
            201);
  RunTasks();
  ReportHealth(actions_.launched[0].task_id, true);
  json before = Json(Call("GET", "/v2/endpoints"));
  EXPECT_EQ(before["settling"], false);
  EXPECT_EQ(before["apps"][0]["endpoints"].size(), 1u);

  Open();  // a restart
  json after = Json(Call("GET", "/v2/endpoints"));
  EXPECT_EQ(after["settling"], true);
  EXPECT_TRUE(after["apps"][0]["endpoints"].empty());
  ReportHealth(actions_.launched[0].task_id, true);
  after = Json(Call("GET", "/v2/endpoints"));
  EXPECT_EQ(after["settling"], false);
  EXPECT_EQ(after["apps"][0]["endpoints"].size(), 1u);
}

// With a drain delay, a task killed while it gets traffic leaves the
// endpoints at once (with an event, which DNS and the balancer follow) and is
// killed only once the delay is over.
TEST_F(EndpointsTest, AKilledInstanceLeavesTheEndpointsBeforeItsKill) {
  kill_drain_ = 2;
  Open();
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/web", "cmd": "serve", "cpus": 0.1,
    "instances": 2, "portDefinitions": [{"port": 0}]})")
                .status,
            201);
  RunTasks();
  ASSERT_EQ(actions_.launched.size(), 2u);
  const TaskId a = actions_.launched[0].task_id, b = actions_.launched[1].task_id;
  ASSERT_EQ(Call("DELETE", "/v2/apps/web/tasks/" + a).status, 200);
  EXPECT_TRUE(actions_.killed.empty()) << "draining first";
  EXPECT_EQ(EndpointTasks(Json(Call("GET", "/v2/apps/web/endpoints"))), (std::set<std::string>{b}));
  bool announced = false;
  for (const auto& event : events_) {
    announced = announced || (event["eventType"] == "instance_draining_event" &&
                              event["taskId"] == a && event["drainSeconds"] == 2);
  }
  EXPECT_TRUE(announced);
  now_ += 1;
  core_->Tick();
  EXPECT_TRUE(actions_.killed.empty());
  now_ += 1.5;
  core_->Tick();
  EXPECT_EQ(actions_.killed, (std::vector<TaskId>{a}));
  core_->Tick();
  EXPECT_EQ(actions_.killed.size(), 1u) << "one kill, resent only after kill_retry";
}

}  // namespace
}  // namespace stoa::service

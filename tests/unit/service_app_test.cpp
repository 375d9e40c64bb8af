// The service framework's app model: ids, timestamps, and the app JSON parsed
// and validated field by field, each malformed field refused with its path.
#include <gtest/gtest.h>

#include "frameworks/service/app_json.hpp"
#include "frameworks/service/path_id.hpp"
#include "frameworks/service/timestamp.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

TEST(PathId, NormalisesAsMarathonDoes) {
  EXPECT_EQ(PathId::Parse("/shop/web").ToString(), "/shop/web");
  EXPECT_EQ(PathId::Parse("shop/web").ToString(), "/shop/web");
  EXPECT_EQ(PathId::Parse("//shop//web/").ToString(), "/shop/web");
  EXPECT_EQ(PathId::Parse("/shop/./api/../web").ToString(), "/shop/web");
  EXPECT_EQ(PathId::Parse("/../..").ToString(), "/");
  EXPECT_EQ(PathId::Parse("/shop/web").SafePath(), "shop_web");
  EXPECT_TRUE(PathId::Parse("/shop").Contains(PathId::Parse("/shop/web")));
  EXPECT_FALSE(PathId::Parse("/shop/web").Contains(PathId::Parse("/shop")));
  EXPECT_FALSE(PathId::Parse("/sh").Contains(PathId::Parse("/shop")));
}

TEST(PathId, ValidatesEachName) {
  EXPECT_TRUE(PathIdErrors(PathId::Parse("/shop/web-1")).empty());
  EXPECT_TRUE(PathIdErrors(PathId::Parse("/a.b-c.d")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/Shop")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/shop_web")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/-web")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/web-")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/a..b")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/shop/tasks")).empty());
  EXPECT_FALSE(PathIdErrors(PathId::Parse("/shop/versions")).empty());
  EXPECT_TRUE(PathIdErrors(PathId::Parse("/tasks/web")).empty());  // only the last name
}

TEST(PathId, TaskIdsNameTheirApp) {
  std::string task = NewTaskId(PathId::Parse("/shop/web.v2"));
  EXPECT_EQ(task.rfind("shop_web.v2.instance-", 0), 0u) << task;
  ASSERT_TRUE(AppOfTaskId(task).has_value());
  EXPECT_EQ(AppOfTaskId(task)->ToString(), "/shop/web.v2");
  EXPECT_NE(NewTaskId(PathId::Parse("/a")), NewTaskId(PathId::Parse("/a")));
  EXPECT_FALSE(AppOfTaskId("hello-1").has_value());
  EXPECT_FALSE(AppOfTaskId(".instance-x").has_value());
}

TEST(Timestamp, FormatsAndParsesIsoUtc) {
  EXPECT_EQ(FormatTimestamp(1440620619.4639), "2015-08-26T20:23:39.463Z");
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  auto parsed = ParseTimestamp("2015-08-26T20:23:39.463Z");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_NEAR(*parsed, 1440620619.463, 1e-6);
  EXPECT_TRUE(ParseTimestamp("2015-08-26T20:23:39Z").has_value());
  EXPECT_TRUE(ParseTimestamp("2015-08-26T20:23:39.1+00:00").has_value());
  EXPECT_FALSE(ParseTimestamp("2015-08-26 20:23:39Z").has_value());
  EXPECT_FALSE(ParseTimestamp("2015-13-26T20:23:39Z").has_value());
  EXPECT_FALSE(ParseTimestamp("2015-08-26T20:23:39+02:00").has_value());
  EXPECT_FALSE(ParseTimestamp("yesterday").has_value());
}

TEST(Timestamp, VersionsStrictlyIncrease) {
  VersionClock clock;
  std::string a = clock.Next(100.0);
  std::string b = clock.Next(100.0);
  EXPECT_LT(a, b);
  clock.Observe("2030-01-01T00:00:00.000Z");
  EXPECT_EQ(clock.Next(100.0), "2030-01-01T00:00:00.001Z");
}

ParsedApp Parse(const std::string& text) { return ParseApp(json::parse(text)); }

TEST(AppJson, AppliesMarathonsDefaults) {
  ParsedApp parsed = Parse(R"({"id": "web", "cmd": "python3 -m http.server $PORT0"})");
  ASSERT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  const AppDefinition& app = *parsed.app;
  EXPECT_EQ(app.id.ToString(), "/web");
  EXPECT_EQ(app.cpus, 1);
  EXPECT_EQ(app.mem, 128);
  EXPECT_EQ(app.disk, 0);
  EXPECT_EQ(app.instances, 1);
  EXPECT_EQ(app.backoff_seconds, 1);
  EXPECT_DOUBLE_EQ(app.backoff_factor, 1.15);
  EXPECT_EQ(app.max_launch_delay_seconds, 300);
  EXPECT_EQ(app.kill_selection, KillSelection::kYoungestFirst);
  ASSERT_EQ(app.port_definitions.size(), 1u);  // one port, named "default"
  EXPECT_EQ(app.port_definitions[0].name, "default");
  EXPECT_EQ(app.port_definitions[0].port, 0);
  EXPECT_TRUE(app.unreachable_strategy.enabled);
  EXPECT_EQ(app.upgrade_strategy.minimum_health_capacity, 1);

  json out = AppJson(app);
  EXPECT_EQ(out["id"], "/web");
  EXPECT_TRUE(out["args"].is_null());
  EXPECT_TRUE(out["container"].is_null());
  EXPECT_EQ(out["upgradeStrategy"]["maximumOverCapacity"], 1);
  EXPECT_EQ(out["unreachableStrategy"]["inactiveAfterSeconds"], 0);
  EXPECT_EQ(out["killSelection"], "YOUNGEST_FIRST");
  EXPECT_EQ(out["ports"], json::array({0}));
}

TEST(AppJson, ReadsEveryFieldItActsOn) {
  ParsedApp parsed = Parse(R"({
    "id": "/shop//web", "args": ["sleep", "100"], "user": "nobody",
    "env": {"A": "1"}, "labels": {"team": "shop"},
    "cpus": 0.25, "mem": 64, "disk": 10, "gpus": 0, "instances": 3,
    "portDefinitions": [{"port": 0, "name": "http", "protocol": "tcp", "labels": {"vip": "x"}},
                        {"port": 8080, "protocol": "udp"}],
    "requirePorts": false,
    "constraints": [["hostname", "unique"], ["rack", "GROUP_BY", "3"], ["hostname", "LIKE", "node.*"],
                    ["hostname", "MAX_PER", "2"], ["rack", "CLUSTER", "a"], ["hostname", "UNIQUE", ""]],
    "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 5,
                      "intervalSeconds": 10, "timeoutSeconds": 2, "maxConsecutiveFailures": 2}],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
    "backoffSeconds": 2, "backoffFactor": 2.0, "maxLaunchDelaySeconds": 60,
    "killSelection": "OLDEST_FIRST", "taskKillGracePeriodSeconds": 7,
    "unreachableStrategy": {"inactiveAfterSeconds": 30, "expungeAfterSeconds": 60},
    "container": {"type": "MESOS", "volumes": [{"containerPath": "data", "hostPath": "/srv/data", "mode": "RW"}]},
    "version": "2015-01-01T00:00:00.000Z", "versionInfo": {"lastScalingAt": "x"}
  })");
  ASSERT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  const AppDefinition& app = *parsed.app;
  EXPECT_EQ(app.id.ToString(), "/shop/web");
  EXPECT_FALSE(app.cmd.has_value());
  EXPECT_EQ(app.args->size(), 2u);
  EXPECT_EQ(*app.user, "nobody");
  EXPECT_EQ(app.env.at("A"), "1");
  EXPECT_EQ(app.labels.at("team"), "shop");
  EXPECT_EQ(app.cpus, 0.25);
  EXPECT_EQ(app.instances, 3);
  ASSERT_EQ(app.port_definitions.size(), 2u);
  EXPECT_EQ(app.port_definitions[1].port, 8080);
  EXPECT_EQ(app.port_definitions[0].labels.at("vip"), "x");
  // The repeated UNIQUE (with an empty value) is the same constraint.
  ASSERT_EQ(app.constraints.size(), 5u);
  EXPECT_EQ(app.constraints[0].op, ConstraintOperator::kUnique);
  EXPECT_EQ(app.constraints[1].value, "3");
  EXPECT_EQ(app.health_checks.at(0).path, "/health");
  EXPECT_EQ(app.health_checks.at(0).timeout_seconds, 2);
  EXPECT_EQ(app.upgrade_strategy.maximum_over_capacity, 0.2);
  EXPECT_EQ(app.kill_selection, KillSelection::kOldestFirst);
  EXPECT_EQ(*app.task_kill_grace_period_seconds, 7);
  EXPECT_EQ(app.unreachable_strategy.inactive_after_seconds, 30);
  ASSERT_TRUE(app.container.has_value());
  ASSERT_EQ(app.container->volumes.size(), 1u);
  EXPECT_FALSE(app.container->volumes[0].read_only);
  EXPECT_TRUE(app.version.empty());  // set by the service, never by a request
  EXPECT_TRUE(app.kept.empty()) << app.kept.dump();
}

// Marathon's readiness check, with its defaults, read and shown field by field.
TEST(AppJson, ReadsReadinessChecksWithMarathonsDefaults) {
  ParsedApp parsed = Parse(R"({"id": "/a", "cmd": "x",
    "portDefinitions": [{"port": 0, "name": "http-api"}, {"port": 0, "name": "admin"}],
    "readinessChecks": [{}]})");
  ASSERT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  ASSERT_EQ(parsed.app->readiness_checks.size(), 1u);
  const ReadinessCheck& defaults = parsed.app->readiness_checks[0];
  EXPECT_EQ(defaults, ReadinessCheck{});
  EXPECT_EQ(AppJson(*parsed.app)["readinessChecks"],
            json::parse(R"([{"name": "readinessCheck", "protocol": "HTTP", "path": "/",
              "portName": "http-api", "intervalSeconds": 30, "timeoutSeconds": 10,
              "httpStatusCodesForReady": [200], "preserveLastResponse": false}])"));

  parsed = Parse(R"({"id": "/a", "cmd": "x",
    "portDefinitions": [{"port": 0, "name": "http-api"}, {"port": 0, "name": "admin"}],
    "readinessChecks": [{"name": "warm", "protocol": "HTTPS", "path": "/ready",
      "portName": "admin", "intervalSeconds": 5, "timeoutSeconds": 2,
      "httpStatusCodesForReady": [200, 204, 200], "preserveLastResponse": true}]})");
  ASSERT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  const ReadinessCheck& check = parsed.app->readiness_checks[0];
  EXPECT_EQ(check.name, "warm");
  EXPECT_EQ(check.protocol, "HTTPS");
  EXPECT_EQ(check.path, "/ready");
  EXPECT_EQ(check.port_name, "admin");
  EXPECT_EQ(check.interval_seconds, 5);
  EXPECT_EQ(check.timeout_seconds, 2);
  EXPECT_EQ(check.http_status_codes_for_ready, (std::vector<int>{200, 204}));
  EXPECT_TRUE(check.preserve_last_response);
  ParsedApp again = ParseApp(AppSpecJson(*parsed.app));
  ASSERT_TRUE(again.app.has_value()) << again.errors.Summary();
  EXPECT_EQ(again.app->readiness_checks, parsed.app->readiness_checks);
  EXPECT_FALSE(parsed.app->kept.contains("readinessChecks"));
  // The message names the port, as Marathon's does.
  ParsedApp unknown = Parse(R"({"id": "/a", "cmd": "x", "readinessChecks": [{}]})");
  ASSERT_FALSE(unknown.app.has_value());
  EXPECT_NE(unknown.errors.at("/readinessChecks(0)/portName")
                .at(0)
                .find("No port definition reference for portName http-api"),
            std::string::npos)
      << unknown.errors.Summary();
}

TEST(AppJson, KeepsFieldsItDoesNotActOnAndDropsResponseFields) {
  ParsedApp parsed = Parse(R"({"id": "/a", "cmd": "x",
    "acceptedResourceRoles": ["*"], "dependencies": ["/b"], "fetch": [{"uri": "http://x/y"}],
    "readinessChecks": [], "executor": "", "somethingNew": {"deep": [1, 2]},
    "tasksRunning": 3, "tasks": [], "deployments": [{"id": "d"}], "lastTaskFailure": {}})");
  ASSERT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  const json& kept = parsed.app->kept;
  EXPECT_EQ(kept["acceptedResourceRoles"], json::array({"*"}));
  EXPECT_EQ(kept["somethingNew"]["deep"][1], 2);
  EXPECT_EQ(kept["fetch"][0]["uri"], "http://x/y");
  for (const char* dropped : {"tasksRunning", "tasks", "deployments", "lastTaskFailure"}) {
    EXPECT_FALSE(kept.contains(dropped)) << dropped;
  }
  json out = AppJson(*parsed.app);
  EXPECT_EQ(out["somethingNew"]["deep"][0], 1);
  EXPECT_EQ(out["dependencies"], json::array({"/b"}));
}

TEST(AppJson, PortsIsTheOldFormOfPortDefinitions) {
  ParsedApp parsed = Parse(R"({"id": "/a", "cmd": "x", "ports": [0, 9000]})");
  ASSERT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  ASSERT_EQ(parsed.app->port_definitions.size(), 2u);
  EXPECT_EQ(parsed.app->port_definitions[1].port, 9000);
  EXPECT_TRUE(parsed.app->port_definitions[0].name.empty());

  ParsedApp none = Parse(R"({"id": "/a", "cmd": "x", "portDefinitions": []})");
  ASSERT_TRUE(none.app.has_value());
  EXPECT_TRUE(none.app->port_definitions.empty());

  ParsedApp same =
      Parse(R"({"id": "/a", "cmd": "x", "ports": [80], "portDefinitions": [{"port": 80}]})");
  EXPECT_TRUE(same.app.has_value()) << same.errors.Summary();
}

// Each malformed app is refused, with the path of what is wrong.
struct Malformed {
  const char* body;
  const char* path;
  const char* message;  // "Invalid JSON" (a wrong type) or "Object is not valid"
};

class MalformedApp : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedApp, IsRefusedWithThePathOfTheField) {
  const Malformed& m = GetParam();
  ParsedApp parsed = ParseApp(json::parse(m.body));
  ASSERT_FALSE(parsed.app.has_value()) << m.body;
  json body = parsed.errors.Body();
  EXPECT_EQ(body["message"], m.message) << body.dump();
  bool found = false;
  for (const auto& detail : body["details"]) {
    if (detail["path"] == m.path) {
      found = true;
      ASSERT_FALSE(detail["errors"].empty());
      for (const auto& error : detail["errors"]) EXPECT_FALSE(error.get<std::string>().empty());
    }
  }
  EXPECT_TRUE(found) << m.body << " -> " << body.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Fields, MalformedApp,
    ::testing::Values(
        Malformed{R"([1, 2])", "/", "Invalid JSON"},
        Malformed{R"({"cmd": "x"})", "/id", "Invalid JSON"},
        Malformed{R"({"id": 5, "cmd": "x"})", "/id", "Invalid JSON"},
        Malformed{R"({"id": "/", "cmd": "x"})", "/id", "Object is not valid"},
        Malformed{R"({"id": "/Shop", "cmd": "x"})", "/id", "Object is not valid"},
        Malformed{R"({"id": "/a_b", "cmd": "x"})", "/id", "Object is not valid"},
        Malformed{R"({"id": "/a/restart", "cmd": "x"})", "/id", "Object is not valid"},
        Malformed{R"({"id": "/a"})", "/", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "args": ["y"]})", "/", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": ""})", "/cmd", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": ["x"]})", "/cmd", "Invalid JSON"},
        Malformed{R"({"id": "/a", "args": "x"})", "/args", "Invalid JSON"},
        Malformed{R"({"id": "/a", "args": ["x", 1]})", "/args(1)", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "user": 0})", "/user", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "env": {"A": 1}})", "/env/A", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "env": {"A": {"secret": "s"}}})", "/env/A",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "env": []})", "/env", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "labels": {"a": true}})", "/labels/a",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "cpus": -1})", "/cpus", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "cpus": 0})", "/cpus", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "cpus": "1"})", "/cpus", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "mem": -5})", "/mem", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "disk": -0.5})", "/disk", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "gpus": 0.5})", "/gpus", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "instances": -1})", "/instances",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "instances": 1.5})", "/instances", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "instances": 3000000000})", "/instances",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "ports": [70000]})", "/ports(0)",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "ports": [80, 80]})", "/ports",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "ports": ["80"]})", "/ports(0)", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "ports": [1], "portDefinitions": [{"port": 2}]})",
                  "/", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"port": -1}]})",
                  "/portDefinitions(0)/port", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "portDefinitions": [{"port": 0, "protocol": "sctp"}]})",
            "/portDefinitions(0)/protocol", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "Bad_Name"}]})",
                  "/portDefinitions(0)/name", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "a"}, {"name": "a"}]})",
                  "/portDefinitions", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [5]})", "/portDefinitions(0)",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "requirePorts": "yes"})", "/requirePorts",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "SOMETIMES"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname"]]})", "/constraints(0)",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "UNIQUE", "x"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "MAX_PER"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "MAX_PER", "two"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "LIKE"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "LIKE", "(("]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["rack", "GROUP_BY", "x"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["", "UNIQUE"]]})", "/constraints(0)",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [["rack", "IS", "a b"]]})",
                  "/constraints(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "constraints": [[1, 2]]})", "/constraints(0)",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "SMTP"}]})",
                  "/healthChecks(0)/protocol", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "healthChecks": [{"portIndex": 3}]})",
                  "/healthChecks(0)/portIndex", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [], "healthChecks": [{}]})",
                  "/healthChecks(0)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "COMMAND"}]})",
                  "/healthChecks(0)/command", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "healthChecks": [{"intervalSeconds": -1}]})",
                  "/healthChecks(0)/intervalSeconds", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "healthChecks": [{"timeoutSeconds": 30, "intervalSeconds": 10}]})",
            "/healthChecks(0)/timeoutSeconds", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "healthChecks": [{"command": {"value": "true"}}, {"protocol": "MESOS_TCP"}]})",
            "/healthChecks", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "healthChecks": [{"intervalSeconds": 0}]})",
                  "/healthChecks(0)/intervalSeconds", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "healthChecks": [{"port": 0}]})",
                  "/healthChecks(0)/port", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"name": ""}]})",
                  "/readinessChecks(0)/name", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "readinessChecks": [{"portName": "web"}]})",
                  "/readinessChecks(0)/portName", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"protocol": "TCP"}]})",
                  "/readinessChecks(0)/protocol", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"intervalSeconds": 5, "timeoutSeconds": 5}]})",
                  "/readinessChecks(0)/timeoutSeconds", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"timeoutSeconds": 0}]})",
                  "/readinessChecks(0)/timeoutSeconds", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"httpStatusCodesForReady": []}]})",
                  "/readinessChecks(0)/httpStatusCodesForReady", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"httpStatusCodesForReady": [200, 42]}]})",
                  "/readinessChecks(0)/httpStatusCodesForReady(1)", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"httpStatusCodesForReady": ["200"]}]})",
                  "/readinessChecks(0)/httpStatusCodesForReady(0)", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{"preserveLastResponse": "yes"}]})",
                  "/readinessChecks(0)/preserveLastResponse", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "portDefinitions": [{"name": "http-api"}],
                     "readinessChecks": [{}, {}]})",
                  "/readinessChecks", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "readinessChecks": {}})", "/readinessChecks",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 1.5}})",
                  "/upgradeStrategy/minimumHealthCapacity", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "upgradeStrategy": {"maximumOverCapacity": -0.1}})",
                  "/upgradeStrategy/maximumOverCapacity", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "upgradeStrategy": 1})", "/upgradeStrategy",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "backoffSeconds": -1})", "/backoffSeconds",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "backoffFactor": 0.5})", "/backoffFactor",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "maxLaunchDelaySeconds": "1h"})",
                  "/maxLaunchDelaySeconds", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "killSelection": "RANDOM"})", "/killSelection",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "taskKillGracePeriodSeconds": -3})",
                  "/taskKillGracePeriodSeconds", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "unreachableStrategy": "sometimes"})",
                  "/unreachableStrategy", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 30}})",
            "/unreachableStrategy", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "unreachableStrategy": {"inactiveAfterSeconds": -1}})",
            "/unreachableStrategy/inactiveAfterSeconds", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "unreachableStrategy": 5})", "/unreachableStrategy",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "container": {"docker": {"image": "nginx"}}})",
                  "/container/type", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "docker": {"image": "nginx"}}})",
            "/container/docker", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "container": {"type": "LXC"}})", "/container/type",
                  "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "volumes": [{"containerPath": "d", "hostPath": "rel", "mode": "RO"}]}})",
            "/container/volumes(0)/hostPath", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "volumes": [{"containerPath": "/abs", "hostPath": "/h", "mode": "RO"}]}})",
            "/container/volumes(0)/containerPath", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "volumes": [{"containerPath": "d", "hostPath": "/h", "mode": "RX"}]}})",
            "/container/volumes(0)/mode", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "volumes": [{"containerPath": "d", "persistent": {"size": 1}}]}})",
            "/container/volumes(0)", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "rootfs": "images/b.tar"}})",
            "/container/rootfs", "Object is not valid"},
        Malformed{
            R"({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "rootfs": "/i", "volumes": [{"containerPath": "/../etc", "hostPath": "/h", "mode": "RO"}]}})",
            "/container/volumes(0)/containerPath", "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "global": true, "instances": 3})", "/instances",
                  "Object is not valid"},
        Malformed{R"({"id": "/a", "cmd": "x", "global": "yes"})", "/global", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "container": []})", "/container", "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "dependencies": "/b"})", "/dependencies",
                  "Invalid JSON"},
        Malformed{R"({"id": "/a", "cmd": "x", "networks": [{"mode": "container", "name": "n"}]})",
                  "/networks(0)", "Object is not valid"}));

TEST(AppJson, StoaExtensionsAppearOnlyWhereTheAppSetsThem) {
  ParsedApp plain = Parse(R"({"id": "/a", "cmd": "x"})");
  ASSERT_TRUE(plain.app.has_value());
  EXPECT_FALSE(AppJson(*plain.app).contains("global"));
  ParsedApp global = Parse(R"({"id": "/a", "cmd": "x", "global": true})");
  ASSERT_TRUE(global.app.has_value()) << global.errors.Summary();
  EXPECT_TRUE(global.app->global);
  EXPECT_EQ(AppJson(*global.app)["global"], true);
  EXPECT_FALSE(AppJson(*global.app)["container"].is_object());
}

TEST(AppJson, CollectsEveryProblemAtOnce) {
  ParsedApp parsed = Parse(R"({"id": "/Bad", "cpus": -1, "mem": "lots", "instances": -2})");
  ASSERT_FALSE(parsed.app.has_value());
  for (const char* path : {"/id", "/cpus", "/mem", "/instances", "/"}) {
    EXPECT_TRUE(parsed.errors.has(path)) << path << ": " << parsed.errors.Summary();
  }
  EXPECT_EQ(parsed.errors.Body()["message"], "Invalid JSON");  // one was of the wrong type
}

TEST(AppJson, PartialUpdatesReplaceWholeTopLevelFields) {
  ParsedApp base =
      Parse(R"({"id": "/a", "cmd": "sleep 1", "instances": 2, "env": {"A": "1", "B": "2"},
                            "ports": [0]})");
  ASSERT_TRUE(base.app.has_value());
  json spec = AppSpecJson(*base.app);

  json scaled = MergeAppUpdate(spec, json::parse(R"({"instances": 5, "id": "/ignored"})"));
  ParsedApp after = ParseApp(scaled);
  ASSERT_TRUE(after.app.has_value()) << after.errors.Summary();
  EXPECT_EQ(after.app->instances, 5);
  EXPECT_EQ(after.app->id.ToString(), "/a");
  EXPECT_TRUE(OnlyScaled(*base.app, *after.app));

  json args = MergeAppUpdate(spec, json::parse(R"({"args": ["sleep", "2"], "env": {"C": "3"}})"));
  ParsedApp changed = ParseApp(args);
  ASSERT_TRUE(changed.app.has_value()) << changed.errors.Summary();
  EXPECT_FALSE(changed.app->cmd.has_value());  // args replaces cmd
  EXPECT_EQ(changed.app->env.size(), 1u);      // env is replaced, not merged
  EXPECT_FALSE(OnlyScaled(*base.app, *changed.app));

  json ports = MergeAppUpdate(spec, json::parse(R"({"ports": [0, 0]})"));
  ParsedApp two_ports = ParseApp(ports);
  ASSERT_TRUE(two_ports.app.has_value()) << two_ports.errors.Summary();
  EXPECT_EQ(two_ports.app->port_definitions.size(), 2u);
}

TEST(AppJson, RoundTripsThroughItsSpec) {
  ParsedApp first = Parse(R"({"id": "/a", "cmd": "x", "constraints": [["hostname", "UNIQUE"]],
    "healthChecks": [{"path": "/h"}], "container": {"type": "MESOS"}, "fetch": [{"uri": "u"}],
    "unreachableStrategy": "disabled"})");
  ASSERT_TRUE(first.app.has_value()) << first.errors.Summary();
  ParsedApp second = ParseApp(AppSpecJson(*first.app));
  ASSERT_TRUE(second.app.has_value()) << second.errors.Summary();
  EXPECT_EQ(*first.app, *second.app);
  EXPECT_FALSE(second.app->unreachable_strategy.enabled);
  EXPECT_EQ(AppJson(*second.app)["unreachableStrategy"], "disabled");
}

}  // namespace
}  // namespace stoa::service

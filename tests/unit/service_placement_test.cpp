// Where the service framework puts instances and what it gives them:
// constraints, resources and ports out of offers, the task's environment and
// command, backoff, and the planner's launches and kills.
#include <gtest/gtest.h>

#include "frameworks/service/app_json.hpp"
#include "frameworks/service/constraints.hpp"
#include "frameworks/service/launch_delay.hpp"
#include "frameworks/service/offer_matcher.hpp"
#include "frameworks/service/planner.hpp"
#include "frameworks/service/task_builder.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

AppDefinition App(const std::string& text) {
  ParsedApp parsed = ParseApp(json::parse(text));
  EXPECT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
  AppDefinition app = parsed.app.value_or(AppDefinition{});
  app.version = "2020-01-01T00:00:00.000Z";
  app.version_info = {app.version, app.version};
  return app;
}

Constraint C(const std::string& field, ConstraintOperator op,
             std::optional<std::string> value = std::nullopt) {
  return Constraint{field, op, std::move(value)};
}

AgentFacts Host(const std::string& name, std::map<std::string, std::string> attributes = {}) {
  return AgentFacts{name, std::move(attributes)};
}

TEST(Constraints, UniqueAndMaxPer) {
  std::vector<AgentFacts> placed = {Host("a"), Host("b"), Host("b")};
  EXPECT_TRUE(Satisfies(C("hostname", ConstraintOperator::kUnique), Host("c"), placed));
  EXPECT_FALSE(Satisfies(C("hostname", ConstraintOperator::kUnique), Host("a"), placed));
  EXPECT_TRUE(Satisfies(C("hostname", ConstraintOperator::kMaxPer, "2"), Host("a"), placed));
  EXPECT_FALSE(Satisfies(C("hostname", ConstraintOperator::kMaxPer, "2"), Host("b"), placed));
  EXPECT_TRUE(Satisfies(C("@hostname", ConstraintOperator::kUnique), Host("c"), placed));
}

TEST(Constraints, ClusterLikeUnlikeIs) {
  EXPECT_TRUE(Satisfies(C("hostname", ConstraintOperator::kCluster, "a"), Host("a"), {}));
  EXPECT_FALSE(Satisfies(C("hostname", ConstraintOperator::kCluster, "a"), Host("b"), {}));
  // Without a value: wherever the first instance went.
  EXPECT_TRUE(Satisfies(C("hostname", ConstraintOperator::kCluster), Host("b"), {}));
  EXPECT_TRUE(Satisfies(C("hostname", ConstraintOperator::kCluster), Host("b"), {Host("b")}));
  EXPECT_FALSE(Satisfies(C("hostname", ConstraintOperator::kCluster), Host("a"), {Host("b")}));
  EXPECT_TRUE(
      Satisfies(C("hostname", ConstraintOperator::kLike, "node[0-9]+"), Host("node12"), {}));
  EXPECT_FALSE(
      Satisfies(C("hostname", ConstraintOperator::kLike, "node[0-9]+"), Host("xnode1"), {}));
  EXPECT_TRUE(Satisfies(C("hostname", ConstraintOperator::kUnlike, "db.*"), Host("web1"), {}));
  EXPECT_FALSE(Satisfies(C("hostname", ConstraintOperator::kUnlike, "db.*"), Host("db1"), {}));
  EXPECT_TRUE(Satisfies(C("rack", ConstraintOperator::kIs, "r1"), Host("a", {{"rack", "r1"}}), {}));
  EXPECT_FALSE(
      Satisfies(C("rack", ConstraintOperator::kIs, "r1"), Host("a", {{"rack", "r2"}}), {}));
}

TEST(Constraints, AnAgentWithoutTheAttributeOnlyPassesUnlike) {
  for (auto op :
       {ConstraintOperator::kUnique, ConstraintOperator::kCluster, ConstraintOperator::kGroupBy,
        ConstraintOperator::kLike, ConstraintOperator::kMaxPer, ConstraintOperator::kIs}) {
    EXPECT_FALSE(
        Satisfies(C("rack", op, op == ConstraintOperator::kMaxPer ? "3" : "r"), Host("a"), {}))
        << ToString(op);
  }
  EXPECT_TRUE(Satisfies(C("rack", ConstraintOperator::kUnlike, "r"), Host("a"), {}));
}

TEST(Constraints, GroupBySpreadsEvenly) {
  auto rack = [](const std::string& r) { return Host("h-" + r, {{"rack", r}}); };
  Constraint by_rack = C("rack", ConstraintOperator::kGroupBy);
  std::vector<AgentFacts> placed = {rack("1"), rack("2")};
  EXPECT_TRUE(Satisfies(by_rack, rack("1"), placed));
  placed.push_back(rack("1"));
  EXPECT_FALSE(Satisfies(by_rack, rack("1"), placed));  // rack 2 has fewer
  EXPECT_TRUE(Satisfies(by_rack, rack("2"), placed));
  EXPECT_TRUE(Satisfies(by_rack, rack("3"), placed));  // a new value has none
  // With a count of groups, values not seen yet come first.
  Constraint three = C("rack", ConstraintOperator::kGroupBy, "3");
  EXPECT_FALSE(Satisfies(three, rack("1"), {rack("1"), rack("2")}));
  EXPECT_TRUE(Satisfies(three, rack("3"), {rack("1"), rack("2")}));
}

Resources R(const std::string& text) { return *Resources::Parse(text); }

TEST(OfferMatcher, TakesResourcesAndFreePorts) {
  AppDefinition app = App(R"({"id": "/web", "cmd": "x", "cpus": 0.5, "mem": 64, "disk": 10,
                              "portDefinitions": [{"port": 10000}, {"port": 10001}]})");
  Result<InstanceMatch> match = MatchInstance(
      app, R("cpus:2;mem:1024;disk:100;ports:[31000-31000,31005-31009]"), Host("node0"), {});
  ASSERT_TRUE(match.ok()) << match.error();
  EXPECT_EQ(match->host_ports, (std::vector<int>{31000, 31005}));
  EXPECT_EQ(match->resources.Get("cpus"), 0.5);
  EXPECT_EQ(match->resources.Get("mem"), 64);
  EXPECT_EQ(match->resources.Get("disk"), 10);
  EXPECT_EQ(match->resources.GetRanges("ports"),
            (std::vector<Range>{{31000, 31000}, {31005, 31005}}));
  EXPECT_TRUE(
      R("cpus:2;mem:1024;disk:100;ports:[31000-31000,31005-31009]").Contains(match->resources));
}

TEST(OfferMatcher, SaysWhyAnInstanceDoesNotFit) {
  AppDefinition app = App(R"({"id": "/web", "cmd": "x", "cpus": 1, "mem": 64, "ports": [0, 0]})");
  auto cpus = MatchInstance(app, R("cpus:0.5;mem:1024;ports:[1-10]"), Host("n"), {});
  ASSERT_FALSE(cpus.ok());
  EXPECT_NE(cpus.error().find("cpus"), std::string::npos) << cpus.error();
  auto ports = MatchInstance(app, R("cpus:2;mem:1024;ports:[31000-31000]"), Host("n"), {});
  ASSERT_FALSE(ports.ok());
  EXPECT_NE(ports.error().find("ports"), std::string::npos) << ports.error();
  auto no_ports = MatchInstance(app, R("cpus:2;mem:1024"), Host("n"), {});
  EXPECT_FALSE(no_ports.ok());

  AppDefinition unique =
      App(R"({"id": "/u", "cmd": "x", "cpus": 0.1, "constraints": [["hostname", "UNIQUE"]]})");
  auto taken = MatchInstance(unique, R("cpus:2;mem:1024;ports:[1-10]"), Host("n"), {Host("n")});
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.error().find("hostname:UNIQUE"), std::string::npos) << taken.error();
}

TEST(OfferMatcher, NamesEveryReasonInMarathonsFunnelOrder) {
  AppDefinition app = App(R"({"id": "/web", "cmd": "x", "cpus": 1, "mem": 64, "disk": 10,
                              "gpus": 1, "constraints": [["hostname", "LIKE", "other"]]})");
  OfferFit fit = FitOffer(app, R("cpus:0.5;mem:32;disk:5;ports:[1-10]"), Host("n"), {});
  EXPECT_FALSE(fit.match.has_value());
  EXPECT_EQ(fit.reasons, (std::vector<NoMatchReason>{
                             NoMatchReason::kUnfulfilledConstraint,
                             NoMatchReason::kInsufficientCpus, NoMatchReason::kInsufficientMemory,
                             NoMatchReason::kInsufficientDisk, NoMatchReason::kInsufficientGpus}));
  EXPECT_NE(fit.message.find("LIKE"), std::string::npos) << fit.message;
  std::vector<std::string> names;
  for (int i = 0; i < kNoMatchReasonCount; ++i) names.push_back(ToString(NoMatchReason(i)));
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "UnfulfilledRole", "UnfulfilledConstraint", "NoCorrespondingReservationFound",
                "AgentMaintenance", "InsufficientCpus", "InsufficientMemory", "InsufficientDisk",
                "InsufficientGpus", "InsufficientPorts", "DeclinedScarceResources"}));

  // Only resources of the accepted roles count; ports only once all else fits.
  AppDefinition roles = App(R"({"id": "/r", "cmd": "x", "cpus": 0.5, "mem": 8,
                                "acceptedResourceRoles": ["web"]})");
  EXPECT_EQ(
      FitOffer(roles, R("cpus:4;mem:100"), Host("n"), {}).reasons,
      (std::vector<NoMatchReason>{NoMatchReason::kUnfulfilledRole, NoMatchReason::kInsufficientCpus,
                                  NoMatchReason::kInsufficientMemory}));
  EXPECT_EQ(FitOffer(roles, R("cpus(web):4;mem(web):100"), Host("n"), {}).reasons,
            (std::vector<NoMatchReason>{NoMatchReason::kInsufficientPorts}));
  OfferFit taken =
      FitOffer(roles, R("cpus(web):4;mem(web):100;ports(web):[5-5];cpus:9"), Host("n"), {});
  ASSERT_TRUE(taken.match.has_value()) << taken.message;
  EXPECT_TRUE(R("cpus(web):4;mem(web):100;ports(web):[5-5]").Contains(taken.match->resources));

  AppDefinition scarce = App(R"({"id": "/s", "cmd": "x", "cpus": 0.5, "mem": 8, "ports": [],
                                 "labels": {"GPU_SCHEDULING_BEHAVIOR": "restricted"}})");
  EXPECT_EQ(FitOffer(scarce, R("cpus:4;mem:100;gpus:2"), Host("n"), {}).reasons,
            (std::vector<NoMatchReason>{NoMatchReason::kDeclinedScarceResources}));
  EXPECT_TRUE(FitOffer(scarce, R("cpus:4;mem:100"), Host("n"), {}).match.has_value());
}

TEST(OfferMatcher, RequirePortsTakesTheAppsOwnNumbers) {
  AppDefinition app = App(R"({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 8,
                              "requirePorts": true, "ports": [31007, 0]})");
  auto match = MatchInstance(app, R("cpus:1;mem:100;ports:[31000-31009]"), Host("n"), {});
  ASSERT_TRUE(match.ok()) << match.error();
  EXPECT_EQ(match->host_ports, (std::vector<int>{31007, 31000}));
  auto missing = MatchInstance(app, R("cpus:1;mem:100;ports:[32000-32009]"), Host("n"), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("31007"), std::string::npos) << missing.error();
}

TEST(OfferMatcher, TakesFromReservedAndUnreservedEntries) {
  AppDefinition app = App(R"({"id": "/web", "cmd": "x", "cpus": 1.5, "mem": 8, "ports": []})");
  Resources offered = R("cpus:1;cpus(web):1;mem:100");
  auto match = MatchInstance(app, offered, Host("n"), {});
  ASSERT_TRUE(match.ok()) << match.error();
  EXPECT_EQ(match->resources.Get("cpus"), 1.5);
  EXPECT_TRUE(offered.Contains(match->resources));
}

TEST(TaskBuilder, GivesTheEnvironmentMarathonGives) {
  AppDefinition app = App(R"({"id": "/shop/web", "cmd": "serve", "cpus": 0.5, "mem": 64,
    "labels": {"team": "shop", "cost-center": "42"},
    "env": {"A": "1", "HOST": "mine"},
    "portDefinitions": [{"port": 10000, "name": "http"}, {"port": 0}]})");
  TaskRecord task;
  task.id = "shop_web.instance-1";
  task.app_id = app.id;
  task.version = app.version;
  task.host = "node1";
  task.ports = {31000, 31001};
  auto env = TaskEnvironment(app, task);
  EXPECT_EQ(env["PORT0"], "31000");
  EXPECT_EQ(env["PORT1"], "31001");
  EXPECT_EQ(env["PORT"], "31000");
  EXPECT_EQ(env["PORTS"], "31000,31001");
  EXPECT_EQ(env["PORT_10000"], "31000");
  EXPECT_EQ(env["PORT_31001"], "31001");  // no service port asked: by its host port
  EXPECT_EQ(env["PORT_HTTP"], "31000");
  EXPECT_EQ(env["MARATHON_APP_ID"], "/shop/web");
  EXPECT_EQ(env["MARATHON_APP_VERSION"], "2020-01-01T00:00:00.000Z");
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_CPUS"], "0.5");
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_MEM"], "64.0");
  EXPECT_EQ(env["MESOS_TASK_ID"], "shop_web.instance-1");
  EXPECT_EQ(env["MARATHON_APP_LABELS"], "COST_CENTER TEAM");
  EXPECT_EQ(env["MARATHON_APP_LABEL_TEAM"], "shop");
  EXPECT_EQ(env["A"], "1");
  EXPECT_EQ(env["HOST"], "mine");  // the app's own env wins

  InstanceMatch match{R("cpus:0.5;mem:64;ports:[31000-31001]"), task.ports};
  TaskInfo info = BuildTask(app, task, match);
  EXPECT_TRUE(info.command.shell);
  EXPECT_EQ(info.command.value, "serve");
  EXPECT_EQ(info.resources, match.resources);
  EXPECT_EQ(info.labels.size(), 2u);
}

TEST(TaskBuilder, ArgsRunWithoutAShell) {
  AppDefinition app = App(R"({"id": "/a", "args": ["sleep", "100"], "user": "nobody",
    "taskKillGracePeriodSeconds": 3, "ports": [],
    "container": {"type": "MESOS", "volumes": [{"containerPath": "data", "hostPath": "/srv", "mode": "RO"}]}})");
  TaskRecord task;
  task.id = "a.instance-1";
  TaskInfo info = BuildTask(app, task, InstanceMatch{R("cpus:1;mem:128"), {}});
  EXPECT_FALSE(info.command.shell);
  EXPECT_EQ(info.command.value, "sleep");
  EXPECT_EQ(info.command.arguments, (std::vector<std::string>{"sleep", "100"}));
  EXPECT_EQ(info.command.user, "nobody");
  EXPECT_EQ(info.kill_grace_period_ms, 3000);
  ASSERT_EQ(info.container.volumes.size(), 1u);
  EXPECT_EQ(info.container.volumes[0].host_path, "/srv");
  EXPECT_TRUE(info.container.volumes[0].read_only);
  for (const auto& [name, value] : info.command.environment) EXPECT_NE(name, "PORT");
}

TEST(TaskBuilder, ARootfsGoesToTheContainerWithVolumesInsideIt) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "sh", "container": {"type": "MESOS",
    "rootfs": "/srv/images/busybox.tar",
    "volumes": [{"containerPath": "/var/data", "hostPath": "/srv/data", "mode": "RW"}]}})");
  TaskRecord task;
  task.id = "a.instance-1";
  TaskInfo info = BuildTask(app, task, InstanceMatch{R("cpus:1;mem:128"), {}});
  EXPECT_EQ(info.container.rootfs, "/srv/images/busybox.tar");
  ASSERT_EQ(info.container.volumes.size(), 1u);
  EXPECT_EQ(info.container.volumes[0].container_path, "/var/data");
  EXPECT_FALSE(info.container.volumes[0].read_only);
}

// Every protocol of Marathon's health checks becomes the executor's check of
// the task's host port; the readiness check becomes its generic check.
TEST(TaskBuilder, ChecksTargetTheTasksHostPorts) {
  TaskRecord task;
  task.id = "a.instance-1";
  task.ports = {31000, 31001};
  InstanceMatch match{R("cpus:1;mem:128;ports:[31000-31001]"), task.ports};
  AppDefinition http = App(R"({"id": "/a", "cmd": "serve",
    "portDefinitions": [{"port": 0, "name": "web"}, {"port": 0, "name": "http-api"}],
    "healthChecks": [{"protocol": "MESOS_HTTPS", "path": "/health", "portIndex": 1,
                      "gracePeriodSeconds": 7, "intervalSeconds": 3, "timeoutSeconds": 2,
                      "maxConsecutiveFailures": 0, "delaySeconds": 1}],
    "readinessChecks": [{"path": "/ready", "intervalSeconds": 5, "timeoutSeconds": 2}]})");
  TaskInfo info = BuildTask(http, task, match);
  ASSERT_TRUE(info.health_check.has_value());
  EXPECT_EQ(info.health_check->check.type, CheckType::kHttp);
  EXPECT_EQ(info.health_check->check.scheme, "https");
  EXPECT_EQ(info.health_check->check.port, 31001u);
  EXPECT_EQ(info.health_check->check.path, "/health");
  EXPECT_EQ(info.health_check->check.delay_seconds, 1);
  EXPECT_EQ(info.health_check->check.interval_seconds, 3);
  EXPECT_EQ(info.health_check->check.timeout_seconds, 2);
  EXPECT_EQ(info.health_check->grace_period_seconds, 7);
  // Marathon's Mesos-level checks kill at the first failure when given 0.
  EXPECT_EQ(info.health_check->consecutive_failures, 1u);
  ASSERT_TRUE(info.check.has_value());
  EXPECT_EQ(info.check->type, CheckType::kHttp);
  EXPECT_EQ(info.check->scheme, "http");
  EXPECT_EQ(info.check->port, 31001u);  // the port named http-api
  EXPECT_EQ(info.check->path, "/ready");
  EXPECT_EQ(info.check->delay_seconds, 0);
  EXPECT_EQ(info.check->interval_seconds, 5);

  AppDefinition tcp = App(R"({"id": "/a", "cmd": "serve", "ports": [0, 0],
    "healthChecks": [{"protocol": "TCP", "port": 8443, "maxConsecutiveFailures": 0}]})");
  info = BuildTask(tcp, task, match);
  ASSERT_TRUE(info.health_check.has_value());
  EXPECT_EQ(info.health_check->check.type, CheckType::kTcp);
  EXPECT_EQ(info.health_check->check.port, 8443u);           // `port` wins over portIndex
  EXPECT_EQ(info.health_check->consecutive_failures, 0u);    // Marathon's TCP: never killed
  EXPECT_EQ(info.health_check->check.interval_seconds, 60);  // Marathon's defaults
  EXPECT_EQ(info.health_check->grace_period_seconds, 300);
  EXPECT_FALSE(info.check.has_value());

  AppDefinition command = App(R"({"id": "/a", "cmd": "serve",
    "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test -e $MESOS_SANDBOX/ok"}}]})");
  info = BuildTask(command, task, match);
  ASSERT_TRUE(info.health_check.has_value());
  EXPECT_EQ(info.health_check->check.type, CheckType::kCommand);
  EXPECT_EQ(info.health_check->check.command, "test -e $MESOS_SANDBOX/ok");
  EXPECT_EQ(info.health_check->consecutive_failures, 3u);
  EXPECT_TRUE(ValidateHealthCheck(*info.health_check).ok());

  AppDefinition plain = App(R"({"id": "/a", "cmd": "serve"})");
  info = BuildTask(plain, task, match);
  EXPECT_FALSE(info.health_check.has_value());
  EXPECT_FALSE(info.check.has_value());
}

TEST(LaunchDelays, GrowByTheFactorUpToTheMaximum) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x", "backoffSeconds": 2, "backoffFactor": 3,
                              "maxLaunchDelaySeconds": 10})");
  LaunchDelays delays;
  EXPECT_EQ(delays.NotBefore(app), 0);
  delays.Failed(app, 100);
  EXPECT_EQ(delays.NotBefore(app), 102);
  delays.Failed(app, 103);
  EXPECT_EQ(delays.NotBefore(app), 109);
  delays.Failed(app, 110);
  EXPECT_EQ(delays.NotBefore(app), 120);  // 18 capped at 10
  delays.Progressed(app, 111);            // a task staged: the reference moves on
  EXPECT_EQ(delays.NotBefore(app), 121);
  delays.CleanUp(120.5);  // not yet 10 s past its reference
  EXPECT_EQ(delays.NotBefore(app), 121);
  delays.CleanUp(122);
  EXPECT_EQ(delays.NotBefore(app), 0);  // forgotten 10 s after its reference

  delays.Failed(app, 200);
  AppDefinition changed = app;
  changed.version_info.last_config_change_at = "2021-01-01T00:00:00.000Z";
  EXPECT_EQ(delays.NotBefore(changed), 0);  // a new config version starts afresh
  delays.Reset(app.id);
  EXPECT_EQ(delays.NotBefore(app), 0);
}

// ---- the planner ----

TaskRecord Task(const std::string& id, const AppDefinition& app, TaskState state, double staged_at,
                const std::string& config = "") {
  TaskRecord task;
  task.id = id;
  task.app_id = app.id;
  task.config_version = config.empty() ? app.version_info.last_config_change_at : config;
  task.state = state;
  task.staged_at = staged_at;
  return task;
}

std::vector<const TaskRecord*> Pointers(const std::vector<TaskRecord>& tasks) {
  std::vector<const TaskRecord*> out;
  for (const auto& task : tasks) out.push_back(&task);
  return out;
}

TEST(Planner, LaunchesUpToInstancesAndReachesTheGoalWhenAllRun) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x", "instances": 3})");
  EXPECT_EQ(PlanApp(&app, {}, 0).launches, 3);
  std::vector<TaskRecord> tasks = {Task("t1", app, TaskState::kRunning, 1),
                                   Task("t2", app, TaskState::kStaging, 2)};
  AppPlan plan = PlanApp(&app, Pointers(tasks), 0);
  EXPECT_EQ(plan.launches, 1);
  EXPECT_FALSE(plan.goal_reached);
  tasks.push_back(Task("t3", app, TaskState::kRunning, 3));
  EXPECT_FALSE(PlanApp(&app, Pointers(tasks), 0).goal_reached);  // t2 not running yet
  tasks[1].state = TaskState::kRunning;
  plan = PlanApp(&app, Pointers(tasks), 0);
  EXPECT_EQ(plan.launches, 0);
  EXPECT_TRUE(plan.kills.empty());
  EXPECT_TRUE(plan.goal_reached);
  // A task being killed is no instance: its replacement is launched.
  tasks[0].kill_requested = true;
  plan = PlanApp(&app, Pointers(tasks), 0);
  EXPECT_EQ(plan.launches, 1);
  EXPECT_FALSE(plan.goal_reached);
}

TEST(Planner, ScalesDownByKillSelectionStagingFirst) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x", "instances": 2})");
  std::vector<TaskRecord> tasks = {
      Task("old", app, TaskState::kRunning, 1), Task("mid", app, TaskState::kRunning, 2),
      Task("new", app, TaskState::kRunning, 3), Task("staging", app, TaskState::kStaging, 0)};
  AppPlan youngest = PlanApp(&app, Pointers(tasks), 0);
  EXPECT_EQ(youngest.kills, (std::vector<TaskId>{"staging", "new"}));
  app.kill_selection = KillSelection::kOldestFirst;
  AppPlan oldest = PlanApp(&app, Pointers(tasks), 0);
  EXPECT_EQ(oldest.kills, (std::vector<TaskId>{"staging", "old"}));
  app.instances = 0;
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 0).kills.size(), 4u);
}

TEST(Planner, ReplacesOldTasksWithinTheUpgradeStrategy) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x", "instances": 4,
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.25}})");
  std::vector<TaskRecord> tasks;
  for (int i = 0; i < 4; ++i) {
    tasks.push_back(Task("old" + std::to_string(i), app, TaskState::kRunning, i, "v0"));
  }
  // At most 5 at once (4 + 1 over capacity), at least 2 ready: 1 new, 2 old go.
  AppPlan plan = PlanApp(&app, Pointers(tasks), 0);
  EXPECT_EQ(plan.launches, 1);
  EXPECT_EQ(plan.kills.size(), 2u);
  EXPECT_FALSE(plan.goal_reached);

  // minimumHealthCapacity 1 and maximumOverCapacity 0: no room and no spare
  // capacity, so one old task goes first to make room.
  AppDefinition strict = App(R"({"id": "/a", "cmd": "x", "instances": 2,
    "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0}})");
  std::vector<TaskRecord> two = {Task("o1", strict, TaskState::kRunning, 1, "v0"),
                                 Task("o2", strict, TaskState::kRunning, 2, "v0")};
  AppPlan strict_plan = PlanApp(&strict, Pointers(two), 0);
  EXPECT_EQ(strict_plan.launches, 0);
  EXPECT_EQ(strict_plan.kills, (std::vector<TaskId>{"o2"}));

  // Defaults (1, 1): all new ones start; old ones go as the new become ready.
  AppDefinition defaults = App(R"({"id": "/a", "cmd": "x", "instances": 2})");
  std::vector<TaskRecord> mixed = {Task("o1", defaults, TaskState::kRunning, 1, "v0"),
                                   Task("o2", defaults, TaskState::kRunning, 2, "v0")};
  AppPlan start = PlanApp(&defaults, Pointers(mixed), 0);
  EXPECT_EQ(start.launches, 2);
  EXPECT_TRUE(start.kills.empty());
  mixed.push_back(Task("n1", defaults, TaskState::kRunning, 3));
  mixed.push_back(Task("n2", defaults, TaskState::kStaging, 4));
  AppPlan half = PlanApp(&defaults, Pointers(mixed), 0);
  EXPECT_EQ(half.kills.size(), 1u);  // 3 ready, 2 needed
  mixed[3].state = TaskState::kRunning;
  EXPECT_EQ(PlanApp(&defaults, Pointers(mixed), 0).kills.size(), 2u);
}

TEST(Planner, NewTasksCountOnlyOnceHealthyAndReady) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x", "instances": 2,
    "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}}],
    "readinessChecks": [{"name": "r", "portName": "http"}],
    "portDefinitions": [{"port": 0, "name": "http"}]})");
  std::vector<TaskRecord> tasks = {
      Task("o1", app, TaskState::kRunning, 1, "v0"), Task("o2", app, TaskState::kRunning, 2, "v0"),
      Task("n1", app, TaskState::kRunning, 3), Task("n2", app, TaskState::kRunning, 4)};
  // Old tasks serve (their own checks may differ); new ones running but not
  // yet healthy do not: no old task may go below minimumHealthCapacity 1.
  EXPECT_TRUE(PlanApp(&app, Pointers(tasks), 0).kills.empty());
  tasks[2].health.reported = tasks[2].health.alive = true;
  EXPECT_TRUE(PlanApp(&app, Pointers(tasks), 0).kills.empty());  // healthy, not ready
  tasks[2].health.ready = true;
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 0).kills, (std::vector<TaskId>{"o2"}));  // youngest
  // An old task reported unhealthy serves nobody: it goes first, and costs
  // no capacity (still 2 serve).
  tasks[0].health.reported = true;
  tasks[0].health.alive = false;
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 0).kills, (std::vector<TaskId>{"o1"}));

  // Scaling: the goal is reached only when every instance is healthy and ready.
  std::vector<TaskRecord> fresh = {Task("a", app, TaskState::kRunning, 1),
                                   Task("b", app, TaskState::kRunning, 2)};
  fresh[0].health.reported = fresh[0].health.alive = fresh[0].health.ready = true;
  EXPECT_FALSE(PlanApp(&app, Pointers(fresh), 0).goal_reached);
  fresh[1].health.reported = fresh[1].health.ready = true;
  EXPECT_FALSE(PlanApp(&app, Pointers(fresh), 0).goal_reached);
  fresh[1].health.alive = true;
  EXPECT_TRUE(PlanApp(&app, Pointers(fresh), 0).goal_reached);
}

TEST(Planner, KillsEverythingOfADeletedApp) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x"})");
  std::vector<TaskRecord> tasks = {Task("t1", app, TaskState::kRunning, 1),
                                   Task("t2", app, TaskState::kRunning, 2)};
  tasks[1].kill_requested = true;
  AppPlan plan = PlanApp(nullptr, Pointers(tasks), 0);
  EXPECT_EQ(plan.kills, (std::vector<TaskId>{"t1"}));
  EXPECT_FALSE(plan.goal_reached);
  EXPECT_TRUE(PlanApp(nullptr, {}, 0).goal_reached);
}

TEST(Planner, ReplacesUnreachableTasksAfterTheStrategysTime) {
  AppDefinition app = App(R"({"id": "/a", "cmd": "x", "instances": 1,
    "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}})");
  std::vector<TaskRecord> tasks = {Task("t1", app, TaskState::kUnreachable, 1)};
  tasks[0].unreachable_since = 1000;
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 1059).launches, 0);
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 1060).launches, 1);
  EXPECT_TRUE(PlanApp(&app, Pointers(tasks), 1060).expunges.empty());
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 1120).expunges, (std::vector<TaskId>{"t1"}));

  app.unreachable_strategy.enabled = false;  // "disabled": waited for
  EXPECT_EQ(PlanApp(&app, Pointers(tasks), 99999).launches, 0);
  EXPECT_TRUE(PlanApp(&app, Pointers(tasks), 99999).expunges.empty());
}

}  // namespace
}  // namespace stoa::service

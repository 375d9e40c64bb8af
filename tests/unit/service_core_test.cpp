// The service core on a real LevelDB store, with the master's side recorded
// and time moved by hand: launches are recorded before they are sent, failed
// tasks come back after their backoff, scaling and deleting kill the right
// tasks, and a restarted core reconciles and keeps what still runs.
#include <gtest/gtest.h>

#include "tests/unit/service_core_fixture.hpp"

namespace stoa::service {
namespace {

// A global app gets one instance on every agent its constraints allow, also
// on agents that offer for the first time later, and never asks for offers
// to stop: agents that join must be seen.
TEST_F(ServiceCoreTest, AGlobalAppRunsOnEveryMatchingAgentIncludingLaterOnes) {
  core_->Subscribed("framework-1");
  ChangeOutcome created = core_->CreateApp(App(R"({"id": "/agentd", "cmd": "watch",
    "global": true, "cpus": 0.1, "mem": 16, "constraints": [["rack", "UNLIKE", "r9"]]})"));
  ASSERT_EQ(created.refusal, Refusal::kNone) << created.message;
  EXPECT_EQ(actions_->revives, 1);  // offers were suppressed while nothing waited
  const int suppressed = actions_->suppresses;
  auto with_rack = [&](const std::string& agent, const std::string& rack) {
    Offer offer = MakeOffer(agent);
    offer.attributes = {{"rack", rack}};
    return offer;
  };
  core_->Offers({with_rack("a1", "r1"), with_rack("a2", "r2"), with_rack("a9", "r9")});
  EXPECT_EQ(actions_->launched_on, (std::vector<AgentId>{"a1", "a2"}));  // one each, none on r9
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  EXPECT_TRUE(core_->View().deployments.empty());  // both running: the goal is met

  // Offers again from the same agents: nothing more. A new agent: one more.
  core_->Offers({with_rack("a1", "r1"), with_rack("a2", "r2")});
  EXPECT_EQ(actions_->launched.size(), 2u);
  core_->Offers({with_rack("a3", "r1")});
  ASSERT_EQ(actions_->launched_on.size(), 3u);
  EXPECT_EQ(actions_->launched_on.back(), "a3");
  core_->Tick();
  EXPECT_EQ(actions_->suppresses, suppressed);  // never since: agents that join must be seen

  // An instance that fails is replaced on its agent, not elsewhere.
  Status(actions_->launched[0].task_id, TaskState::kFailed, "crashed");
  now_ += 60;  // past the backoff
  core_->Offers({with_rack("a2", "r2"), with_rack("a1", "r1")});
  ASSERT_EQ(actions_->launched_on.size(), 4u);
  EXPECT_EQ(actions_->launched_on.back(), "a1");

  // It cannot be scaled, neither by instances nor by killing with scale.
  ChangeOutcome scaled = core_->UpdateApp(
      PathId::Parse("/agentd"),
      [&](const AppDefinition* current) {
        json spec = AppSpecJson(*current);
        spec["instances"] = 3;
        return ParseApp(spec);
      },
      true, false);
  EXPECT_EQ(scaled.refusal, Refusal::kInvalid);
  ChangeOutcome killed = core_->KillTasks(
      PathId::Parse("/agentd"), [](const TaskRecord&) { return true; }, true, true);
  EXPECT_EQ(killed.refusal, Refusal::kInvalid);
  EXPECT_TRUE(killed.errors.has("/instances"));
}

// A restarted core knows no agent until they offer, yet keeps every running
// instance of a global app: none is killed as surplus.
TEST_F(ServiceCoreTest, ARestartedCoreKeepsAGlobalAppsInstancesBeforeAnyOffer) {
  core_->Subscribed("framework-1");
  ASSERT_EQ(core_
                ->CreateApp(App(R"({"id": "/agentd", "cmd": "watch", "global": true,
    "cpus": 0.1, "mem": 16})"))
                .refusal,
            Refusal::kNone);
  core_->Offers({MakeOffer("a1"), MakeOffer("a2")});
  ASSERT_EQ(actions_->launched.size(), 2u);
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  Open();
  core_->Subscribed("framework-1");
  for (const auto& task : Tasks("/agentd")) Status(task.id, TaskState::kRunning);
  core_->Tick();
  EXPECT_TRUE(actions_->killed.empty());
  EXPECT_EQ(Tasks("/agentd").size(), 2u);
}

TEST_F(ServiceCoreTest, LaunchesInstancesWithPortsAndFinishesTheDeployment) {
  core_->Subscribed("framework-1");
  EXPECT_EQ(actions_->suppresses, 1);  // nothing to run yet
  ChangeOutcome created =
      core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 3, "cpus": 1,
                              "mem": 128, "ports": [0]})"));
  ASSERT_EQ(created.refusal, Refusal::kNone) << created.message;
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.app.port_definitions[0].port, 10000);  // a service port was assigned
  EXPECT_EQ(created.deployment.steps.back(), "ScaleApplication");
  EXPECT_EQ(actions_->revives, 1);

  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 3u);
  std::set<std::string> ports;
  for (const auto& task : actions_->launched) {
    ports.insert(Env(task, "PORT0"));
    EXPECT_EQ(Env(task, "HOST"), "host-a1");
    EXPECT_EQ(Env(task, "MARATHON_APP_ID"), "/web");
    EXPECT_EQ(Env(task, "MARATHON_APP_VERSION"), created.app.version);
    EXPECT_EQ(Env(task, "PORT_10000"), Env(task, "PORT0"));
  }
  EXPECT_EQ(ports, (std::set<std::string>{"31000", "31001", "31002"}));
  ASSERT_EQ(core_->View().deployments.size(), 1u);

  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  EXPECT_TRUE(core_->View().deployments.empty());  // all three run
  for (const auto& task : Tasks("/web")) EXPECT_EQ(task.started_at, now_);
  core_->Offers({MakeOffer("a2")});
  EXPECT_EQ(actions_->declined.size(), 1u);
  EXPECT_EQ(actions_->last_refuse, 120);
  EXPECT_EQ(actions_->suppresses, 2);  // and nothing more to run
}

TEST_F(ServiceCoreTest, AFailedTaskIsReplacedAfterItsBackoff) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "backoffSeconds": 10, "cpus": 1})"));
  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 1u);
  TaskId first = actions_->launched[0].task_id;
  Status(first, TaskState::kRunning);
  Status(first, TaskState::kFailed, "exited with 1");
  EXPECT_TRUE(Tasks("/web").empty());
  auto view = core_->ViewApp(PathId::Parse("/web"));
  ASSERT_TRUE(view->last_failure.has_value());
  EXPECT_EQ(view->last_failure->task_id, first);
  EXPECT_EQ(view->last_failure->message, "exited with 1");

  core_->Offers({MakeOffer("a1")});  // within the backoff
  EXPECT_EQ(actions_->launched.size(), 1u);
  int revives = actions_->revives;
  now_ += 10;
  core_->Tick();  // the backoff is over: offers are wanted again
  EXPECT_GT(actions_->revives, revives);
  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 2u);
  EXPECT_NE(actions_->launched[1].task_id, first);
}

TEST_F(ServiceCoreTest, AKilledTaskIsReplacedAndAScaleDownKillsTheYoungest) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 3, "cpus": 0.1})"));
  for (int i = 0; i < 3; ++i) {  // one instance per offer, a second apart
    now_ += 1;
    core_->Offers({MakeOffer("a" + std::to_string(i), "cpus:0.1;mem:512;ports:[31000-31009]")});
  }
  ASSERT_EQ(actions_->launched.size(), 3u);
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);

  // Killed by hand (not scaled): the task goes, and another takes its place.
  TaskId victim = actions_->launched[0].task_id;
  ChangeOutcome killed = core_->KillTasks(
      PathId::Parse("/web"), [&](const TaskRecord& t) { return t.id == victim; }, false, false);
  ASSERT_EQ(killed.tasks.size(), 1u);
  EXPECT_EQ(actions_->killed, (std::vector<TaskId>{victim}));
  now_ += 1;
  core_->Offers({MakeOffer("a9")});
  ASSERT_EQ(actions_->launched.size(), 4u);
  Status(victim, TaskState::kKilled);
  EXPECT_FALSE(core_->ViewApp(PathId::Parse("/web"))->last_failure.has_value());
  Status(actions_->launched[3].task_id, TaskState::kRunning);
  EXPECT_EQ(Tasks("/web").size(), 3u);

  // Scaled to 1: the two youngest go.
  ChangeOutcome scaled = core_->UpdateApp(
      PathId::Parse("/web"),
      [&](const AppDefinition* current) {
        return ParseApp(MergeAppUpdate(AppSpecJson(*current), json{{"instances", 1}}));
      },
      false, false);
  ASSERT_EQ(scaled.refusal, Refusal::kNone) << scaled.message;
  EXPECT_EQ(scaled.deployment.steps, (std::vector<std::string>{"ScaleApplication"}));
  EXPECT_EQ(scaled.app.version_info.last_config_change_at,
            core_->ViewApp(PathId::Parse("/web"))->app.version_info.last_config_change_at);
  ASSERT_EQ(actions_->killed.size(), 3u);
  std::set<TaskId> expected = {actions_->launched[2].task_id, actions_->launched[3].task_id};
  EXPECT_EQ(std::set<TaskId>(actions_->killed.begin() + 1, actions_->killed.end()), expected);
  EXPECT_EQ(core_->View().deployments.size(), 1u);
  for (const auto& id : expected) Status(id, TaskState::kKilled);
  EXPECT_TRUE(core_->View().deployments.empty());
}

// Marathon's kill and scale: the task named goes, and no other with it.
TEST_F(ServiceCoreTest, KillingANamedTaskWithScaleKillsThatTaskAlone) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "x", "instances": 3, "cpus": 0.1})"));
  core_->Offers({MakeOffer("a1")});
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  TaskId oldest = actions_->launched[0].task_id;  // killSelection would pick the youngest
  ChangeOutcome outcome = core_->KillTasks(
      PathId::Parse("/web"), [&](const TaskRecord& t) { return t.id == oldest; }, true, false);
  ASSERT_EQ(outcome.refusal, Refusal::kNone) << outcome.message;
  EXPECT_EQ(outcome.app.instances, 2);
  EXPECT_EQ(actions_->killed, (std::vector<TaskId>{oldest}));
  Status(oldest, TaskState::kKilled);
  EXPECT_EQ(actions_->killed.size(), 1u);
  EXPECT_TRUE(core_->View().deployments.empty());

  // An unknown task: nothing killed, no new version, no deployment.
  std::string version = core_->ViewApp(PathId::Parse("/web"))->app.version;
  outcome = core_->KillTasks(
      PathId::Parse("/web"), [](const TaskRecord& t) { return t.id == "nope"; }, true, false);
  EXPECT_TRUE(outcome.tasks.empty());
  EXPECT_EQ(core_->ViewApp(PathId::Parse("/web"))->app.version, version);
  EXPECT_TRUE(core_->View().deployments.empty());
  EXPECT_EQ(actions_->killed.size(), 1u);
}

TEST_F(ServiceCoreTest, ChangesAreLockedByADeploymentUnlessForced) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 2, "cpus": 0.1})"));
  auto scale = [](int n) {
    return [n](const AppDefinition* current) {
      return ParseApp(MergeAppUpdate(AppSpecJson(*current), json{{"instances", n}}));
    };
  };
  ChangeOutcome locked = core_->UpdateApp(PathId::Parse("/web"), scale(5), false, false);
  EXPECT_EQ(locked.refusal, Refusal::kLocked);
  ASSERT_EQ(locked.blocking_deployments.size(), 1u);
  ChangeOutcome forced = core_->UpdateApp(PathId::Parse("/web"), scale(5), true, false);
  ASSERT_EQ(forced.refusal, Refusal::kNone);
  auto deployments = core_->View().deployments;
  ASSERT_EQ(deployments.size(), 1u);  // the forced one superseded the first
  EXPECT_EQ(deployments[0].id, forced.deployment.id);
  EXPECT_EQ(core_->CreateApp(App(R"({"id": "/web", "cmd": "x"})")).refusal, Refusal::kConflict);
  EXPECT_EQ(core_->CreateApp(App(R"({"id": "/web/sub", "cmd": "x"})")).refusal, Refusal::kConflict);
  EXPECT_EQ(core_->DeleteApp(PathId::Parse("/nope"), true).refusal, Refusal::kNotFound);
  EXPECT_EQ(core_->DeleteApp(PathId::Parse("/web"), false).refusal, Refusal::kLocked);
}

TEST_F(ServiceCoreTest, DeletingAnAppKillsItsTasksAndEndsWhenTheyAreGone) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 2, "cpus": 0.1})"));
  core_->Offers({MakeOffer("a1")});
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  ChangeOutcome deleted = core_->DeleteApp(PathId::Parse("/web"), true);
  ASSERT_EQ(deleted.refusal, Refusal::kNone) << deleted.message;
  EXPECT_EQ(deleted.deployment.steps, (std::vector<std::string>{"StopApplication"}));
  EXPECT_FALSE(core_->ViewApp(PathId::Parse("/web")).has_value());
  EXPECT_EQ(actions_->killed.size(), 2u);
  ASSERT_EQ(core_->View().deployments.size(), 1u);
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kKilled);
  EXPECT_TRUE(core_->View().deployments.empty());
  EXPECT_TRUE(store_->Load()->tasks.empty());
  EXPECT_TRUE(store_->Load()->apps.empty());
}

TEST_F(ServiceCoreTest, AConfigChangeReplacesEveryTask) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "v1", "instances": 2, "cpus": 0.1})"));
  core_->Offers({MakeOffer("a1")});
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  ChangeOutcome changed = core_->UpdateApp(
      PathId::Parse("/web"),
      [](const AppDefinition* current) {
        return ParseApp(MergeAppUpdate(AppSpecJson(*current), json{{"cmd", "v2"}}));
      },
      false, false);
  ASSERT_EQ(changed.refusal, Refusal::kNone);
  EXPECT_EQ(changed.deployment.steps, (std::vector<std::string>{"RestartApplication"}));
  EXPECT_EQ(changed.app.version_info.last_config_change_at, changed.app.version);
  EXPECT_TRUE(actions_->killed.empty());  // the old ones serve until new ones run
  core_->Offers({MakeOffer("a2")});
  ASSERT_EQ(actions_->launched.size(), 4u);
  EXPECT_EQ(actions_->launched[2].command.value, "v2");
  Status(actions_->launched[2].task_id, TaskState::kRunning);
  EXPECT_EQ(actions_->killed.size(), 1u);
  Status(actions_->launched[3].task_id, TaskState::kRunning);
  EXPECT_EQ(actions_->killed.size(), 2u);
  for (const auto& id : actions_->killed) Status(id, TaskState::kKilled);
  EXPECT_TRUE(core_->View().deployments.empty());
  EXPECT_EQ(Tasks("/web").size(), 2u);
}

TEST_F(ServiceCoreTest, ARestartedCoreReconcilesAdoptsAndKillsStrangers) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 2, "cpus": 0.1})"));
  core_->Offers({MakeOffer("a1")});
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  std::vector<TaskInfo> before = actions_->launched;

  Open();  // a new process on the same state
  EXPECT_EQ(core_->framework_id(), "framework-1");
  core_->Subscribed("framework-1");
  ASSERT_EQ(actions_->reconciles.size(), 1u);
  EXPECT_EQ(actions_->reconciles[0].size(), 2u);  // explicit, for both tasks
  EXPECT_EQ(actions_->reconciles[0][0].second, "a1");
  // The master knows one of them; of the other it says nothing yet.
  Status(before[0].task_id, TaskState::kRunning);
  now_ += 5;
  core_->Tick();
  ASSERT_EQ(actions_->reconciles.size(), 2u);
  ASSERT_EQ(actions_->reconciles[1].size(), 1u);  // asked again about the silent one
  EXPECT_EQ(actions_->reconciles[1][0].first, before[1].task_id);
  Status(before[1].task_id, TaskState::kUnknown);  // it is gone
  now_ += 1;
  core_->Tick();
  ASSERT_EQ(actions_->reconciles.size(), 3u);
  EXPECT_TRUE(actions_->reconciles[2].empty());  // then implicit
  // A task of ours the records do not hold is killed.
  TaskStatus stranger;
  stranger.task_id = "web.instance-stranger";
  stranger.agent_id = "a7";
  stranger.state = TaskState::kRunning;
  core_->Update(stranger);
  EXPECT_EQ(actions_->killed, (std::vector<TaskId>{"web.instance-stranger"}));
  // The adopted one stays; the gone one is replaced.
  EXPECT_EQ(Tasks("/web").size(), 1u);
  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 1u);
  EXPECT_EQ(Tasks("/web").size(), 2u);
}

// An app whose stored definition cannot be read (say, stricter validation
// after an upgrade) is not served, but its running tasks are not killed as
// nobody's: an operator can mend or re-create the app.
TEST_F(ServiceCoreTest, TheTasksOfAnUnreadableAppAreLeftAlone) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "x", "instances": 1, "cpus": 0.1})"));
  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 1u);
  TaskId task = actions_->launched[0].task_id;
  Status(task, TaskState::kRunning);
  core_.reset();
  // The stored definition made unreadable behind the store's back.
  store_.reset();
  {
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok());
    auto scanned = (*storage)->Scan("apps/");
    ASSERT_TRUE(scanned.ok());
    ASSERT_EQ(scanned->size(), 1u);
    auto& [key, record] = *scanned->begin();
    ASSERT_TRUE(
        (*storage)->Set(key, R"({"id": "/web", "cmd": "x", "cpus": -1})", record.version).ok());
  }
  Open();
  core_->Subscribed("framework-1");
  Status(task, TaskState::kRunning);
  core_->Tick();
  EXPECT_FALSE(core_->ViewApp(PathId::Parse("/web")).has_value());
  EXPECT_TRUE(actions_->killed.empty());
  // Created again, the app owns them once more: deleting it kills them.
  ASSERT_EQ(
      core_->CreateApp(App(R"({"id": "/web", "cmd": "x", "instances": 1, "cpus": 0.1})")).refusal,
      Refusal::kNone);
  ASSERT_EQ(core_->DeleteApp(PathId::Parse("/web"), true).refusal, Refusal::kNone);
  EXPECT_EQ(std::count(actions_->killed.begin(), actions_->killed.end(), task), 1);
}

TEST_F(ServiceCoreTest, PlacesByTheAgentsAttributesAndRemembersThem) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 3, "cpus": 0.1,
    "constraints": [["rack", "LIKE", "r[12]"], ["rack", "MAX_PER", "1"]]})"));
  auto rack = [&](const std::string& agent, const std::string& value) {
    Offer offer = MakeOffer(agent);
    offer.attributes = {{"rack", value}};
    return offer;
  };
  core_->Offers({rack("a1", "r1"), rack("a2", "r1"), rack("a3", "r3"), MakeOffer("a4")});
  ASSERT_EQ(actions_->launched.size(), 1u);  // r1 once; r3 and no rack at all are not r[12]
  EXPECT_EQ(actions_->launched_on[0], "a1");
  EXPECT_EQ(Tasks("/web")[0].attributes.at("rack"), "r1");
  Open();  // the attributes of running tasks come back with their records
  core_->Subscribed("framework-1");
  core_->Offers({rack("a2", "r1"), rack("a5", "r2")});
  ASSERT_EQ(actions_->launched.size(), 1u);
  EXPECT_EQ(actions_->launched_on[0], "a5");
}

TEST_F(ServiceCoreTest, UnreachableTasksAreReplacedAfterInactiveAfterSeconds) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "cpus": 0.1,
    "unreachableStrategy": {"inactiveAfterSeconds": 30, "expungeAfterSeconds": 60}})"));
  core_->Offers({MakeOffer("a1")});
  TaskId first = actions_->launched[0].task_id;
  Status(first, TaskState::kRunning);
  Status(first, TaskState::kUnreachable);
  core_->Offers({MakeOffer("a2")});
  EXPECT_EQ(actions_->launched.size(), 1u);
  now_ += 30;
  core_->Tick();
  core_->Offers({MakeOffer("a2")});
  ASSERT_EQ(actions_->launched.size(), 2u);
  EXPECT_EQ(actions_->launched_on[1], "a2");
  now_ += 30;
  core_->Tick();  // expunged: forgotten, and killed should it come back
  EXPECT_EQ(actions_->killed, (std::vector<TaskId>{first}));
  EXPECT_EQ(Tasks("/web").size(), 1u);
}

// The executor's health results become Marathon's health of each task
// (healthCheckResults, tasksHealthy/tasksUnhealthy) and its health events; a
// task its health check killed is replaced like any other.
TEST_F(ServiceCoreTest, HealthResultsBecomeMarathonsHealthCountsAndEvents) {
  core_->Subscribed("framework-1");
  ChangeOutcome created = core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 2,
    "cpus": 1, "portDefinitions": [{"port": 0, "name": "http-api"}],
    "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/health", "maxConsecutiveFailures": 2}],
    "readinessChecks": [{"httpStatusCodesForReady": [200, 204]}]})"));
  ASSERT_EQ(created.refusal, Refusal::kNone) << created.message;
  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 2u);
  for (const auto& task : actions_->launched) {
    ASSERT_TRUE(task.health_check.has_value());
    EXPECT_EQ(std::to_string(task.health_check->check.port), Env(task, "PORT0"));
    ASSERT_TRUE(task.check.has_value());
    Status(task.task_id, TaskState::kRunning);
  }
  TaskId a = actions_->launched[0].task_id, b = actions_->launched[1].task_id;
  json app = AppCounts("/web");
  EXPECT_EQ(app["tasksRunning"], 2);
  EXPECT_EQ(app["tasksHealthy"], 0);  // no result yet: neither
  EXPECT_EQ(app["tasksUnhealthy"], 0);
  for (const auto& task : app["tasks"]) EXPECT_FALSE(task.contains("healthCheckResults"));

  Health(a, true, "Health check passed: GET http://127.0.0.1:31000/health answered 200");
  now_ += 5;
  Health(b, false, "Health check failed: GET http://127.0.0.1:31001/health answered 500");
  app = AppCounts("/web");
  EXPECT_EQ(app["tasksHealthy"], 1);
  EXPECT_EQ(app["tasksUnhealthy"], 1);
  std::map<std::string, json> results;
  for (const auto& task : app["tasks"]) results[task["id"]] = task["healthCheckResults"];
  EXPECT_EQ(results[a], json::parse(R"([{"alive": true, "consecutiveFailures": 0,
    "firstSuccess": "1970-01-01T00:16:40.000Z", "lastSuccess": "1970-01-01T00:16:40.000Z",
    "lastFailure": null, "lastFailureCause": null, "instanceId": ")" +
                                    a + R"("}])"));
  ASSERT_EQ(results[b].size(), 1u);
  EXPECT_EQ(results[b][0]["alive"], false);
  EXPECT_EQ(results[b][0]["consecutiveFailures"], 1);
  EXPECT_EQ(results[b][0]["firstSuccess"], nullptr);
  EXPECT_EQ(results[b][0]["lastFailure"], "1970-01-01T00:16:45.000Z");
  EXPECT_EQ(results[b][0]["lastFailureCause"],
            "Health check failed: GET http://127.0.0.1:31001/health answered 500");

  // Marathon's events: a change of alive (not the first failure: it was not
  // alive before), and every failure.
  auto changed = Events("health_status_changed_event");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0]["appId"], "/web");
  EXPECT_EQ(changed[0]["instanceId"], a);
  EXPECT_EQ(changed[0]["version"], created.app.version);
  EXPECT_EQ(changed[0]["alive"], true);
  auto failed = Events("failed_health_check_event");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["taskId"], b);
  EXPECT_EQ(failed[0]["healthCheck"]["protocol"], "MESOS_HTTP");
  EXPECT_EQ(failed[0]["healthCheck"]["path"], "/health");

  // A healthy a loses its health: another change.
  Health(a, false, "Health check failed: no answer");
  Health(a, false, "Health check failed: no answer");
  EXPECT_EQ(AppCounts("/web")["tasksUnhealthy"], 2);
  ASSERT_EQ(Events("health_status_changed_event").size(), 2u);
  EXPECT_EQ(Events("health_status_changed_event")[1]["alive"], false);
  // Updates that carry the last result along (a check's result) change nothing.
  TaskStatus carried;
  carried.task_id = a;
  carried.state = TaskState::kRunning;
  carried.reason = Reason::kTaskCheckStatusUpdated;
  carried.healthy = false;
  carried.check_status = CheckStatus{CheckType::kHttp, 204, std::nullopt, std::nullopt};
  core_->Update(carried);
  auto view = core_->ViewApp(PathId::Parse("/web"));
  std::map<TaskId, TaskHealth> health;
  for (const auto& task : view->tasks) health[task.id] = task.health;
  EXPECT_EQ(health[a].consecutive_failures, 2);
  EXPECT_TRUE(health[a].ready);  // 204 is one of httpStatusCodesForReady
  EXPECT_FALSE(health[b].ready);

  // The executor kills b after its failures in a row: one kill event, and b is replaced.
  Health(b, false, "Task failed its health check 2 times in a row", TaskState::kKilling);
  Health(b, false, "Task killed because it failed its health check", TaskState::kKilled);
  auto kills = Events("unhealthy_instance_kill_event");
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0]["appId"], "/web");
  EXPECT_EQ(kills[0]["taskId"], b);
  EXPECT_EQ(kills[0]["instanceId"], b);
  EXPECT_EQ(kills[0]["version"], created.app.version);
  EXPECT_EQ(kills[0]["reason"],
            "Health check failed: GET http://127.0.0.1:31001/health answered 500");
  EXPECT_EQ(kills[0]["host"], "host-a1");
  EXPECT_EQ(kills[0]["slaveId"], "a1");
  EXPECT_FALSE(kills[0]["timestamp"].get<std::string>().empty());
  EXPECT_EQ(Tasks("/web").size(), 1u);
  core_->Offers({MakeOffer("a1")});
  ASSERT_EQ(actions_->launched.size(), 3u);
  EXPECT_NE(actions_->launched[2].task_id, b);
  auto last = core_->ViewApp(PathId::Parse("/web"))->last_failure;
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->task_id, b);
}

// Health is not stored: after a restart the answers to reconciliation (the
// last status, with its health) bring it back.
TEST_F(ServiceCoreTest, AfterARestartReconciliationBringsTheHealthBack) {
  core_->Subscribed("framework-1");
  core_->CreateApp(App(R"({"id": "/web", "cmd": "serve", "instances": 2, "cpus": 0.1,
    "healthChecks": [{"protocol": "TCP"}]})"));
  core_->Offers({MakeOffer("a1")});
  std::vector<TaskInfo> tasks = actions_->launched;
  ASSERT_EQ(tasks.size(), 2u);
  Open();
  core_->Subscribed("framework-1");
  Health(tasks[0].task_id, true, "Health check passed", TaskState::kRunning,
         Reason::kReconciliation);
  Health(tasks[1].task_id, false, "Health check failed: refused", TaskState::kRunning,
         Reason::kReconciliation);
  json app = AppCounts("/web");
  EXPECT_EQ(app["tasksHealthy"], 1);
  EXPECT_EQ(app["tasksUnhealthy"], 1);
  // An app without health checks has no healthCheckResults and counts none.
  core_->CreateApp(App(R"({"id": "/plain", "cmd": "serve", "cpus": 0.1})"));
  core_->Offers({MakeOffer("a2")});
  ASSERT_EQ(actions_->launched.size(), 1u);
  Health(actions_->launched[0].task_id, true);
  app = AppCounts("/plain");
  EXPECT_EQ(app["tasksHealthy"], 0);
  EXPECT_FALSE(app["tasks"][0].contains("healthCheckResults"));
}

}  // namespace
}  // namespace stoa::service

// Deployments that do not reach their goal: a new config whose tasks keep
// failing is rolled back by the core itself (upgradeStrategy.rollback), with
// the old tasks serving throughout; DELETE /v2/deployments/{id} reverts a
// deployment or, forced, just stops it.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/service_api_fixture.hpp"
#include "tests/unit/service_core_fixture.hpp"

namespace stoa::service {
namespace {

class DeploymentsTest : public ServiceCoreTest {
 protected:
  // Creates /web (3 instances of `cmd` v1 with a health check, `extra` fields
  // merged in), runs it healthy and returns its tasks.
  std::vector<TaskId> RunHealthy(const std::string& extra = "{}") {
    json app = json::parse(R"({"id": "/web", "cmd": "v1", "instances": 3, "cpus": 0.1,
      "healthChecks": [{"protocol": "COMMAND", "command": {"value": "check"}}]})");
    app.merge_patch(json::parse(extra));
    core_->Subscribed("framework-1");
    EXPECT_EQ(core_->CreateApp(App(app.dump())).refusal, Refusal::kNone);
    core_->Offers({MakeOffer("a1")});
    std::vector<TaskId> ids;
    for (const auto& task : actions_->launched) {
      Status(task.task_id, TaskState::kRunning);
      Health(task.task_id, true);
      ids.push_back(task.task_id);
    }
    EXPECT_TRUE(core_->View().deployments.empty());
    return ids;
  }

  ChangeOutcome ChangeCmd(const std::string& cmd) {
    return core_->UpdateApp(
        PathId::Parse("/web"),
        [&](const AppDefinition* current) {
          return ParseApp(MergeAppUpdate(AppSpecJson(*current), json{{"cmd", cmd}}));
        },
        false, false);
  }

  // Launches what waits, and has each new task fail its health check, killed by its executor.
  void FailNewTasks(size_t from) {
    core_->Offers({MakeOffer("a2")});
    for (size_t i = from; i < actions_->launched.size(); ++i) {
      Status(actions_->launched[i].task_id, TaskState::kRunning);
      Health(actions_->launched[i].task_id, false, "check exited with 1", TaskState::kKilled);
    }
  }

  AppDefinition Web() { return core_->ViewApp(PathId::Parse("/web"))->app; }
};

TEST_F(DeploymentsTest, ANewVersionFailingItsHealthCheckIsRolledBackWithTheOldTasksServing) {
  std::vector<TaskId> old = RunHealthy();
  AppDefinition v1 = Web();
  ChangeOutcome update = ChangeCmd("v2");
  ASSERT_EQ(update.refusal, Refusal::kNone);
  EXPECT_EQ(update.deployment.original_versions.at(PathId::Parse("/web")), v1.version);

  FailNewTasks(3);  // 3 new tasks at once (maximumOverCapacity 1): 3 failures, the default limit
  ASSERT_EQ(actions_->launched.size(), 6u);
  EXPECT_EQ(actions_->launched[3].command.value, "v2");

  // Rolled back: v1's definition and config again, so its tasks stay.
  AppDefinition now = Web();
  EXPECT_EQ(now.cmd, "v1");
  EXPECT_NE(now.version, v1.version);
  EXPECT_EQ(now.version_info.last_config_change_at, v1.version_info.last_config_change_at);
  for (const auto& id : old) {
    EXPECT_EQ(std::count(actions_->killed.begin(), actions_->killed.end(), id), 0) << id;
  }
  std::vector<TaskId> running;
  for (const auto& task : Tasks("/web")) running.push_back(task.id);
  EXPECT_EQ(running.size(), 3u);
  EXPECT_TRUE(std::is_permutation(running.begin(), running.end(), old.begin(), old.end()));

  // The events say what happened and why; the revert ends at once (its
  // tasks are there, healthy), and no more v2 task is launched.
  auto failed = Events("deployment_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["id"], update.deployment.id);
  std::string reason = failed[0]["reason"];
  EXPECT_NE(reason.find("3 tasks of /web at version " + update.app.version + " failed"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("check exited with 1"), std::string::npos) << reason;
  EXPECT_NE(reason.find("rolled back to version " + v1.version), std::string::npos) << reason;
  EXPECT_TRUE(core_->View().deployments.empty());
  auto succeeded = Events("deployment_success");
  ASSERT_FALSE(succeeded.empty());
  EXPECT_NE(succeeded.back()["id"], update.deployment.id);
  core_->Offers({MakeOffer("a3")});
  EXPECT_EQ(actions_->launched.size(), 6u);
}

TEST_F(DeploymentsTest, FailuresBelowTheLimitOrWithRollbackDisabledDoNotRollBack) {
  RunHealthy(R"({"upgradeStrategy": {"rollback": {"maxFailures": 4}}})");
  ChangeOutcome update = ChangeCmd("v2");
  FailNewTasks(3);
  EXPECT_EQ(Web().cmd, "v2");  // 3 of 4
  ASSERT_EQ(core_->View().deployments.size(), 1u);
  EXPECT_EQ(core_->View().deployments[0].failures, 3);
  // Counted durably: a restarted core goes on from 3 (with a new recorder).
  Open();
  core_->Subscribed("framework-1");
  EXPECT_EQ(core_->View().deployments.at(0).failures, 3);
  EXPECT_TRUE(Events("deployment_failed").empty());
  // Tasks lost with their agent say nothing of the new version.
  now_ += 1000;  // past the backoff
  core_->Offers({MakeOffer("a4")});
  ASSERT_GE(actions_->launched.size(), 2u);
  Status(actions_->launched.back().task_id, TaskState::kGone, "agent removed");
  EXPECT_EQ(core_->View().deployments.at(0).failures, 3);
  Status(actions_->launched[actions_->launched.size() - 2].task_id, TaskState::kFailed, "exit 2");
  EXPECT_EQ(Web().cmd, "v1");
  EXPECT_EQ(Events("deployment_failed").size(), 1u);
}

TEST_F(DeploymentsTest, RollbackDisabledKeepsTheDeploymentGoing) {
  RunHealthy(R"({"upgradeStrategy": {"rollback": {"enabled": false}}})");
  EXPECT_EQ(AppSpecJson(Web())["upgradeStrategy"]["rollback"],
            json::parse(R"({"enabled": false, "maxFailures": 3})"));
  ChangeCmd("v2");
  FailNewTasks(3);
  EXPECT_EQ(Web().cmd, "v2");
  EXPECT_EQ(core_->View().deployments.size(), 1u);
  EXPECT_TRUE(Events("deployment_failed").empty());
}

TEST_F(DeploymentsTest, DeleteRevertsAnUpdateOrACreationAndForceOnlyStops) {
  std::vector<TaskId> old = RunHealthy();
  std::string v1 = Web().version;
  EXPECT_EQ(core_->CancelDeployment("no-such", false).refusal, Refusal::kNotFound);

  ChangeOutcome update = ChangeCmd("v2");
  core_->Offers({MakeOffer("a2")});
  ChangeOutcome revert = core_->CancelDeployment(update.deployment.id, false);
  ASSERT_EQ(revert.refusal, Refusal::kNone) << revert.message;
  EXPECT_EQ(revert.deployment.reverts, update.deployment.id);
  EXPECT_EQ(Web().cmd, "v1");
  // The v2 tasks go; the v1 ones stay.
  for (size_t i = 3; i < actions_->launched.size(); ++i) {
    EXPECT_EQ(
        std::count(actions_->killed.begin(), actions_->killed.end(), actions_->launched[i].task_id),
        1);
  }
  for (const auto& id : old) {
    EXPECT_EQ(std::count(actions_->killed.begin(), actions_->killed.end(), id), 0);
  }
  ASSERT_EQ(Events("deployment_failed").size(), 1u);
  EXPECT_EQ(Events("deployment_failed")[0]["id"], update.deployment.id);

  // Forced: the deployment ends, the app stays as it is now (v3).
  ChangeOutcome third = ChangeCmd("v3");
  ASSERT_EQ(third.refusal, Refusal::kLocked);  // the revert still kills v2 tasks
  for (const auto& id : actions_->killed) Status(id, TaskState::kKilled);
  third = ChangeCmd("v3");
  ASSERT_EQ(third.refusal, Refusal::kNone) << third.message;
  ChangeOutcome stopped = core_->CancelDeployment(third.deployment.id, true);
  ASSERT_EQ(stopped.refusal, Refusal::kNone);
  EXPECT_TRUE(core_->View().deployments.empty());
  EXPECT_EQ(Web().cmd, "v3");
  EXPECT_EQ(Events("deployment_failed").size(), 2u);

  // A creation reverted: the app goes.
  ChangeOutcome created = core_->CreateApp(App(R"({"id": "/new", "cmd": "x", "cpus": 0.1})"));
  ASSERT_EQ(core_->CancelDeployment(created.deployment.id, false).refusal, Refusal::kNone);
  EXPECT_FALSE(core_->ViewApp(PathId::Parse("/new")).has_value());
}

TEST_F(DeploymentsTest, ADeploymentSupersededByAForcedChangeEndsWithDeploymentFailed) {
  RunHealthy();
  ChangeOutcome first = ChangeCmd("v2");
  ASSERT_EQ(ChangeCmd("v3").refusal, Refusal::kLocked);
  ChangeOutcome second = core_->UpdateApp(
      PathId::Parse("/web"),
      [](const AppDefinition* current) {
        return ParseApp(MergeAppUpdate(AppSpecJson(*current), json{{"cmd", "v3"}}));
      },
      true, false);
  ASSERT_EQ(second.refusal, Refusal::kNone);
  auto failed = Events("deployment_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["id"], first.deployment.id);
  EXPECT_EQ(failed[0]["reason"], "superseded by deployment " + second.deployment.id);
  ASSERT_EQ(Events("deployment_step_failure").size(), 1u);
  EXPECT_EQ(Events("deployment_step_failure")[0]["plan"]["id"], first.deployment.id);
  ASSERT_EQ(core_->View().deployments.size(), 1u);
  EXPECT_EQ(core_->View().deployments[0].id, second.deployment.id);
}

// A deployment recorded before original versions were kept (an upgrade
// in the middle of a rolling update): a revert leaves the app alone.
TEST_F(DeploymentsTest, ARevertOfADeploymentWithoutOriginalsKeepsTheApp) {
  RunHealthy();
  ChangeOutcome update = ChangeCmd("v2");
  core_.reset();
  Deployment legacy = update.deployment;
  legacy.original_versions.clear();
  ASSERT_TRUE(store_->PutDeployment(legacy).ok());
  Open();
  core_->Subscribed("framework-1");
  ChangeOutcome revert = core_->CancelDeployment(legacy.id, false);
  EXPECT_EQ(revert.refusal, Refusal::kConflict) << revert.message;
  ASSERT_TRUE(core_->ViewApp(PathId::Parse("/web")).has_value());
  EXPECT_EQ(Web().cmd, "v2");
  EXPECT_TRUE(core_->View().deployments.empty());  // stopped
}

TEST_F(DeploymentsTest, ADeploymentOfSeveralAppsAnnouncesEachAppsSteps) {
  core_->Subscribed("framework-1");
  ChangeOutcome outcome = core_->ChangeTree(
      [&](const std::map<PathId, AppDefinition>& apps,
          const std::map<PathId, GroupRecord>& groups) {
        TreeChange change;
        change.apps = apps;
        change.groups = groups;
        change.apps[PathId::Parse("/a")] = App(R"({"id": "/a", "cmd": "x", "cpus": 0.1})");
        change.apps[PathId::Parse("/b")] = App(R"({"id": "/b", "cmd": "y", "cpus": 0.1})");
        return change;
      },
      false);
  ASSERT_EQ(outcome.refusal, Refusal::kNone) << outcome.message;
  std::multiset<std::string> announced;
  for (const auto& info : Events("deployment_info")) {
    EXPECT_EQ(info["plan"]["id"], outcome.deployment.id);
    EXPECT_EQ(info["plan"]["steps"].size(), 4u);
    announced.insert(info["currentStep"]["actions"][0]["app"].get<std::string>() + " " +
                     info["currentStep"]["actions"][0]["action"].get<std::string>());
  }
  EXPECT_EQ(announced, (std::multiset<std::string>{"/a StartApplication", "/a ScaleApplication",
                                                   "/b StartApplication", "/b ScaleApplication"}));
  ASSERT_EQ(Events("group_change_success").size(), 1u);
  EXPECT_EQ(Events("group_change_success")[0]["groupId"], "/");
  EXPECT_EQ(Events("deployment_step_success").size(), 2u);  // each app's StartApplication
}

// Marathon's dependencies order a deployment: an app waits until the apps
// it depends on (by id, or through its group's dependencies) that the same
// deployment changes are at their goal.
TEST_F(DeploymentsTest, AnAppStartsAfterTheAppsItDependsOn) {
  core_->Subscribed("framework-1");
  ChangeOutcome outcome = core_->ChangeTree(
      [&](const std::map<PathId, AppDefinition>& apps,
          const std::map<PathId, GroupRecord>& groups) {
        TreeChange change;
        change.apps = apps;
        change.groups = groups;
        change.apps[PathId::Parse("/shop/db")] =
            App(R"({"id": "/shop/db", "cmd": "db", "cpus": 0.1})");
        change.apps[PathId::Parse("/shop/web")] =
            App(R"({"id": "/shop/web", "cmd": "web", "cpus": 0.1, "dependencies": ["db"]})");
        change.apps[PathId::Parse("/front/lb")] =
            App(R"({"id": "/front/lb", "cmd": "lb", "cpus": 0.1})");
        change.groups[PathId::Parse("/front")] = {
            PathId::Parse("/front"), {PathId::Parse("/shop")}, ""};
        return change;
      },
      false);
  ASSERT_EQ(outcome.refusal, Refusal::kNone) << outcome.message;
  core_->Offers({MakeOffer("a1")});
  auto launched = [&] {
    std::vector<std::string> commands;
    for (const auto& task : actions_->launched) commands.push_back(task.command.value);
    return commands;
  };
  EXPECT_EQ(launched(), (std::vector<std::string>{"db"}));
  Status(actions_->launched[0].task_id, TaskState::kRunning);  // /shop/db at its goal
  core_->Offers({MakeOffer("a2")});
  EXPECT_EQ(launched(), (std::vector<std::string>{"db", "web"}));
  Status(actions_->launched[1].task_id, TaskState::kRunning);  // all of /shop
  core_->Offers({MakeOffer("a3")});
  ASSERT_EQ(launched(), (std::vector<std::string>{"db", "web", "lb"}));
  Status(actions_->launched[2].task_id, TaskState::kRunning);
  EXPECT_TRUE(core_->View().deployments.empty());
}

// Over HTTP as Marathon answers: 200 with the reverting deployment (and its
// header), 202 without a body when forced, 404 with a message when unknown.
class DeploymentsApiTest : public ServiceApiFixture {};

TEST_F(DeploymentsApiTest, DeleteAnswersAsMarathon) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/web", "cmd": "v1", "cpus": 0.1})").status, 201);
  RunTasks();
  HttpReply update = Call("PUT", "/v2/apps/web", R"({"cmd": "v2"})");
  ASSERT_EQ(update.status, 200);
  std::string id = Json(update)["deploymentId"];
  core_->Offers({MakeOffer("agent-1")});  // the v2 task, staging

  HttpReply unknown = Call("DELETE", "/v2/deployments/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Json(unknown)["message"], "DeploymentPlan nope does not exist");

  HttpReply reverted = Call("DELETE", "/v2/deployments/" + id);
  ASSERT_EQ(reverted.status, 200) << reverted.body;
  json body = Json(reverted);
  EXPECT_NE(body["deploymentId"], id);
  EXPECT_EQ(reverted.headers["Marathon-Deployment-Id"], body["deploymentId"]);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/web"))["app"]["cmd"], "v1");
  json listed = Json(Call("GET", "/v2/deployments"));
  ASSERT_EQ(listed.size(), 1u);  // the revert, killing the v2 task
  EXPECT_EQ(listed[0]["id"], body["deploymentId"]);

  HttpReply forced =
      Call("DELETE", "/v2/deployments/" + std::string(body["deploymentId"]) + "?force=true");
  EXPECT_EQ(forced.status, 202);
  EXPECT_TRUE(forced.body.empty());
  EXPECT_EQ(Json(Call("GET", "/v2/deployments")), json::array());
  EXPECT_EQ(Call("DELETE", "/v2/deployments/x?force=maybe").status, 400);
}

// While a deployment readies tasks, /v2/deployments and embed=apps.readiness
// show each one's readiness check result, as Marathon.
TEST_F(DeploymentsApiTest, ShowsReadinessCheckResultsWhileTheDeploymentWaits) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/ready", "cmd": "serve", "cpus": 0.1,
    "portDefinitions": [{"port": 0, "name": "http-api"}],
    "readinessChecks": [{"name": "warm", "path": "/ready"}]})")
                .status,
            201);
  RunTasks();
  ASSERT_EQ(actions_.launched.size(), 1u);
  std::string task = actions_.launched[0].task_id;
  json expected = json::parse(R"([{"name": "warm", "ready": false, "taskId": ")" + task + "\"}]");
  json listed = Json(Call("GET", "/v2/deployments"));
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["currentActions"][0]["readinessCheckResults"], expected);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/ready?embed=app.readiness"))["app"]["readinessCheckResults"],
            expected);

  TaskStatus ready;  // the executor's check answered 200
  ready.task_id = task;
  ready.state = TaskState::kRunning;
  ready.reason = Reason::kTaskCheckStatusUpdated;
  ready.check_status = CheckStatus{};
  ready.check_status->http_status_code = 200;
  core_->Update(ready);
  EXPECT_EQ(Json(Call("GET", "/v2/deployments")), json::array());  // ready: done
  EXPECT_EQ(Json(Call("GET", "/v2/apps/ready?embed=app.readiness"))["app"]["readinessCheckResults"],
            json::array());
}

}  // namespace
}  // namespace stoa::service

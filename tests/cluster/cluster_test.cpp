// A whole cluster in one process (see cluster_fixture.hpp): launching, killing,
// failures, failover, acknowledgements, filters and reconciliation.
#include <filesystem>

#include "tests/cluster/cluster_fixture.hpp"

namespace stoa {
namespace {

using cluster::ClusterTest;
using cluster::Command;
using cluster::Recorder;
using json = nlohmann::json;
using stoa::testing::WaitFor;

TEST_F(ClusterTest, LaunchesATaskAndReportsItFinished) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  Offer offer = LaunchOnFirstOffer(recorder, driver, Command("hello", "echo hello from stoa"));
  EXPECT_EQ(offer.resources.Get("cpus"), 2);
  ASSERT_TRUE(recorder.WaitForState("hello", TaskState::kFinished));
  EXPECT_TRUE(recorder.Find("hello", TaskState::kRunning).has_value());
  EXPECT_TRUE(recorder.Find("hello", TaskState::kStarting).has_value());
  ASSERT_TRUE(WaitFor([&] { return MasterTask("hello")["state"] == "TASK_FINISHED"; }));

  // The task's stdout is readable through the agent's sandbox API.
  int index = offer.hostname == "node0" ? 0 : 1;
  json agent_state;
  ASSERT_TRUE(WaitFor([&] {
    agent_state = json::parse(agents_[index]->StateJson());
    return !agent_state["completed_tasks"].empty();
  })) << agent_state.dump();
  std::string sandbox = agent_state["completed_tasks"][0]["sandbox"];
  auto body =
      HttpGet("127.0.0.1", agents_[index]->http_port(), "/files/read?path=" + sandbox + "/stdout");
  ASSERT_TRUE(body.ok()) << body.error();
  EXPECT_EQ(json::parse(*body)["data"], "hello from stoa\n");
  // The same file named by ids: one sandbox, a path relative to it (A4).
  const json& done = agent_state["completed_tasks"][0];
  auto by_ids =
      HttpGet("127.0.0.1", agents_[index]->http_port(),
              "/files/read?framework_id=" + done["framework_id"].get<std::string>() +
                  "&executor_id=" + done["executor_id"].get<std::string>() + "&path=stdout");
  ASSERT_TRUE(by_ids.ok()) << by_ids.error();
  EXPECT_EQ(json::parse(*by_ids)["data"], "hello from stoa\n");
  // ... and nothing outside the sandboxes is.
  int status = 0;
  HttpGet("127.0.0.1", agents_[index]->http_port(), "/files/read?path=/etc/passwd", &status);
  EXPECT_EQ(status, 403);
  // A29: the agent renders resources as the master does, as objects.
  EXPECT_EQ(agent_state["resources"]["cpus"], 2) << agent_state.dump();
  EXPECT_EQ(agent_state["resources"]["ports"], "[31000-31009]") << agent_state.dump();
  EXPECT_EQ(done["resources"]["mem"], 64) << done.dump();
}

// A16: sandboxes are garbage-collected once their executor is done; here with
// no delay and a fast disk watch, so that the test waits for the removal only.
class SandboxGcClusterTest : public ClusterTest {
 protected:
  SandboxGcClusterTest() { agent_count_ = 1; }
  void AdjustAgent(int, agent::AgentOptions& options) override {
    options.gc_delay = 0;
    options.disk_watch_interval = 0.05;
  }
};

TEST_F(SandboxGcClusterTest, ASandboxIsRemovedOnceItsExecutorIsDone) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver, Command("short", "echo bye"));
  ASSERT_TRUE(recorder.WaitForState("short", TaskState::kFinished));
  json agent_state;
  ASSERT_TRUE(WaitFor([&] {
    agent_state = json::parse(agents_[0]->StateJson());
    return !agent_state["completed_tasks"].empty();
  }));
  std::string sandbox = agent_state["completed_tasks"][0]["sandbox"];
  ASSERT_TRUE(WaitFor([&] { return !std::filesystem::exists(sandbox); })) << sandbox;
  // Its executor's and framework's directories went with it.
  EXPECT_TRUE(WaitFor([&] {
    return std::filesystem::is_empty(agent_state["work_dir"].get<std::string>() + "/frameworks");
  }));
  int status = 0;
  HttpGet("127.0.0.1", agents_[0]->http_port(), "/files/read?path=" + sandbox + "/stdout", &status);
  EXPECT_EQ(status, 404);
}

TEST_F(ClusterTest, KillsARunningTask) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver, Command("sleeper", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("sleeper", TaskState::kRunning));
  driver.Kill("sleeper");
  ASSERT_TRUE(recorder.WaitForState("sleeper", TaskState::kKilled));
  ASSERT_TRUE(WaitFor([&] { return MasterTask("sleeper")["state"] == "TASK_KILLED"; }));
  // Its resources are offered again.
  ASSERT_TRUE(WaitFor([&] {
    return json::parse(master_->StateJson())["agents"][0]["used_resources"].value("cpus", 0.0) ==
               0 &&
           json::parse(master_->StateJson())["agents"][1]["used_resources"].value("cpus", 0.0) == 0;
  }));
}

TEST_F(ClusterTest, RefusesInvalidLaunchesWithAReason) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  ASSERT_TRUE(recorder.WaitForOffers(1));
  Offer offer = recorder.offers().front();
  driver.Launch(offer, {Command("too-big", "true", "cpus:64;mem:64"), Command("ok", "true"),
                        Command("ok", "true")});
  ASSERT_TRUE(recorder.WaitForState("too-big", TaskState::kError));
  auto error = *recorder.Find("too-big", TaskState::kError);
  EXPECT_EQ(error.reason, Reason::kTaskInvalid);
  EXPECT_NE(error.message.find("not in what remains of the offers"), std::string::npos)
      << error.message;
  // The first "ok" runs; its duplicate is refused.
  ASSERT_TRUE(recorder.WaitForState("ok", TaskState::kError));
  EXPECT_NE(recorder.Find("ok", TaskState::kError)->message.find("already has a task"),
            std::string::npos);
  ASSERT_TRUE(recorder.WaitForState("ok", TaskState::kFinished));

  // An offer used twice is refused: the task is LOST (not partition-aware).
  driver.Launch(offer, {Command("late", "true")});
  ASSERT_TRUE(recorder.WaitForState("late", TaskState::kLost));
  EXPECT_EQ(recorder.Find("late", TaskState::kLost)->reason, Reason::kInvalidOffers);
}

TEST_F(ClusterTest, AgentLossMakesItsTasksUnreachable) {
  Recorder recorder;
  FrameworkInfo info;
  info.partition_aware = true;
  auto& driver = StartDriver(&recorder, info);
  Offer offer = LaunchOnFirstOffer(recorder, driver, Command("victim", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("victim", TaskState::kRunning));
  int index = offer.hostname == "node0" ? 0 : 1;
  agents_[index].reset();  // the agent stops answering pings
  ASSERT_TRUE(recorder.WaitForState("victim", TaskState::kUnreachable));
  auto status = *recorder.Find("victim", TaskState::kUnreachable);
  EXPECT_EQ(status.reason, Reason::kAgentDisconnected);
  EXPECT_EQ(ActiveAgents(), 1);
  // A reconciliation answers UNREACHABLE too.
  size_t before = recorder.updates().size();
  driver.Reconcile({{"victim", offer.agent_id}});
  ASSERT_TRUE(WaitFor([&] { return recorder.updates().size() > before; }));
  EXPECT_EQ(recorder.updates().back().state, TaskState::kUnreachable);
}

TEST_F(ClusterTest, FrameworkFailoverWithinTimeoutKeepsItsTasks) {
  auto first = std::make_unique<Recorder>();
  FrameworkInfo info;
  info.failover_timeout_seconds = 60;
  auto& driver = StartDriver(first.get(), info);
  LaunchOnFirstOffer(*first, driver, Command("survivor", "sleep 60"));
  ASSERT_TRUE(first->WaitForState("survivor", TaskState::kRunning));
  FrameworkId id = first->framework_id();
  drivers_.clear();  // the scheduler dies without tearing down
  ASSERT_TRUE(WaitFor([&] { return State()["frameworks"][0]["connected"] == false; }));

  Recorder second;
  info.id = id;
  auto& again = StartDriver(&second, info);
  EXPECT_EQ(second.framework_id(), id);
  again.Reconcile();
  ASSERT_TRUE(second.WaitForState("survivor", TaskState::kRunning));
  EXPECT_EQ(second.Find("survivor", TaskState::kRunning)->reason, Reason::kReconciliation);
  EXPECT_EQ(MasterTask("survivor")["state"], "TASK_RUNNING");
}

TEST_F(ClusterTest, FailoverTimeoutExpiryTearsTheFrameworkDown) {
  Recorder recorder;
  FrameworkInfo info;
  info.failover_timeout_seconds = 0.5;
  auto& driver = StartDriver(&recorder, info);
  Offer offer = LaunchOnFirstOffer(recorder, driver, Command("orphan", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("orphan", TaskState::kRunning));
  FrameworkId id = recorder.framework_id();
  drivers_.clear();
  ASSERT_TRUE(WaitFor([&] {
    json state = State();
    return state["frameworks"].empty() && state["completed_frameworks"].size() == 1;
  }));
  EXPECT_EQ(MasterTask("orphan")["state"], "TASK_KILLED");
  // The agent killed the executor and forgot the framework.
  int index = offer.hostname == "node0" ? 0 : 1;
  ASSERT_TRUE(
      WaitFor([&] { return json::parse(agents_[index]->StateJson())["frameworks"].empty(); }));
  // The framework cannot come back with that id.
  Recorder late;
  info.id = id;
  sdk::DriverOptions options;
  options.master = master_->address();
  options.framework = info;
  sdk::SchedulerDriver driver2(&late, options);
  ASSERT_TRUE(driver2.Start().ok());
  EXPECT_FALSE(WaitFor([&] { return driver2.subscribed(); }, std::chrono::milliseconds(500)));
}

TEST_F(ClusterTest, StatusUpdatesAreRetriedUntilAcknowledged) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder, {}, /*implicit_acks=*/false);
  LaunchOnFirstOffer(recorder, driver, Command("chatty", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("chatty", TaskState::kStarting));
  TaskStatus starting = *recorder.Find("chatty", TaskState::kStarting);
  // Not acknowledged: the agent sends the same update again (same uuid), and
  // nothing newer overtakes it.
  ASSERT_TRUE(WaitFor([&] {
    int copies = 0;
    for (const auto& u : recorder.updates()) copies += u.uuid == starting.uuid ? 1 : 0;
    return copies >= 2;
  }));
  EXPECT_FALSE(recorder.Find("chatty", TaskState::kRunning).has_value());
  // The agent itself knows the task runs, though the framework has not heard
  // yet: its state (and checkpoint) follow the executor, not the acknowledgements.
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& agent : agents_) {
      json state = json::parse(agent->StateJson());
      for (const auto& framework : state["frameworks"]) {
        for (const auto& executor : framework["executors"]) {
          for (const auto& task : executor["tasks"]) {
            if (task["id"] == "chatty" && task["state"] == "TASK_RUNNING") return true;
          }
        }
      }
    }
    return false;
  }));
  driver.Acknowledge(starting);
  ASSERT_TRUE(recorder.WaitForState("chatty", TaskState::kRunning));
  driver.Acknowledge(*recorder.Find("chatty", TaskState::kRunning));
  driver.Kill("chatty");
  ASSERT_TRUE(recorder.WaitForState("chatty", TaskState::kKilling));
  driver.Acknowledge(*recorder.Find("chatty", TaskState::kKilling));
  ASSERT_TRUE(recorder.WaitForState("chatty", TaskState::kKilled));
}

TEST_F(ClusterTest, RefuseFiltersHoldUntilRevive) {
  Recorder recorder;
  std::atomic<bool> declining{true};
  recorder.on_offers = [&](sdk::SchedulerDriver& driver, const std::vector<Offer>& offers) {
    if (!declining) return;
    for (const auto& offer : offers) driver.Decline({offer.id}, 3600);
  };
  auto& driver = StartDriver(&recorder);
  ASSERT_TRUE(recorder.WaitForOffers(2));  // one per agent, both declined for an hour
  ASSERT_TRUE(WaitFor([&] { return State()["frameworks"][0]["offers"] == 0; }));
  size_t seen = recorder.offers().size();
  // Twenty allocation rounds pass without a new offer.
  EXPECT_FALSE(
      WaitFor([&] { return recorder.offers().size() > seen; }, std::chrono::milliseconds(1000)));
  declining = false;
  driver.Revive();
  ASSERT_TRUE(recorder.WaitForOffers(seen + 2));
}

TEST_F(ClusterTest, ReconciliationAnswersForKnownAndUnknownTasks) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver, Command("known", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("known", TaskState::kRunning));
  size_t before = recorder.updates().size();
  driver.Reconcile({{"known", ""}, {"never-launched", "agent-x"}});
  ASSERT_TRUE(WaitFor([&] { return recorder.updates().size() >= before + 2; }));
  auto updates = recorder.updates();
  std::map<TaskId, TaskStatus> answers;
  for (size_t i = before; i < updates.size(); ++i) answers[updates[i].task_id] = updates[i];
  EXPECT_EQ(answers["known"].state, TaskState::kRunning);
  EXPECT_EQ(answers["known"].reason, Reason::kReconciliation);
  EXPECT_TRUE(answers["known"].uuid.empty());
  EXPECT_EQ(answers["never-launched"].state, TaskState::kLost);  // not partition-aware
  driver.Kill("known");
  ASSERT_TRUE(recorder.WaitForState("known", TaskState::kKilled));
}

TEST_F(ClusterTest, MalformedFramesGetAnErrorAndTheMasterKeepsServing) {
  ZmqEndpoint rogue("rogue");
  std::mutex mutex;
  std::vector<std::string> replies;
  ASSERT_TRUE(rogue.Connect("master", master_->address(), "rogue-peer").ok());
  rogue.Start([&](const FrameOrigin&, std::string_view frame, FrameTicket) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.emplace_back(frame);
    return Status::Ok();
  });
  rogue.SendOn("master", "this is not a capnp frame");
  rogue.SendOn("master", std::string(64, '\xff'));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return replies.size() >= 2;
  }));
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto decoded = Decode(replies[0]);
    ASSERT_TRUE(decoded.ok());
    auto* error = std::get_if<ProtocolError>(&*decoded);
    ASSERT_NE(error, nullptr);
    EXPECT_NE(error->message.find("invalid frame"), std::string::npos);
  }
  rogue.Stop();
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnFirstOffer(recorder, driver, Command("after", "true"));
  ASSERT_TRUE(recorder.WaitForState("after", TaskState::kFinished));
}

TEST_F(ClusterTest, AnAgentMarkedGoneEndsItsTasksAndNeverComesBack) {
  Recorder recorder;
  FrameworkInfo info;
  info.partition_aware = true;
  auto& driver = StartDriver(&recorder, info);
  Offer offer = LaunchOnFirstOffer(recorder, driver, Command("retired", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("retired", TaskState::kRunning));
  int index = offer.hostname == "node0" ? 0 : 1;

  int status = 0;
  auto missing =
      HttpPost("127.0.0.1", master_->http_port(), "/agents/gone?agent_id=nobody", &status);
  EXPECT_EQ(status, 404);
  auto body = HttpPost("127.0.0.1", master_->http_port(), "/agents/gone?agent_id=" + offer.agent_id,
                       &status);
  ASSERT_TRUE(body.ok()) << body.error();
  ASSERT_EQ(status, 200) << *body;
  ASSERT_TRUE(recorder.WaitForState("retired", TaskState::kGone));
  EXPECT_EQ(recorder.Find("retired", TaskState::kGone)->reason, Reason::kAgentRemoved);
  EXPECT_EQ(ActiveAgents(), 1);
  // The agent stops its executors and does not register again.
  ASSERT_TRUE(WaitFor([&] {
    json state = json::parse(agents_[index]->StateJson());
    return state["gone"] == true && state["frameworks"].empty();
  }));
  EXPECT_EQ(State()["agents"].size(), 1u);
}

TEST_F(ClusterTest, ATaskReportedLostDoesNotComeBackWithItsAgent) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);  // not partition-aware: it hears LOST
  Offer offer = LaunchOnFirstOffer(recorder, driver, Command("lazarus", "sleep 60"));
  ASSERT_TRUE(recorder.WaitForState("lazarus", TaskState::kRunning));
  int index = offer.hostname == "node0" ? 0 : 1;
  agents_[index].reset();  // its executor keeps running
  ASSERT_TRUE(recorder.WaitForState("lazarus", TaskState::kLost));
  size_t updates = recorder.updates().size();

  StartAgent(index);  // the same agent (its checkpoint) comes back with the task
  ASSERT_TRUE(WaitFor([&] { return ActiveAgents() == 2; }));
  // The master has the agent kill it instead of reviving it.
  ASSERT_TRUE(WaitFor([&] {
    json state = json::parse(agents_[index]->StateJson());
    for (const auto& task : state["completed_tasks"]) {
      if (task["id"] == "lazarus") return task["state"] == "TASK_KILLED";
    }
    return false;
  }));
  EXPECT_EQ(MasterTask("lazarus")["state"], "TASK_LOST");
  for (size_t i = updates; i < recorder.updates().size(); ++i) {
    EXPECT_NE(recorder.updates()[i].state, TaskState::kRunning) << "the task came back";
  }
}

TEST_F(ClusterTest, ALaunchTheAgentNeverReceivedIsDroppedWhenItReregisters) {
  Recorder recorder;
  FrameworkInfo info;
  info.partition_aware = true;
  auto& driver = StartDriver(&recorder, info);
  ASSERT_TRUE(recorder.WaitForOffers(1));
  Offer offer = recorder.offers().front();
  int index = offer.hostname == "node0" ? 0 : 1;
  agents_[index].reset();  // gone before the launch reaches it
  driver.Launch(offer, {Command("orphaned", "sleep 60")});
  ASSERT_TRUE(WaitFor([&] { return MasterTask("orphaned")["state"] == "TASK_STAGING"; }));
  StartAgent(index);  // back within the ping window, without the task
  ASSERT_TRUE(recorder.WaitForState("orphaned", TaskState::kDropped));
  EXPECT_EQ(recorder.Find("orphaned", TaskState::kDropped)->reason, Reason::kReconciliation);
  // Its resources are free again.
  ASSERT_TRUE(WaitFor([&] {
    json state = State();
    for (const auto& agent : state["agents"]) {
      if (agent["id"] == offer.agent_id) return agent["used_resources"].value("cpus", 0.0) == 0;
    }
    return false;
  }));
}

}  // namespace
}  // namespace stoa

// The master actor driven deterministically with CAF's test coordinator:
// decoded messages in (as the transport's I/O thread hands them over), what
// it sends read from a recording Outbox, time moved
// with the coordinator's clock (no sleeping). Each test pins one message
// ordering that once lost or doubled work.
#include "master/master_actor.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "common/storage.hpp"
#include "master/registrar_actor.hpp"
#include "tests/test_util.hpp"

namespace stoa::master {
namespace {

class RecordingOutbox : public Outbox {
 public:
  void Send(const std::string& peer, Message message) override {
    sent.emplace_back(peer, std::move(message));
  }
  std::vector<std::pair<std::string, Message>> sent;
};

caf::actor_system_config& TestingConfig(caf::actor_system_config& config) {
  config.set("scheduler.policy", caf::atom("testing"));
  return config;
}

class MasterActorTest : public ::testing::Test {
 protected:
  MasterActorTest() : system_(TestingConfig(config_)) {
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_.scheduler());
    options_.id = "master-test";
    options_.allocation_interval = 10;
    options_.allocation_batch = 0.01;
    options_.agent_ping_interval = 1000;
    options_.framework_heartbeat_interval = 1000;
    options_.offer_timeout = 0;
    options_.agent_reregister_timeout = 600;
  }

  ~MasterActorTest() override {
    if (master_) caf::anon_send_exit(master_, caf::exit_reason::kill);
    if (registrar_) caf::anon_send_exit(registrar_, caf::exit_reason::kill);
    sched_->run();
  }

  void Start(Registry registry = {}) {
    auto storage = OpenLevelDbStorage(dir_.path() + "/registry");
    ASSERT_TRUE(storage.ok()) << storage.error();
    registrar_ = system_.spawn(RegistrarActor, std::make_shared<Registrar>(std::move(*storage)));
    master_ = SpawnMasterActor(system_, options_, &outbox_, "inproc://test", std::move(registry),
                               registrar_);
    sched_->run();
  }

  void Deliver(const std::string& peer, Message message) {
    caf::anon_send(master_, recv_atom::value, peer, std::move(message), FrameTicket{});
    sched_->run();
  }
  void Call(const std::string& peer, const FrameworkId& id, decltype(SchedulerCall::call) call) {
    Deliver(peer, Message(SchedulerCall{id, std::move(call)}));
  }
  void FromAgent(const std::string& peer, AgentMessage message) {
    Deliver(peer, Message(std::move(message)));
  }

  // Moves the clock on in steps, running what each step makes due.
  void Advance(double seconds, double step = 0.005) {
    for (double done = 0; done < seconds; done += step) {
      sched_->advance_time(
          std::chrono::duration_cast<caf::timespan>(std::chrono::duration<double>(step)));
      sched_->run();
    }
  }

  // Scheduler events of type T sent to `peer` since index `from` of the outbox.
  template <typename T>
  std::vector<T> EventsTo(const std::string& peer, size_t from = 0) {
    std::vector<T> out;
    for (size_t i = from; i < outbox_.sent.size(); ++i) {
      if (outbox_.sent[i].first != peer) continue;
      if (auto* event = std::get_if<SchedulerEvent>(&outbox_.sent[i].second)) {
        if (auto* e = std::get_if<T>(event)) out.push_back(*e);
      }
    }
    return out;
  }
  template <typename T>
  std::vector<T> AgentMessagesTo(const std::string& peer, size_t from = 0) {
    std::vector<T> out;
    for (size_t i = from; i < outbox_.sent.size(); ++i) {
      if (outbox_.sent[i].first != peer) continue;
      if (auto* message = std::get_if<AgentMessage>(&outbox_.sent[i].second)) {
        if (auto* m = std::get_if<T>(message)) out.push_back(*m);
      }
    }
    return out;
  }
  std::vector<TaskStatus> UpdatesTo(const std::string& peer, size_t from = 0) {
    std::vector<TaskStatus> out;
    for (const auto& update : EventsTo<event::Update>(peer, from)) out.push_back(update.status);
    return out;
  }

  FrameworkId Subscribe(const std::string& peer, FrameworkInfo info = {}) {
    if (info.name.empty()) info.name = "test";
    size_t mark = outbox_.sent.size();
    Call(peer, info.id, call::Subscribe{info});
    auto subscribed = EventsTo<event::Subscribed>(peer, mark);
    EXPECT_EQ(subscribed.size(), 1u);
    return subscribed.empty() ? "" : subscribed.back().framework_id;
  }

  void Register(const std::string& peer, const AgentId& id, uint64_t epoch,
                std::vector<Task> tasks = {}) {
    agentmsg::Register reg;
    reg.info.id = id;
    reg.info.hostname = "host-" + id;
    reg.info.resources = *Resources::Parse("cpus:4;mem:4096");
    reg.tasks = std::move(tasks);
    reg.epoch = epoch;
    FromAgent(peer, reg);
  }

  // Lets the batched allocation round run; returns the offers `peer` got.
  std::vector<Offer> OffersTo(const std::string& peer) {
    size_t mark = outbox_.sent.size();
    Advance(0.05);
    std::vector<Offer> out;
    for (const auto& event : EventsTo<event::Offers>(peer, mark)) {
      out.insert(out.end(), event.offers.begin(), event.offers.end());
    }
    return out;
  }

  // What a registry holds for a framework and an agent, and a task an agent
  // reports, for tests that start the master as after a failover.
  static FrameworkInfo KnownFramework(const FrameworkId& id, bool partition_aware = false) {
    FrameworkInfo info;
    info.id = id;
    info.name = id;
    info.roles = {"*"};
    info.failover_timeout_seconds = 60;
    info.partition_aware = partition_aware;
    return info;
  }
  static AgentRecord KnownAgent(const AgentId& id,
                                AgentRecord::State state = AgentRecord::State::kAdmitted) {
    AgentRecord record;
    record.info.id = id;
    record.info.resources = *Resources::Parse("cpus:4;mem:4096");
    record.state = state;
    return record;
  }
  static Task RunningTask(const FrameworkId& framework_id, const TaskId& id,
                          const AgentId& agent_id = "a1") {
    Task task;
    task.framework_id = framework_id;
    task.info.task_id = id;
    task.info.agent_id = agent_id;
    task.info.resources = *Resources::Parse("cpus:1;mem:128");
    task.state = TaskState::kRunning;
    return task;
  }

  static call::Accept Launch(const OfferId& offer_id, const TaskId& task_id) {
    TaskInfo task;
    task.task_id = task_id;
    task.name = task_id;
    task.resources = *Resources::Parse("cpus:1;mem:128");
    task.command.value = "sleep 100";
    Operation operation;
    operation.type = Operation::Type::kLaunch;
    operation.tasks = {task};
    return call::Accept{{offer_id}, {operation}, 0};
  }

  static agentmsg::StatusUpdate Update(const FrameworkId& framework_id, const TaskId& task_id,
                                       TaskState state, const std::string& uuid) {
    TaskStatus status;
    status.task_id = task_id;
    status.state = state;
    status.source = Source::kExecutor;
    status.uuid = uuid;
    return agentmsg::StatusUpdate{framework_id, status};
  }

  caf::actor_system_config config_;
  caf::actor_system system_;
  caf::scheduler::test_coordinator* sched_;
  stoa::testing::TempDir dir_;
  MasterOptions options_;
  RecordingOutbox outbox_;
  caf::actor registrar_;
  caf::actor master_;
};

// (a) An update about an old task from the agent it ran on, after its id was
// reused on another agent, must not end the new task.
TEST_F(MasterActorTest, UpdateFromTheWrongAgentAfterTaskIdReuseIsDropped) {
  Start();
  FrameworkId framework = Subscribe("sched");
  Register("agent-1", "a1", 1);
  Register("agent-2", "a2", 1);
  std::vector<Offer> offers = OffersTo("sched");
  ASSERT_EQ(offers.size(), 2u);
  const Offer& on_a1 = offers[0].agent_id == "a1" ? offers[0] : offers[1];
  const Offer& on_a2 = offers[0].agent_id == "a1" ? offers[1] : offers[0];

  Call("sched", framework, Launch(on_a1.id, "t1"));
  ASSERT_EQ(AgentMessagesTo<agentmsg::RunTask>("agent-1").size(), 1u);
  // t1 fails on a1 and is acknowledged: the id is free again.
  FromAgent("agent-1", Update(framework, "t1", TaskState::kFailed, "u1"));
  Call("sched", framework, call::Acknowledge{"a1", "t1", "u1"});
  Call("sched", framework, Launch(on_a2.id, "t1"));
  ASSERT_EQ(AgentMessagesTo<agentmsg::RunTask>("agent-2").size(), 1u);

  size_t mark = outbox_.sent.size();
  // A late update from a1 about its old t1 (e.g. the executor's retry).
  FromAgent("agent-1", Update(framework, "t1", TaskState::kKilled, "u-old"));
  EXPECT_TRUE(UpdatesTo("sched", mark).empty()) << "not forwarded as news of the new t1";
  auto acks = AgentMessagesTo<agentmsg::StatusUpdateAck>("agent-1", mark);
  ASSERT_EQ(acks.size(), 1u) << "acknowledged so that a1 stops retrying";
  EXPECT_EQ(acks[0].uuid, "u-old");

  // The new t1 is still live on a2: its RUNNING goes through.
  FromAgent("agent-2", Update(framework, "t1", TaskState::kRunning, "u2"));
  auto updates = UpdatesTo("sched", mark);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].state, TaskState::kRunning);
}

// Health and check results reach the framework as the executor sent them,
// and a reconciliation answer carries the latest health (as Mesos's does).
TEST_F(MasterActorTest, HealthReachesTheFrameworkAndReconciliationAnswersWithTheLatest) {
  Start();
  FrameworkId framework = Subscribe("sched");
  Register("agent-1", "a1", 1);
  std::vector<Offer> offers = OffersTo("sched");
  ASSERT_EQ(offers.size(), 1u);
  Call("sched", framework, Launch(offers[0].id, "t1"));
  FromAgent("agent-1", Update(framework, "t1", TaskState::kRunning, "u1"));
  size_t mark = outbox_.sent.size();
  agentmsg::StatusUpdate healthy = Update(framework, "t1", TaskState::kRunning, "u2");
  healthy.status.reason = Reason::kTaskHealthCheckStatusUpdated;
  healthy.status.healthy = true;
  healthy.status.check_status = CheckStatus{CheckType::kHttp, 200, std::nullopt, std::nullopt};
  FromAgent("agent-1", healthy);
  agentmsg::StatusUpdate unhealthy = healthy;
  unhealthy.status.uuid = "u3";
  unhealthy.status.healthy = false;
  unhealthy.status.message = "HTTP 500";
  FromAgent("agent-1", unhealthy);
  auto updates = UpdatesTo("sched", mark);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].healthy, std::optional<bool>(true));
  EXPECT_EQ(updates[0].reason, Reason::kTaskHealthCheckStatusUpdated);
  EXPECT_EQ(updates[0].check_status, healthy.status.check_status);
  EXPECT_EQ(updates[1].healthy, std::optional<bool>(false));

  mark = outbox_.sent.size();
  Call("sched", framework, call::Reconcile{{{"t1", "a1"}}});
  Call("sched", framework, call::Reconcile{});
  updates = UpdatesTo("sched", mark);
  ASSERT_EQ(updates.size(), 2u);
  for (const TaskStatus& answer : updates) {
    EXPECT_EQ(answer.state, TaskState::kRunning);
    EXPECT_EQ(answer.reason, Reason::kReconciliation);
    EXPECT_EQ(answer.healthy, std::optional<bool>(false));
    EXPECT_EQ(answer.check_status, healthy.status.check_status);
    EXPECT_TRUE(answer.uuid.empty());
  }
}

// (b) A retried Register (same epoch) that arrives after a launch carries a
// snapshot without the task: it must not drop the task.
TEST_F(MasterActorTest, RetriedRegisterAfterALaunchEndsNoTask) {
  Start();
  FrameworkId framework = Subscribe("sched");
  Register("agent-1", "a1", 7);
  ASSERT_EQ(AgentMessagesTo<agentmsg::Registered>("agent-1").size(), 1u);
  std::vector<Offer> offers = OffersTo("sched");
  ASSERT_EQ(offers.size(), 1u);
  Call("sched", framework, Launch(offers[0].id, "t1"));
  ASSERT_EQ(AgentMessagesTo<agentmsg::RunTask>("agent-1").size(), 1u);

  size_t mark = outbox_.sent.size();
  Register("agent-1", "a1", 7);  // the retry, sent before the agent saw Registered
  auto registered = AgentMessagesTo<agentmsg::Registered>("agent-1", mark);
  ASSERT_EQ(registered.size(), 1u) << "answered again";
  EXPECT_EQ(registered[0].epoch, 7u);
  EXPECT_TRUE(UpdatesTo("sched", mark).empty()) << "t1 must not be DROPPED or LOST";

  // The task is still booked on the agent: its RUNNING goes through.
  FromAgent("agent-1", Update(framework, "t1", TaskState::kRunning, "u1"));
  auto updates = UpdatesTo("sched", mark);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].state, TaskState::kRunning);

  // A new registration cycle (a higher epoch) without the task does end it.
  mark = outbox_.sent.size();
  Register("agent-1", "a1", 8);
  updates = UpdatesTo("sched", mark);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].state, TaskState::kLost);
}

// (c) A scheduler replaced by another one for the same framework hears a
// terminal error; the new one keeps the framework.
TEST_F(MasterActorTest, SupersededSchedulerGetsATerminalErrorAndTheNewOneKeepsTheFramework) {
  Start();
  FrameworkInfo info;
  info.failover_timeout_seconds = 60;
  FrameworkId framework = Subscribe("sched-old", info);
  info.id = framework;
  size_t mark = outbox_.sent.size();
  EXPECT_EQ(Subscribe("sched-new", info), framework);

  auto errors = EventsTo<event::Error>("sched-old", mark);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].terminal) << "the old scheduler must stop, not resubscribe";

  // Calls from the old connection are refused (without ending anything), and
  // the new one is the framework's.
  mark = outbox_.sent.size();
  Call("sched-old", framework, call::Kill{"nope", ""});
  errors = EventsTo<event::Error>("sched-old", mark);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_FALSE(errors[0].terminal);
  Call("sched-new", framework, call::Kill{"nope", ""});
  EXPECT_EQ(UpdatesTo("sched-new", mark).size(), 1u);
  EXPECT_TRUE(EventsTo<event::Error>("sched-new", mark).empty());
}

// (d) A decline with refuse 0 is not offered again by the rounds that
// changes trigger, only by the next periodic round.
TEST_F(MasterActorTest, DeclineWithRefuseZeroIsNotReofferedBeforeThePeriodicRound) {
  Start();
  FrameworkId framework = Subscribe("sched");
  Register("agent-1", "a1", 1);
  std::vector<Offer> offers = OffersTo("sched");
  ASSERT_EQ(offers.size(), 1u);

  size_t mark = outbox_.sent.size();
  Call("sched", framework, call::Decline{{offers[0].id}, 0});
  Advance(options_.allocation_interval / 2);
  EXPECT_TRUE(EventsTo<event::Offers>("sched", mark).empty())
      << "re-offered at once: a decline loop";
  Advance(options_.allocation_interval / 2 + 0.1);
  EXPECT_FALSE(EventsTo<event::Offers>("sched", mark).empty()) << "the periodic round offers it";
}

// (e) A framework recovered from the registry with failover_timeout 0 waits
// for its scheduler through the agents' reregistration window plus its
// timeout; only then is it torn down.
TEST_F(MasterActorTest, RecoveredFrameworkWaitsForTheReregistrationWindowPlusItsTimeout) {
  Registry registry;
  for (const char* id : {"f1", "f2"}) {
    FrameworkInfo info;
    info.id = id;
    info.name = id;
    info.roles = {"*"};
    info.failover_timeout_seconds = 0;
    registry.frameworks[id] = info;
  }
  AgentRecord agent;
  agent.info.id = "a1";
  agent.info.resources = *Resources::Parse("cpus:1;mem:128");
  registry.agents["a1"] = agent;
  Start(registry);

  Advance(options_.agent_reregister_timeout - 1, 0.5);
  FrameworkInfo f1;
  f1.id = "f1";
  EXPECT_EQ(Subscribe("sched-1", f1), "f1") << "torn down before its scheduler could come back";
  EXPECT_TRUE(EventsTo<event::Error>("sched-1").empty());

  Advance(2, 0.5);
  FrameworkInfo f2;
  f2.id = "f2";
  Call("sched-2", "f2", call::Subscribe{f2});
  auto errors = EventsTo<event::Error>("sched-2");
  ASSERT_EQ(errors.size(), 1u) << "f2's scheduler never came: window + 0 s have passed";
  EXPECT_TRUE(errors[0].terminal);
}

// After a failover, what the old leader owed an agent that was unreachable
// is known only from the registry: tasks of frameworks that are not
// partition-aware were reported LOST and must not come back; a
// partition-aware framework hears that its task is back.
TEST_F(MasterActorTest, AnAgentUnreachableBeforeAFailoverComesBackWithoutItsLostTasks) {
  Registry registry;
  registry.frameworks["plain"] = KnownFramework("plain");
  registry.frameworks["aware"] = KnownFramework("aware", /*partition_aware=*/true);
  registry.agents["a1"] = KnownAgent("a1", AgentRecord::State::kUnreachable);
  Start(registry);
  Subscribe("sched-plain", registry.frameworks["plain"]);
  Subscribe("sched-aware", registry.frameworks["aware"]);

  size_t mark = outbox_.sent.size();
  Register("agent-1", "a1", 7, {RunningTask("plain", "lost-1"), RunningTask("aware", "back-1")});
  auto kills = AgentMessagesTo<agentmsg::KillTask>("agent-1", mark);
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].task_id, "lost-1");
  EXPECT_TRUE(UpdatesTo("sched-plain", mark).empty());
  auto back = UpdatesTo("sched-aware", mark);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].task_id, "back-1");
  EXPECT_EQ(back[0].reason, Reason::kAgentReregistered);
}

// A group executor's own resources stay charged when its agent reregisters
// with the master (after a failover): what is offered leaves them out.
TEST_F(MasterActorTest, AReregisteredGroupExecutorKeepsItsResourcesCharged) {
  Registry registry;
  FrameworkInfo info = KnownFramework("fw");
  AgentRecord record = KnownAgent("a1");
  registry.frameworks["fw"] = info;
  registry.agents["a1"] = record;
  Start(registry);
  Subscribe("sched", info);

  Task task = RunningTask("fw", "t1");
  task.executor_id = "ex1";
  agentmsg::Register reg;
  reg.info = record.info;
  reg.info.hostname = "host-a1";
  reg.tasks = {task};
  reg.frameworks = {info};
  reg.epoch = 5;
  ExecutorInfo executor;
  executor.executor_id = "ex1";
  executor.framework_id = "fw";
  executor.group = true;
  executor.resources = *Resources::Parse("cpus:0.5;mem:1024");
  reg.executors = {executor};
  FromAgent("agent-1", reg);
  std::vector<Offer> offers = OffersTo("sched");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, *Resources::Parse("cpus:2.5;mem:2944"));
}

// A kill asked for during the reregistration window, of a task on an agent
// that has not come back yet, is not answered LOST (the task may well run):
// it is delivered when the agent reregisters with the task.
TEST_F(MasterActorTest, AKillDuringTheReregistrationWindowWaitsForTheAgent) {
  Registry registry;
  registry.frameworks["fw"] = KnownFramework("fw");
  registry.agents["a1"] = KnownAgent("a1");
  Start(registry);
  Subscribe("sched", registry.frameworks["fw"]);

  size_t mark = outbox_.sent.size();
  Call("sched", "fw", call::Kill{"t1", "a1"});
  EXPECT_TRUE(UpdatesTo("sched", mark).empty()) << "no LOST for a task that may still run";
  Register("agent-1", "a1", 3, {RunningTask("fw", "t1")});
  auto kills = AgentMessagesTo<agentmsg::KillTask>("agent-1", mark);
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].task_id, "t1");
}

// A multi-role framework's task reported after a failover stays charged to
// the role it was launched in (the agent keeps it), so DRF between the roles
// stays right: the role that holds nothing is offered first.
TEST_F(MasterActorTest, AReportedTaskStaysChargedToItsAllocationRole) {
  Registry registry;
  FrameworkInfo info = KnownFramework("fw");
  info.roles = {"web", "batch"};
  registry.frameworks["fw"] = info;
  registry.agents["a1"] = KnownAgent("a1");
  Start(registry);
  Subscribe("sched", info);

  Task task = RunningTask("fw", "t1");
  task.info.resources = *Resources::Parse("cpus:3;mem:128");
  task.role = "batch";
  Register("agent-1", "a1", 3, {task});
  std::vector<Offer> offers = OffersTo("sched");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].role, "web");

  // What is launched from it runs, and is reported back, in that role.
  size_t mark = outbox_.sent.size();
  Call("sched", "fw", Launch(offers[0].id, "t2"));
  auto runs = AgentMessagesTo<agentmsg::RunTask>("agent-1", mark);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].role, "web");
}

// Two /state asks that arrive together (as from two dashboards) cost one copy
// of the books: both get the same snapshot. A later ask gets a fresh one.
TEST_F(MasterActorTest, StateAsksThatArriveTogetherShareOneSnapshot) {
  Start();
  Subscribe("sched");
  caf::scoped_actor client{system_};
  auto first = client->request(master_, caf::infinite, state_atom::value);
  auto second = client->request(master_, caf::infinite, state_atom::value);
  sched_->run();
  SnapshotPtr a, b;
  first.receive([&](const SnapshotPtr& s) { a = s; },
                [](caf::error& e) { FAIL() << caf::to_string(e); });
  second.receive([&](const SnapshotPtr& s) { b = s; },
                 [](caf::error& e) { FAIL() << caf::to_string(e); });
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b) << "two copies for two asks that arrived together";
  EXPECT_EQ(a->counters.snapshots, 1u);
  ASSERT_EQ(a->frameworks.size(), 1u);

  auto third = client->request(master_, caf::infinite, metrics_atom::value);
  sched_->run();
  SnapshotPtr c;
  third.receive([&](const SnapshotPtr& s) { c = s; },
                [](caf::error& e) { FAIL() << caf::to_string(e); });
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c, a) << "an ask after the batch was served must not get the old copy";
  EXPECT_EQ(c->counters.snapshots, 2u);
}

}  // namespace
}  // namespace stoa::master

// The master's books without actors: every transition of frameworks, agents,
// offers and tasks, and the ACCEPT plan.
#include <gtest/gtest.h>

#include <cmath>

#include "master/accept.hpp"
#include "master/agent_book.hpp"
#include "master/framework_book.hpp"
#include "master/offer_book.hpp"
#include "master/tasks.hpp"

namespace stoa::master {
namespace {

Resources R(const std::string& text) { return *Resources::Parse(text); }

FrameworkInfo Info(const std::string& id) {
  FrameworkInfo info;
  info.id = id;
  info.name = "test";
  return info;
}

AgentInfo AgentOf(const std::string& id, const std::string& resources = "cpus:4;mem:4096") {
  AgentInfo info;
  info.id = id;
  info.hostname = "host-" + id;
  info.resources = R(resources);
  return info;
}

TaskInfo TaskOf(const std::string& id, const std::string& resources = "cpus:1;mem:128") {
  TaskInfo info;
  info.task_id = id;
  info.resources = R(resources);
  info.command.value = "true";
  return info;
}

TaskStatus StatusOf(TaskState state, const std::string& uuid = "") {
  TaskStatus status;
  status.state = state;
  status.uuid = uuid;
  return status;
}

// ---- frameworks ----

TEST(FrameworkBookTest, TransitionTable) {
  using S = FrameworkState;
  EXPECT_TRUE(IsValidFrameworkTransition(S::kRecovered, S::kConnected));
  EXPECT_TRUE(IsValidFrameworkTransition(S::kRecovered, S::kRemoved));
  EXPECT_FALSE(IsValidFrameworkTransition(S::kRecovered, S::kDisconnected));
  EXPECT_TRUE(IsValidFrameworkTransition(S::kConnected, S::kConnected));
  EXPECT_TRUE(IsValidFrameworkTransition(S::kConnected, S::kDisconnected));
  EXPECT_TRUE(IsValidFrameworkTransition(S::kConnected, S::kRemoved));
  EXPECT_TRUE(IsValidFrameworkTransition(S::kDisconnected, S::kConnected));
  EXPECT_TRUE(IsValidFrameworkTransition(S::kDisconnected, S::kRemoved));
  EXPECT_FALSE(IsValidFrameworkTransition(S::kDisconnected, S::kDisconnected));
  for (S to : {S::kConnected, S::kDisconnected, S::kRecovered, S::kRemoved}) {
    EXPECT_FALSE(IsValidFrameworkTransition(S::kRemoved, to));
    EXPECT_EQ(IsValidFrameworkTransition(to, S::kRecovered), false) << "only where one starts";
  }
}

TEST(FrameworkBookTest, ConnectDisconnectReconnectKeepsThePeerIndexRight) {
  FrameworkBook book(10, 10);
  Framework& framework = book.AddConnected(Info("f1"), "peer-a", 1, 100);
  EXPECT_EQ(framework.state, FrameworkState::kConnected);
  EXPECT_EQ(book.FindByPeer("peer-a"), &framework);
  uint64_t generation = framework.failover_generation;

  ASSERT_TRUE(book.Disconnect(framework, 200).ok());
  EXPECT_EQ(framework.state, FrameworkState::kDisconnected);
  EXPECT_EQ(framework.disconnected_time, 200);
  EXPECT_EQ(book.FindByPeer("peer-a"), nullptr);
  EXPECT_FALSE(book.Disconnect(framework, 300).ok()) << "only a connected framework disconnects";

  ASSERT_TRUE(book.Connect(framework, Info("f1"), "peer-b", 5).ok());
  EXPECT_TRUE(framework.connected());
  EXPECT_GT(framework.failover_generation, generation) << "a pending failover timer is stale";
  EXPECT_EQ(book.FindByPeer("peer-b"), &framework);

  // A second scheduler takes over: the first peer no longer names the framework.
  ASSERT_TRUE(book.Connect(framework, Info("f1"), "peer-c", 6).ok());
  EXPECT_EQ(book.FindByPeer("peer-b"), nullptr);
  EXPECT_EQ(book.FindByPeer("peer-c"), &framework);
  EXPECT_EQ(framework.last_seen, 6);
}

TEST(FrameworkBookTest, RecoveredWaitsAndRemovedNeverComesBack) {
  FrameworkBook book(2, 10);
  Framework& recovered = book.AddRecovered(Info("f1"), 100);
  EXPECT_EQ(recovered.state, FrameworkState::kRecovered);
  EXPECT_FALSE(recovered.connected());
  EXPECT_EQ(recovered.info.roles, std::vector<std::string>{"*"});
  EXPECT_FALSE(book.Disconnect(recovered, 1).ok());

  EXPECT_TRUE(book.Remove("f1"));
  EXPECT_FALSE(book.Remove("f1"));
  EXPECT_TRUE(book.WasRemoved("f1"));
  EXPECT_EQ(book.Find("f1"), nullptr);
  ASSERT_EQ(book.completed().size(), 1u);
  EXPECT_EQ(book.completed().front().state, FrameworkState::kRemoved);

  // The completed history is bounded.
  for (const char* id : {"f2", "f3", "f4"}) {
    book.AddConnected(Info(id), std::string("peer-") + id, 0, 0);
    book.Remove(id);
  }
  EXPECT_EQ(book.completed().size(), 2u);
  EXPECT_EQ(book.completed().front().info.id, "f3");
  EXPECT_EQ(book.FindByPeer("peer-f4"), nullptr);
}

TEST(FrameworkBookTest, CompletedTasksAreBoundedAndIndexed) {
  CompletedTasks completed(3);
  for (int i = 0; i < 5; ++i) {
    Task task;
    task.info.task_id = "t" + std::to_string(i % 4);  // t0 appears twice
    task.info.name = "run" + std::to_string(i);
    completed.Add(task);
  }
  EXPECT_EQ(completed.size(), 3u);  // run2, run3, run4
  ASSERT_NE(completed.Find("t0"), nullptr);
  EXPECT_EQ(completed.Find("t0")->info.name, "run4") << "the latest with the id";
  EXPECT_EQ(completed.Find("t1"), nullptr) << "dropped with the oldest";
  EXPECT_EQ(completed.Find("t2")->info.name, "run2");
  EXPECT_EQ(completed.Find("t9"), nullptr);
}

// ---- agents ----

TEST(AgentBookTest, TransitionTable) {
  using S = AgentState;
  EXPECT_TRUE(IsValidAgentTransition(S::kReachable, S::kUnreachable));
  EXPECT_TRUE(IsValidAgentTransition(S::kReachable, S::kReachable));  // reregistration
  EXPECT_TRUE(IsValidAgentTransition(S::kUnreachable, S::kReachable));
  EXPECT_FALSE(IsValidAgentTransition(S::kUnreachable, S::kUnreachable));
  EXPECT_TRUE(IsValidAgentTransition(S::kReachable, S::kGone));
  EXPECT_TRUE(IsValidAgentTransition(S::kUnreachable, S::kGone));
  for (S to : {S::kReachable, S::kUnreachable, S::kGone}) {
    EXPECT_FALSE(IsValidAgentTransition(S::kGone, to));
  }
}

TEST(AgentBookTest, RegistrationsAreClassifiedByEpoch) {
  AgentBook book;
  EXPECT_EQ(book.Classify("a1", 5), Registration::kNew);
  Agent& agent = book.Add(AgentOf("a1"), "peer-1", 5, 0);
  EXPECT_EQ(book.FindByPeer("peer-1"), &agent);
  // A retried Register (same epoch) or a delayed older one ends no task.
  EXPECT_EQ(book.Classify("a1", 5), Registration::kRetry);
  EXPECT_EQ(book.Classify("a1", 4), Registration::kRetry);
  EXPECT_EQ(book.Classify("a1", 6), Registration::kNewCycle);
  EXPECT_EQ(book.Classify("a1", 0), Registration::kNewCycle) << "an agent without epochs";

  ASSERT_TRUE(book.MarkUnreachable(agent).ok());
  EXPECT_FALSE(agent.reachable());
  EXPECT_EQ(book.FindByPeer("peer-1"), nullptr) << "an unreachable agent is not addressed";
  EXPECT_FALSE(book.MarkUnreachable(agent).ok());
  EXPECT_EQ(book.Classify("a1", 5), Registration::kReturning) << "even with an old epoch";

  book.SetPeer(agent, "peer-2");
  EXPECT_EQ(book.FindByPeer("peer-2"), &agent);
  book.Erase("a1");
  EXPECT_EQ(book.Find("a1"), nullptr);
  EXPECT_EQ(book.FindByPeer("peer-2"), nullptr);
}

TEST(AgentBookTest, GoneRecoveredAndDebts) {
  AgentBook book;
  book.AddRecovered("a1");
  book.AddRecovered("a2");
  EXPECT_TRUE(book.IsRecovered("a1"));
  EXPECT_TRUE(book.TakeRecovered("a1"));
  EXPECT_FALSE(book.TakeRecovered("a1"));

  book.Add(AgentOf("a2"), "peer-2", 1, 0);
  ASSERT_TRUE(book.MarkGone("a2").ok());
  EXPECT_TRUE(book.IsGone("a2"));
  EXPECT_FALSE(book.IsRecovered("a2"));
  EXPECT_EQ(book.Find("a2"), nullptr);
  EXPECT_EQ(book.FindByPeer("peer-2"), nullptr);
  EXPECT_FALSE(book.MarkGone("a2").ok());

  book.DebtsOf("a3").ended.insert({"f1", "t1"});
  book.DebtsOf("a3").kills.insert({"f1", "t2"});
  AgentDebts debts = book.TakeDebts("a3");
  EXPECT_EQ(debts.ended.size(), 1u);
  EXPECT_EQ(debts.kills.size(), 1u);
  EXPECT_EQ(book.FindDebts("a3"), nullptr) << "handed over once";
  EXPECT_TRUE(book.TakeDebts("a3").kills.empty());
}

// ---- offers ----

TEST(OfferBookTest, IndexesAndTheOfferedSumFollowAddAndTake) {
  OfferBook book;
  Offer o1{"o1", "f1", "a1", "h", R("cpus:1;mem:100"), "", "*", {}};
  Offer o2{"o2", "f1", "a1", "h", R("cpus:2"), "", "*", {}};
  Offer o3{"o3", "f2", "a2", "h", R("mem:50"), "", "*", {}};
  book.Add(o1, 0);
  book.Add(o2, 0);
  book.Add(o3, 0);
  EXPECT_EQ(book.size(), 3u);
  EXPECT_TRUE(book.IsOutstandingFor("f1", "o1"));
  EXPECT_FALSE(book.IsOutstandingFor("f2", "o1"));
  EXPECT_EQ(book.CountOfFramework("f1"), 2u);
  EXPECT_EQ(book.OnAgent("a1").size(), 2u);
  EXPECT_EQ(book.Offered("a1"), R("cpus:3;mem:100"));

  ASSERT_TRUE(book.Take("o1").has_value());
  EXPECT_FALSE(book.Take("o1").has_value()) << "taken once";
  EXPECT_FALSE(book.IsOutstandingFor("f1", "o1"));
  EXPECT_EQ(book.Offered("a1").Get("cpus"), 2);
  EXPECT_EQ(book.Offered("a1").Get("mem"), 0);
  EXPECT_EQ(book.OfFramework("f1"), std::vector<OfferId>{"o2"});
  book.Take("o2");
  EXPECT_TRUE(book.Offered("a1").empty() || book.Offered("a1").Get("cpus") == 0);
  EXPECT_EQ(book.CountOfFramework("f1"), 0u);
  EXPECT_EQ(book.Find("o3")->offer.agent_id, "a2");
}

// ---- tasks ----

class TaskBooksTest : public ::testing::Test {
 protected:
  TaskBooksTest() : frameworks_(10, 10) {
    framework_ = &frameworks_.AddConnected(Info("f1"), "peer-f", 0, 0);
    agent_ = &agents_.Add(AgentOf("a1"), "peer-a", 1, 0);
  }
  Task& Launch(const std::string& id, const std::string& resources = "cpus:1;mem:128") {
    ExecutorInfo executor;
    executor.executor_id = id + ".executor";
    BookLaunch(*framework_, *agent_, executor, TaskOf(id, resources), "*");
    Task& task = framework_->tasks.at(id);
    task.info.agent_id = agent_->info.id;
    return task;
  }

  FrameworkBook frameworks_;
  AgentBook agents_;
  Framework* framework_;
  Agent* agent_;
};

TEST_F(TaskBooksTest, TerminalUpdateMovesResourcesExactlyOnce) {
  Task& task = Launch("t1");
  EXPECT_EQ(agent_->used, R("cpus:1;mem:128"));
  EXPECT_EQ(agent_->tasks.count({"f1", "t1"}), 1u);

  auto running = Transition(task, agent_, StatusOf(TaskState::kRunning));
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->has_value()) << "nothing freed";

  auto finished = Transition(task, agent_, StatusOf(TaskState::kFinished));
  ASSERT_TRUE(finished.ok());
  ASSERT_TRUE(finished->has_value());
  EXPECT_EQ((*finished)->resources, R("cpus:1;mem:128"));
  EXPECT_EQ((*finished)->framework_id, "f1");
  EXPECT_EQ((*finished)->agent_id, "a1");
  EXPECT_EQ((*finished)->role, "*");
  EXPECT_EQ(agent_->used.Get("cpus"), 0);

  // The same terminal update again is refused and frees nothing more.
  auto again = Transition(task, agent_, StatusOf(TaskState::kFinished));
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(agent_->used.Get("cpus"), 0);
  EXPECT_EQ(task.statuses.size(), 2u);
}

// Health updates (RUNNING after RUNNING) replace each other, as in Mesos's
// master: the latest, with its health, is what reconciliation answers with.
TEST_F(TaskBooksTest, RepeatedStatesKeepTheLatestStatusOnly) {
  Task& task = Launch("t1");
  ASSERT_TRUE(Transition(task, agent_, StatusOf(TaskState::kRunning)).ok());
  for (bool healthy : {true, false, true}) {
    TaskStatus status = StatusOf(TaskState::kRunning);
    status.healthy = healthy;
    status.reason = Reason::kTaskHealthCheckStatusUpdated;
    ASSERT_TRUE(Transition(task, agent_, status).ok());
  }
  ASSERT_EQ(task.statuses.size(), 1u);
  EXPECT_EQ(task.statuses.back().healthy, std::optional<bool>(true));
  ASSERT_TRUE(Transition(task, agent_, StatusOf(TaskState::kKilling)).ok());
  EXPECT_EQ(task.statuses.size(), 2u);
  EXPECT_EQ(task.statuses.front().healthy, std::optional<bool>(true));
}

TEST_F(TaskBooksTest, TerminalToRunningIsRefused) {
  Task& task = Launch("t1");
  ASSERT_TRUE(Transition(task, agent_, StatusOf(TaskState::kFailed)).ok());
  auto back = Transition(task, agent_, StatusOf(TaskState::kRunning));
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().find("TASK_FAILED"), std::string::npos) << back.error();
  EXPECT_EQ(task.state, TaskState::kFailed);
  EXPECT_FALSE(Transition(task, agent_, StatusOf(TaskState::kStaging)).ok());
}

TEST_F(TaskBooksTest, UnreachableThenLostDoesNotDoubleFree) {
  Task& task = Launch("t1");
  Launch("t2");
  ASSERT_TRUE(Transition(task, agent_, StatusOf(TaskState::kRunning)).ok());
  ASSERT_TRUE(agents_.MarkUnreachable(*agent_).ok());

  auto unreachable = Transition(task, agent_, StatusOf(TaskState::kUnreachable));
  ASSERT_TRUE(unreachable.ok());
  EXPECT_FALSE(unreachable->has_value()) << "the allocator has already dropped the agent";
  EXPECT_EQ(agent_->used, R("cpus:1;mem:128")) << "t1 freed on the agent, t2 still holds";

  auto lost = Transition(task, agent_, StatusOf(TaskState::kLost));
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->has_value());
  EXPECT_EQ(agent_->used, R("cpus:1;mem:128")) << "UNREACHABLE -> LOST frees nothing again";
}

TEST_F(TaskBooksTest, UnreachableTaskFoundAgainHoldsAgainAndIsFreedOnce) {
  Task& task = Launch("t1");
  ASSERT_TRUE(Transition(task, agent_, StatusOf(TaskState::kUnreachable)).ok());
  EXPECT_EQ(agent_->used.Get("cpus"), 0);
  ASSERT_TRUE(Transition(task, agent_, StatusOf(TaskState::kRunning)).ok());
  EXPECT_EQ(agent_->used.Get("cpus"), 1);
  auto killed = Transition(task, agent_, StatusOf(TaskState::kKilled));
  ASSERT_TRUE(killed.ok() && killed->has_value());
  EXPECT_EQ((*killed)->resources.Get("cpus"), 1);
  EXPECT_EQ(agent_->used.Get("cpus"), 0) << "never below zero";
}

TEST_F(TaskBooksTest, GroupExecutorChargeGoesWithTheLastTask) {
  ExecutorInfo executor;
  executor.executor_id = "group";
  ChargeExecutor(*agent_, "f1", "group", R("cpus:0.5;mem:32"), 2, "*");
  BookLaunch(*framework_, *agent_, executor, TaskOf("t1"), "*");
  BookLaunch(*framework_, *agent_, executor, TaskOf("t2"), "*");
  // A later launch on the same executor is not charged again.
  ChargeExecutor(*agent_, "f1", "group", R("cpus:0.5;mem:32"), 1, "*");
  BookLaunch(*framework_, *agent_, executor, TaskOf("t3"), "*");
  EXPECT_EQ(agent_->used, R("cpus:3.5;mem:416"));

  auto first = Transition(framework_->tasks.at("t1"), agent_, StatusOf(TaskState::kFinished));
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->resources, R("cpus:1;mem:128"));
  auto second = Transition(framework_->tasks.at("t2"), agent_, StatusOf(TaskState::kFailed));
  EXPECT_EQ((*second)->resources, R("cpus:1;mem:128"));
  EXPECT_EQ(agent_->executors.size(), 1u);
  auto last = Transition(framework_->tasks.at("t3"), agent_, StatusOf(TaskState::kKilled));
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->resources, R("cpus:1.5;mem:160")) << "task and executor together";
  EXPECT_TRUE(agent_->executors.empty());
  EXPECT_EQ(agent_->used.Get("cpus"), 0);
  EXPECT_EQ(agent_->used.Get("mem"), 0);
}

TEST_F(TaskBooksTest, UpdateFromAnotherAgentIsRefused) {
  Task& task = Launch("t1");
  EXPECT_TRUE(ReportedByItsAgent(task, "a1"));
  EXPECT_FALSE(ReportedByItsAgent(task, "a2")) << "an old task with a reused id on another agent";
}

TEST_F(TaskBooksTest, CompleteTaskMovesItOffTheAgentIntoTheHistory) {
  Launch("t1");
  ASSERT_TRUE(Transition(framework_->tasks.at("t1"), agent_, StatusOf(TaskState::kFinished)).ok());
  CompleteTask(frameworks_, *framework_, framework_->tasks.find("t1"), agent_);
  EXPECT_EQ(framework_->FindTask("t1"), nullptr);
  EXPECT_EQ(agent_->tasks.count({"f1", "t1"}), 0u);
  ASSERT_NE(framework_->completed_tasks.Find("t1"), nullptr);
}

TEST_F(TaskBooksTest, DebtsAreReplayedOnReturn) {
  Task reported;
  reported.framework_id = "f1";
  reported.info = TaskOf("t1");
  reported.state = TaskState::kRunning;
  AgentDebts debts;
  EXPECT_EQ(JudgeReportedTask(*framework_, "a1", reported, debts), ReportedTask::kAdopt);

  // Ended by the master (LOST) while the agent was away: killed, not adopted.
  debts.ended.insert({"f1", "t1"});
  EXPECT_EQ(JudgeReportedTask(*framework_, "a1", reported, debts), ReportedTask::kKill);
  reported.state = TaskState::kFinished;
  EXPECT_EQ(JudgeReportedTask(*framework_, "a1", reported, debts), ReportedTask::kIgnore);

  // A kill asked for while it was away: delivered, and the task stays booked.
  debts = {};
  debts.kills.insert({"f1", "t1"});
  reported.state = TaskState::kRunning;
  EXPECT_EQ(JudgeReportedTask(*framework_, "a1", reported, debts), ReportedTask::kAdoptAndKill);

  // The id now runs on another agent: the old one is killed.
  Task& relaunched = Launch("t1");
  relaunched.info.agent_id = "a2";
  EXPECT_EQ(JudgeReportedTask(*framework_, "a1", reported, AgentDebts{}), ReportedTask::kKill);
}

// ---- ACCEPT plans ----

class AcceptPlanTest : public TaskBooksTest {
 protected:
  AcceptPlanTest() {
    offers_.Add(Offer{"o1", "f1", "a1", "h", R("cpus:4;mem:4096"), "", "*", {}}, 0);
  }
  AcceptPlan Plan(const call::Accept& accept) {
    int n = 0;
    return PlanAccept(
        *framework_, accept, offers_, agents_,
        [&n](const std::string& prefix) { return prefix + std::to_string(n++); }, 0);
  }
  static Operation LaunchOf(std::vector<TaskInfo> tasks) {
    Operation operation;
    operation.type = Operation::Type::kLaunch;
    operation.tasks = std::move(tasks);
    return operation;
  }
  OfferBook offers_;
};

TEST_F(AcceptPlanTest, LaunchesWhatFitsAndLeavesTheRest) {
  call::Accept accept{{"o1"}, {LaunchOf({TaskOf("t1"), TaskOf("t2", "cpus:10")})}, 5};
  AcceptPlan plan = Plan(accept);
  ASSERT_TRUE(plan.offers_valid);
  EXPECT_EQ(plan.agent_id, "a1");
  ASSERT_EQ(plan.launches.size(), 1u);
  EXPECT_EQ(plan.launches[0].tasks[0].task_id, "t1");
  EXPECT_EQ(plan.launches[0].tasks[0].agent_id, "a1");
  EXPECT_NE(plan.launches[0].executor.executor_id, "t1") << "its own executor id";
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_EQ(std::get<event::Update>(plan.events[0]).status.state, TaskState::kError);
  EXPECT_EQ(plan.leftover, R("cpus:3;mem:3968"));
  EXPECT_TRUE(offers_.IsOutstandingFor("f1", "o1")) << "planning changes nothing";
}

TEST_F(AcceptPlanTest, TaskIdsInUseAndRepeatedInOneAcceptAreRefused) {
  Launch("t0");
  call::Accept accept{{"o1"}, {LaunchOf({TaskOf("t0"), TaskOf("t1")}), LaunchOf({TaskOf("t1")})}};
  AcceptPlan plan = Plan(accept);
  ASSERT_EQ(plan.launches.size(), 1u);
  EXPECT_EQ(plan.launches[0].tasks[0].task_id, "t1");
  EXPECT_EQ(plan.events.size(), 2u);
}

TEST_F(AcceptPlanTest, GroupExecutorResourcesAreValidatedAndChargedOnce) {
  Operation group;
  group.type = Operation::Type::kLaunchGroup;
  group.executor.executor_id = "e1";
  group.executor.resources = R("cpus:1;mem:64");
  group.tasks = {TaskOf("t1"), TaskOf("t2")};
  Operation more = group;
  more.tasks = {TaskOf("t3")};
  AcceptPlan plan = Plan(call::Accept{{"o1"}, {group, more}});
  ASSERT_EQ(plan.launches.size(), 2u);
  EXPECT_TRUE(plan.launches[0].group);
  EXPECT_EQ(plan.launches[0].executor_charge, R("cpus:1;mem:64"));
  EXPECT_TRUE(plan.launches[1].executor_charge.empty()) << "the executor is already planned";
  EXPECT_EQ(plan.leftover.Get("cpus"), 0);
  EXPECT_EQ(plan.leftover.Get("mem"), 4096 - 64 - 3 * 128);

  Operation too_big = group;
  too_big.executor.executor_id = "e2";
  too_big.executor.resources = R("cpus:8");
  AcceptPlan refused = Plan(call::Accept{{"o1"}, {too_big}});
  EXPECT_TRUE(refused.launches.empty());
  EXPECT_EQ(refused.events.size(), 2u) << "the whole group is refused";
  EXPECT_EQ(refused.leftover, R("cpus:4;mem:4096"));
}

// An executor that stays between its groups takes no resources of its own
// (the master's charge would end with its last task), and its idle timeout is bounded.
TEST_F(AcceptPlanTest, AStayingGroupExecutorHasNoResourcesAndABoundedIdleTimeout) {
  Operation group;
  group.type = Operation::Type::kLaunchGroup;
  group.executor.executor_id = "e1";
  group.executor.idle_timeout_seconds = 5;
  group.tasks = {TaskOf("t1")};
  AcceptPlan plan = Plan(call::Accept{{"o1"}, {group}});
  ASSERT_EQ(plan.launches.size(), 1u);
  EXPECT_EQ(plan.launches[0].executor.idle_timeout_seconds, 5);

  auto refusal = [&](const Operation& operation) {
    AcceptPlan refused = Plan(call::Accept{{"o1"}, {operation}});
    EXPECT_TRUE(refused.launches.empty());
    if (refused.events.empty()) return std::string();
    return std::get<event::Update>(refused.events[0]).status.message;
  };
  Operation with_resources = group;
  with_resources.executor.resources = R("cpus:0.1;mem:32");
  EXPECT_NE(refusal(with_resources).find("takes no resources of its own"), std::string::npos);
  for (double bad : {-1.0, 1e9, std::nan("")}) {
    Operation odd = group;
    odd.executor.idle_timeout_seconds = bad;
    EXPECT_NE(refusal(odd).find("idle_timeout_seconds must be between 0 and 86400"),
              std::string::npos)
        << bad;
  }
}

// The tasks of one ACCEPT are booked under one allocation role, so offers of
// different roles cannot be combined (as Mesos refuses them).
TEST_F(AcceptPlanTest, OffersOfDifferentRolesCannotBeCombined) {
  offers_.Add(Offer{"o2", "f1", "a1", "h", R("cpus:1"), "", "analytics", {}}, 0);
  AcceptPlan plan = Plan(call::Accept{{"o1", "o2"}, {LaunchOf({TaskOf("t1")})}});
  EXPECT_FALSE(plan.offers_valid);
  EXPECT_TRUE(plan.launches.empty());
  EXPECT_EQ(plan.offers_to_recover, (std::vector<OfferId>{"o1", "o2"}));
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_NE(std::get<event::Update>(plan.events[0]).status.message.find("same role"),
            std::string::npos);
}

TEST_F(AcceptPlanTest, UnknownOffersDropEveryTaskAndReturnTheValidOnes) {
  AcceptPlan plan = Plan(call::Accept{{"o1", "nope"}, {LaunchOf({TaskOf("t1")})}});
  EXPECT_FALSE(plan.offers_valid);
  EXPECT_EQ(plan.offers_to_recover, std::vector<OfferId>{"o1"});
  EXPECT_TRUE(plan.launches.empty());
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_EQ(std::get<event::Update>(plan.events[0]).status.state, TaskState::kLost);
  EXPECT_TRUE(plan.leftover.empty());
}

}  // namespace
}  // namespace stoa::master

// The executor manager without actors: a fake AgentEffects records what it
// asks for. Container limits follow the task set (A10), kills of unknown tasks
// get a terminal update (A13), tasks get their own default user (A29), and
// the kill fallback never hits a reused pid (A28).
#include "agent/executor_manager.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "agent/process.hpp"
#include "tests/test_util.hpp"

namespace stoa::agent {
namespace {

struct FakeEffects : AgentEffects {
  std::vector<agentmsg::StatusUpdate> updates;
  std::vector<std::pair<std::string, ExecutorMessage>> to_executors;
  std::vector<ContainerConfig> launches;
  std::vector<std::pair<ContainerId, Resources>> resized;
  std::vector<ContainerId> destroyed;
  bool destroy_finds_container = true;
  std::vector<std::pair<pid_t, uint64_t>> killed;
  std::vector<std::string> sandboxes_done;
  std::vector<std::pair<ExecutorId, double>> idle_checks;

  void SendStatusUpdate(const agentmsg::StatusUpdate& update) override {
    updates.push_back(update);
  }
  void SendToExecutor(const std::string& peer, ExecutorMessage message) override {
    to_executors.emplace_back(peer, std::move(message));
  }
  void LaunchContainer(const ContainerConfig& config) override { launches.push_back(config); }
  void UpdateContainer(const ContainerId& id, const Resources& resources) override {
    resized.emplace_back(id, resources);
  }
  bool DestroyContainer(const ContainerId& id) override {
    destroyed.push_back(id);
    return destroy_finds_container;
  }
  void KillProcess(pid_t pid, uint64_t start_time) override {
    killed.emplace_back(pid, start_time);
  }
  void ScheduleEscalation(const FrameworkId&, const ExecutorId&, const ContainerId&,
                          double) override {}
  void ScheduleIdleCheck(const FrameworkId&, const ExecutorId& executor_id, const ContainerId&,
                         double seconds) override {
    idle_checks.emplace_back(executor_id, seconds);
  }
  void SandboxDone(const std::string& sandbox) override { sandboxes_done.push_back(sandbox); }

  // The tasks of every Launch sent to executors.
  std::vector<TaskInfo> LaunchedTasks() const {
    std::vector<TaskInfo> tasks;
    for (const auto& [peer, message] : to_executors) {
      if (auto* launch = std::get_if<execmsg::Launch>(&message)) {
        tasks.insert(tasks.end(), launch->tasks.begin(), launch->tasks.end());
      }
    }
    return tasks;
  }
};

TaskInfo Task(const std::string& id, const std::string& resources, const std::string& user = "") {
  TaskInfo task;
  task.task_id = id;
  task.command.value = "sleep 60";
  task.command.user = user;
  task.resources = *Resources::Parse(resources);
  return task;
}

std::string AgentUser() {
  struct passwd* entry = getpwuid(geteuid());
  return entry != nullptr ? entry->pw_name : "";
}

class ExecutorManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(""); }

  void Make(const std::string& default_user) {
    manager_.reset();
    checkpoint_.reset();
    checkpoint_dir_ = dir_.path() + "/checkpoint" + std::to_string(generation_++);
    std::filesystem::create_directories(checkpoint_dir_);
    auto checkpoint = Checkpoint::Open(checkpoint_dir_);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.error();
    checkpoint_ = std::move(*checkpoint);
    ExecutorManagerOptions options;
    options.work_dir = dir_.path();
    options.executor_path = "/bin/true";
    options.executor_endpoint = "ipc:///nowhere";
    options.default_user = default_user;
    effects_ = FakeEffects();
    manager_ = std::make_unique<ExecutorManager>(options, &effects_, checkpoint_);
    manager_->set_agent_id("agent-1");
  }

  // A new manager on the same checkpoint, as after an agent restart.
  void Restart() {
    manager_.reset();
    checkpoint_.reset();
    auto checkpoint = Checkpoint::Open(checkpoint_dir_);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.error();
    checkpoint_ = std::move(*checkpoint);
    auto state = checkpoint_->Recover();
    ASSERT_TRUE(state.ok()) << state.error();
    effects_ = FakeEffects();
    ExecutorManagerOptions options;
    options.work_dir = dir_.path();
    options.executor_path = "/bin/true";
    options.executor_endpoint = "ipc:///nowhere";
    manager_ = std::make_unique<ExecutorManager>(options, &effects_, checkpoint_);
    manager_->Recover(*state, 0);
    manager_->set_agent_id("agent-1");
  }

  agentmsg::RunTask Group(std::vector<TaskInfo> tasks, bool partition_aware = false) {
    agentmsg::RunTask run;
    run.framework.id = "fw";
    run.framework.partition_aware = partition_aware;
    run.executor.executor_id = "ex";
    run.executor.framework_id = "fw";
    run.executor.group = true;
    run.executor.resources = *Resources::Parse("cpus:0.1;mem:32");
    run.tasks = std::move(tasks);
    return run;
  }

  // Launches the group's container and has its executor subscribe as `peer`.
  void StartExecutor(pid_t pid = 4242) {
    ASSERT_EQ(effects_.launches.size(), 1u);
    manager_->OnLaunched("fw", "ex", effects_.launches[0].container_id, pid, "", 0);
    ExecutorMessage subscribe = execmsg::Subscribe{"fw", "ex", pid, {}, {}, Secret()};
    manager_->OnExecutorMessage("peer", subscribe, 0);
  }

  // What the agent gave the group's executor to subscribe with.
  std::string Secret() const {
    if (effects_.launches.empty()) return "";
    for (const auto& [name, value] : effects_.launches[0].environment) {
      if (name == "STOA_EXECUTOR_SECRET") return value;
    }
    return "";
  }

  void Report(const TaskId& task, TaskState state, const std::string& uuid, double now = 0) {
    TaskStatus status;
    status.task_id = task;
    status.state = state;
    status.source = Source::kExecutor;
    status.uuid = uuid;
    ExecutorMessage update = execmsg::Update{status};
    manager_->OnExecutorMessage("peer", update, now);
  }

  stoa::testing::TempDir dir_;
  int generation_ = 0;
  std::string checkpoint_dir_;
  FakeEffects effects_;
  std::shared_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<ExecutorManager> manager_;
};

// A6: only the process the agent launched (it holds the secret) speaks for
// an executor; a subscription with its ids and no secret gets nothing.
TEST_F(ExecutorManagerTest, ASubscriptionWithoutTheExecutorsSecretIsIgnored) {
  manager_->RunTask(Group({Task("t1", "cpus:0.5;mem:64")}), 0);
  ASSERT_EQ(effects_.launches.size(), 1u);
  EXPECT_EQ(Secret().size(), 32u);
  manager_->OnLaunched("fw", "ex", effects_.launches[0].container_id, 4242, "", 0);
  ExecutorMessage impostor = execmsg::Subscribe{"fw", "ex", 4242, {}, {}, "guess"};
  manager_->OnExecutorMessage("intruder", impostor, 0);
  EXPECT_TRUE(effects_.to_executors.empty()) << "the impostor must not get the tasks";

  StartExecutor();
  ASSERT_EQ(effects_.to_executors.size(), 1u);
  EXPECT_EQ(effects_.to_executors[0].first, "peer");
  EXPECT_EQ(effects_.LaunchedTasks().size(), 1u);
  // And the secret survives an agent restart: it is in the checkpoint.
  auto recovered = checkpoint_->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.error();
  ASSERT_EQ(recovered->executors.size(), 1u);
  EXPECT_EQ(recovered->executors[0].secret, Secret());
}

// A15: a task keeps the role its resources were allocated to, in the
// checkpoint and in what a reregistration reports.
TEST_F(ExecutorManagerTest, ATaskKeepsItsAllocationRoleForReregistration) {
  agentmsg::RunTask run = Group({Task("t1", "cpus:0.5;mem:64")});
  run.role = "batch";
  manager_->RunTask(run, 0);
  agentmsg::Register reg;
  manager_->FillRegister(reg);
  ASSERT_EQ(reg.tasks.size(), 1u);
  EXPECT_EQ(reg.tasks[0].role, "batch");

  auto recovered = checkpoint_->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.error();
  ASSERT_EQ(recovered->tasks.size(), 1u);
  EXPECT_EQ(recovered->tasks[0].task.role, "batch");
}

// A10: the container is sized for the executor and every live task: a second
// group raises the limits, a task that ends lowers them.
TEST_F(ExecutorManagerTest, ContainerLimitsFollowTheExecutorsLiveTasks) {
  manager_->RunTask(Group({Task("t1", "cpus:0.5;mem:64")}), 0);
  ASSERT_EQ(effects_.launches.size(), 1u);
  EXPECT_EQ(effects_.launches[0].resources, *Resources::Parse("cpus:0.6;mem:96"));
  StartExecutor();
  EXPECT_TRUE(effects_.resized.empty());

  manager_->RunTask(Group({Task("t2", "cpus:0.5;mem:128")}), 0);
  ASSERT_EQ(effects_.resized.size(), 1u);
  EXPECT_EQ(effects_.resized[0].first, effects_.launches[0].container_id);
  EXPECT_EQ(effects_.resized[0].second.Get("mem"), 224);
  EXPECT_DOUBLE_EQ(effects_.resized[0].second.Get("cpus"), 1.1);
  EXPECT_EQ(effects_.launches.size(), 1u);  // the same container

  Report("t1", TaskState::kRunning, "u1");
  EXPECT_EQ(effects_.resized.size(), 1u);  // no change in the task set
  Report("t1", TaskState::kFinished, "u2");
  ASSERT_EQ(effects_.resized.size(), 2u);
  EXPECT_EQ(effects_.resized[1].second.Get("mem"), 160);
}

// A group executor that stays (an idle timeout) takes later groups into the
// same container, forgets each task once its outcome is acknowledged, and is
// shut down only after a whole idle timeout with no task.
TEST_F(ExecutorManagerTest, AGroupExecutorThatStaysTakesLaterGroupsUntilIdleLongEnough) {
  auto group = [&](const TaskId& id) {
    agentmsg::RunTask run = Group({Task(id, "cpus:0.5;mem:64")});
    run.executor.idle_timeout_seconds = 5;
    return run;
  };
  auto shutdowns = [&] {
    return std::count_if(
        effects_.to_executors.begin(), effects_.to_executors.end(),
        [](const auto& sent) { return std::holds_alternative<execmsg::Shutdown>(sent.second); });
  };
  manager_->RunTask(group("t1"), 0);
  ASSERT_EQ(effects_.launches.size(), 1u);
  auto& env = effects_.launches[0].environment;
  EXPECT_NE(std::find(env.begin(), env.end(),
                      std::make_pair(std::string("STOA_EXECUTOR_STAYS"), std::string("1"))),
            env.end());
  StartExecutor();
  ContainerId container = effects_.launches[0].container_id;
  Report("t1", TaskState::kRunning, "u1");
  manager_->Acknowledge({"fw", "t1", "u1"}, 0);
  EXPECT_TRUE(effects_.idle_checks.empty());  // busy
  // Idle from its last task's end, acknowledged or not (the framework may be away).
  Report("t1", TaskState::kFinished, "u2", 1);
  ASSERT_EQ(effects_.idle_checks.size(), 1u);
  EXPECT_EQ(effects_.idle_checks[0], (std::pair<ExecutorId, double>{"ex", 5}));
  manager_->Acknowledge({"fw", "t1", "u2"}, 1);
  EXPECT_EQ(effects_.idle_checks.size(), 1u);
  // The ended task is gone from the books and from the checkpoint.
  agentmsg::Register reg;
  manager_->FillRegister(reg);
  EXPECT_TRUE(reg.tasks.empty());
  auto recovered = checkpoint_->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.error();
  EXPECT_TRUE(recovered->tasks.empty());
  ASSERT_EQ(recovered->executors.size(), 1u);

  // A later group: the same container, told at once.
  manager_->RunTask(group("t2"), 2);
  EXPECT_EQ(effects_.launches.size(), 1u);
  EXPECT_EQ(effects_.LaunchedTasks().back().task_id, "t2");
  manager_->CheckIdle("fw", "ex", container, 6);  // the first idle check: busy again
  EXPECT_EQ(shutdowns(), 0);
  Report("t2", TaskState::kFinished, "u3", 3);
  manager_->Acknowledge({"fw", "t2", "u3"}, 3);
  ASSERT_EQ(effects_.idle_checks.size(), 2u);
  manager_->CheckIdle("fw", "ex", container, 7);  // idle for 4 s only
  EXPECT_EQ(shutdowns(), 0);
  manager_->CheckIdle("fw", "ex", container, 8);
  EXPECT_EQ(shutdowns(), 1);
  // A group too late for it is lost, and says why.
  effects_.updates.clear();
  manager_->RunTask(group("t3"), 9);
  ASSERT_EQ(effects_.updates.size(), 1u);
  EXPECT_EQ(effects_.updates[0].status.task_id, "t3");
  EXPECT_EQ(effects_.updates[0].status.state, TaskState::kLost);
  EXPECT_EQ(effects_.updates[0].status.reason, Reason::kExecutorTerminated);
}

// A10: a group that arrives while the container is still launching is
// applied after that launch (the launcher orders them).
TEST_F(ExecutorManagerTest, AGroupArrivingDuringTheLaunchResizesToo) {
  manager_->RunTask(Group({Task("t1", "cpus:0.5;mem:64")}), 0);
  manager_->RunTask(Group({Task("t2", "cpus:0.5;mem:64")}), 0);
  ASSERT_EQ(effects_.resized.size(), 1u);
  EXPECT_EQ(effects_.resized[0].second.Get("mem"), 160);
}

// The executor's health and check results go to the master unchanged, one
// after another, and are in the checkpoint (and a reregistration) with the task.
TEST_F(ExecutorManagerTest, HealthUpdatesAreForwardedAndCheckpointedUnchanged) {
  TaskInfo info = Task("t1", "cpus:0.5;mem:64");
  info.health_check = HealthCheck{};
  info.health_check->check.port = 8080;
  manager_->RunTask(Group({info}), 0);
  StartExecutor();
  Report("t1", TaskState::kRunning, "u1");
  manager_->Acknowledge({"fw", "t1", "u1"}, 0);
  TaskStatus status;
  status.task_id = "t1";
  status.state = TaskState::kRunning;
  status.reason = Reason::kTaskHealthCheckStatusUpdated;
  status.source = Source::kExecutor;
  status.uuid = "u2";
  status.healthy = false;
  status.check_status = CheckStatus{CheckType::kHttp, 503, std::nullopt, std::nullopt};
  status.message = "HTTP 503";
  ExecutorMessage update = execmsg::Update{status};
  manager_->OnExecutorMessage("peer", update, 0);
  ASSERT_EQ(effects_.updates.size(), 2u);
  const TaskStatus& sent = effects_.updates[1].status;
  EXPECT_EQ(sent.healthy, std::optional<bool>(false));
  EXPECT_EQ(sent.check_status, status.check_status);
  EXPECT_EQ(sent.reason, Reason::kTaskHealthCheckStatusUpdated);
  EXPECT_EQ(sent.message, "HTTP 503");

  auto recovered = checkpoint_->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.error();
  ASSERT_EQ(recovered->tasks.size(), 1u);
  EXPECT_EQ(recovered->tasks[0].task.info.health_check, info.health_check);
  ASSERT_EQ(recovered->tasks[0].pending.size(), 1u);
  EXPECT_EQ(recovered->tasks[0].pending[0].healthy, std::optional<bool>(false));
  agentmsg::Register reg;
  manager_->FillRegister(reg);
  ASSERT_EQ(reg.tasks.size(), 1u);
  EXPECT_EQ(reg.tasks[0].statuses.back().healthy, std::optional<bool>(false));
}

// A13: as Mesos's agent does, a kill for a task the agent never heard of is
// answered with a terminal update from the agent (TASK_LOST, or TASK_DROPPED
// for a partition-aware framework), retried until acknowledged.
TEST_F(ExecutorManagerTest, AKillOfAnUnknownTaskGetsATerminalUpdate) {
  manager_->KillTask("other-fw", "ghost", 100);
  ASSERT_EQ(effects_.updates.size(), 1u);
  const TaskStatus& lost = effects_.updates[0].status;
  EXPECT_EQ(effects_.updates[0].framework_id, "other-fw");
  EXPECT_EQ(lost.task_id, "ghost");
  EXPECT_EQ(lost.state, TaskState::kLost);
  EXPECT_EQ(lost.source, Source::kAgent);
  EXPECT_EQ(lost.reason, Reason::kExecutorTerminated);
  EXPECT_EQ(lost.agent_id, "agent-1");
  EXPECT_FALSE(lost.uuid.empty());
  // Resent until the master acknowledges it.
  auto due = manager_->DueUpdates(200);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].status.uuid, lost.uuid);
  manager_->Acknowledge({"other-fw", "ghost", lost.uuid}, 200);
  EXPECT_EQ(manager_->PendingUpdateCount(), 0u);

  manager_->RunTask(Group({Task("t1", "cpus:0.5;mem:64")}, /*partition_aware=*/true), 0);
  manager_->KillTask("fw", "ghost", 0);
  ASSERT_EQ(effects_.updates.size(), 2u);
  EXPECT_EQ(effects_.updates[1].status.state, TaskState::kDropped);
}

// That terminal update is checkpointed like any other: an agent restarted
// before the master acknowledged it sends it again (the same uuid), and once
// acknowledged it is gone from the checkpoint too.
TEST_F(ExecutorManagerTest, TheUpdateForAnUnknownTaskSurvivesARestartUntilAcknowledged) {
  manager_->KillTask("other-fw", "ghost", 100);
  ASSERT_EQ(effects_.updates.size(), 1u);
  std::string uuid = effects_.updates[0].status.uuid;
  Restart();
  auto heads = manager_->PendingHeads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].framework_id, "other-fw");
  EXPECT_EQ(heads[0].status.task_id, "ghost");
  EXPECT_EQ(heads[0].status.state, TaskState::kLost);
  EXPECT_EQ(heads[0].status.uuid, uuid);
  ASSERT_EQ(manager_->DueUpdates(100).size(), 1u);  // and resent until acknowledged
  manager_->Acknowledge({"other-fw", "ghost", uuid}, 200);
  EXPECT_EQ(manager_->PendingUpdateCount(), 0u);
  Restart();
  EXPECT_EQ(manager_->PendingUpdateCount(), 0u);
}

// A16: a task killed while its container is provisioned (its image being
// unpacked) ends at once; the container is then not launched, and the
// executor and its books go once the kill is acknowledged.
TEST_F(ExecutorManagerTest, AnExecutorShutDownWhileItsContainerIsProvisionedIsNotLaunched) {
  manager_->RunTask(Group({Task("t1", "cpus:0.5;mem:64")}), 0);
  ASSERT_EQ(effects_.launches.size(), 1u);
  ContainerId container = effects_.launches[0].container_id;
  EXPECT_TRUE(manager_->LaunchWanted("fw", "ex", container));
  manager_->KillTask("fw", "t1", 0);
  ASSERT_EQ(effects_.updates.size(), 1u);
  EXPECT_EQ(effects_.updates[0].status.state, TaskState::kKilled);
  EXPECT_FALSE(manager_->LaunchWanted("fw", "ex", container));
  manager_->OnLaunchAbandoned("fw", "ex", container, 0);
  EXPECT_TRUE(effects_.destroyed.empty());                 // there is no container to destroy
  EXPECT_NE(manager_->FindExecutor("fw", "ex"), nullptr);  // until the kill is acknowledged
  manager_->Acknowledge({"fw", "t1", effects_.updates[0].status.uuid}, 0);
  EXPECT_EQ(manager_->FindExecutor("fw", "ex"), nullptr);
  EXPECT_EQ(effects_.sandboxes_done.size(), 1u);
}

// A29: a task that names no user runs as the default user, not as whoever the
// first task of its group named (which is what STOA_TASK_USER says).
TEST_F(ExecutorManagerTest, ATaskWithoutAUserRunsAsTheDefaultNotAsTheGroupsFirst) {
  manager_->RunTask(Group({Task("t1", "cpus:0.1;mem:8", "nobody"), Task("t2", "cpus:0.1;mem:8")}),
                    0);
  ASSERT_EQ(effects_.launches.size(), 1u);
  EXPECT_EQ(effects_.launches[0].user, "nobody");  // the container (sandbox owner), as before
  StartExecutor();
  manager_->RunTask(Group({Task("t3", "cpus:0.1;mem:8")}), 0);
  std::map<TaskId, std::string> users;
  for (const auto& task : effects_.LaunchedTasks()) users[task.task_id] = task.command.user;
  EXPECT_EQ(users["t1"], "nobody");
  EXPECT_EQ(users["t2"], AgentUser());
  EXPECT_EQ(users["t3"], AgentUser());

  Make("daemon");
  manager_->RunTask(Group({Task("t1", "cpus:0.1;mem:8", "nobody"), Task("t2", "cpus:0.1;mem:8")}),
                    0);
  StartExecutor();
  users.clear();
  for (const auto& task : effects_.LaunchedTasks()) users[task.task_id] = task.command.user;
  EXPECT_EQ(users["t2"], "daemon");
}

// A5 (in part): as Mesos does, a task without a user runs as the framework's
// user; the agent's default applies only when the framework names none.
TEST_F(ExecutorManagerTest, ATaskWithoutAUserRunsAsItsFrameworksUser) {
  Make("daemon");
  agentmsg::RunTask run =
      Group({Task("t1", "cpus:0.1;mem:8"), Task("t2", "cpus:0.1;mem:8", "nobody")});
  run.framework.user = "bin";
  manager_->RunTask(run, 0);
  ASSERT_EQ(effects_.launches.size(), 1u);
  EXPECT_EQ(effects_.launches[0].user, "bin");  // the container belongs to the framework's user
  StartExecutor();
  std::map<TaskId, std::string> users;
  for (const auto& task : effects_.LaunchedTasks()) users[task.task_id] = task.command.user;
  EXPECT_EQ(users["t1"], "bin");
  EXPECT_EQ(users["t2"], "nobody");
}

// A28: when the containerizer no longer knows the container, the executor's
// pid is killed only together with the start time it had, so that a process
// that reused the pid is left alone (see SignalIfSameProcess).
TEST_F(ExecutorManagerTest, TheKillFallbackCarriesThePidsStartTime) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  manager_->RunTask(Group({Task("t1", "cpus:0.5;mem:64")}), 0);
  manager_->OnLaunched("fw", "ex", effects_.launches[0].container_id, child, "", 0);
  effects_.destroy_finds_container = false;
  manager_->KillTask("fw", "t1", 0);  // queued, never subscribed: the executor is shut down
  ASSERT_EQ(effects_.killed.size(), 1u);
  EXPECT_EQ(effects_.killed[0].first, child);
  EXPECT_EQ(effects_.killed[0].second, ProcessStartTime(child));
  EXPECT_NE(effects_.killed[0].second, 0u);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(Process, SignalsOnlyTheProcessThatStartedAtTheGivenTime) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  uint64_t started = ProcessStartTime(child);
  ASSERT_NE(started, 0u);
  // Another process with this pid would have another start time.
  EXPECT_FALSE(SignalIfSameProcess(child, started + 1, SIGKILL));
  EXPECT_EQ(waitpid(child, nullptr, WNOHANG), 0) << "a process with another start time was killed";
  EXPECT_TRUE(SignalIfSameProcess(child, started, SIGKILL));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(SignalIfSameProcess(child, started, SIGKILL));  // gone (and reaped)
}

}  // namespace
}  // namespace stoa::agent

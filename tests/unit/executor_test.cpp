// stoa-executor: its pure helpers in-process, and the real binary (built next
// to this test) driven by a fake agent over ipc://, running real commands.
#include "executors/executor.hpp"

#include "tests/test_util.hpp"
#include "tests/unit/executor_fixture.hpp"

namespace stoa::executor_test {
namespace {

using executors::ConfigFromEnvironment;
using executors::DescribeTermination;
using executors::ValidateTaskIdForPath;
using stoa::testing::WaitFor;

// ---- pure helpers ----

std::function<const char*(const char*)> Lookup(const std::map<std::string, std::string>& vars) {
  return [&vars](const char* name) -> const char* {
    auto found = vars.find(name);
    return found == vars.end() ? nullptr : found->second.c_str();
  };
}

TEST(ExecutorConfig, ReadsEveryVariable) {
  std::string sandbox = std::filesystem::temp_directory_path().string();
  std::map<std::string, std::string> vars = {
      {"STOA_AGENT_ENDPOINT", "ipc:///work/agent.sock"},
      {"STOA_FRAMEWORK_ID", "fw-1"},
      {"STOA_EXECUTOR_ID", "exec-1"},
      {"STOA_SANDBOX", sandbox + "/"},
      {"STOA_AGENT_ID", "agent-1"},
      {"STOA_EXECUTOR_GROUP", "1"},
      {"STOA_EXECUTOR_SECRET", "s3cret"},
  };
  auto config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->agent_endpoint, "ipc:///work/agent.sock");
  EXPECT_EQ(config->framework_id, "fw-1");
  EXPECT_EQ(config->executor_id, "exec-1");
  EXPECT_EQ(config->agent_id, "agent-1");
  EXPECT_EQ(config->sandbox, sandbox);
  EXPECT_EQ(config->secret, "s3cret");
  EXPECT_TRUE(config->group);

  vars.erase("STOA_EXECUTOR_GROUP");
  config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_FALSE(config->group);
}

TEST(ExecutorConfig, NamesEveryMissingVariable) {
  std::map<std::string, std::string> vars = {{"STOA_FRAMEWORK_ID", "fw-1"}};
  auto config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_FALSE(config.ok());
  for (const char* name :
       {"STOA_AGENT_ENDPOINT", "STOA_EXECUTOR_ID", "STOA_SANDBOX", "STOA_AGENT_ID"}) {
    EXPECT_NE(config.error().find(name), std::string::npos) << config.error();
  }
  EXPECT_EQ(config.error().find("STOA_FRAMEWORK_ID"), std::string::npos) << config.error();
}

TEST(ExecutorConfig, RejectsInvalidValues) {
  std::map<std::string, std::string> vars = {
      {"STOA_AGENT_ENDPOINT", "localhost:5051"},
      {"STOA_FRAMEWORK_ID", "fw-1"},
      {"STOA_EXECUTOR_ID", "exec-1"},
      {"STOA_SANDBOX", "/nonexistent/sandbox"},
      {"STOA_AGENT_ID", "agent-1"},
      {"STOA_EXECUTOR_SECRET", "s3cret"},
      {"STOA_EXECUTOR_GROUP", "yes"},
  };
  auto config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().find("localhost:5051"), std::string::npos) << config.error();
  EXPECT_NE(config.error().find("/nonexistent/sandbox"), std::string::npos) << config.error();
  EXPECT_NE(config.error().find("STOA_EXECUTOR_GROUP"), std::string::npos) << config.error();
}

TEST(ExecutorTermination, DescribesExitsAndSignals) {
  auto finished = DescribeTermination(W_EXITCODE(0, 0), false);
  EXPECT_EQ(finished.state, TaskState::kFinished);
  EXPECT_EQ(finished.message, "Command exited with status 0");
  EXPECT_EQ(finished.exit_status, 0);

  auto failed = DescribeTermination(W_EXITCODE(3, 0), false);
  EXPECT_EQ(failed.state, TaskState::kFailed);
  EXPECT_EQ(failed.reason, Reason::kCommandExecutorFailed);
  EXPECT_EQ(failed.message, "Command exited with status 3");
  EXPECT_EQ(failed.exit_status, 3);

  auto signalled = DescribeTermination(W_EXITCODE(0, SIGKILL), false);
  EXPECT_EQ(signalled.state, TaskState::kFailed);
  EXPECT_EQ(signalled.message, "Command terminated by signal SIGKILL");
  EXPECT_EQ(signalled.exit_status, W_EXITCODE(0, SIGKILL));

  auto killed = DescribeTermination(W_EXITCODE(0, SIGTERM), true);
  EXPECT_EQ(killed.state, TaskState::kKilled);
  EXPECT_EQ(killed.message, "Command killed");
  // A command that exits by itself after a kill request was still killed.
  EXPECT_EQ(DescribeTermination(W_EXITCODE(0, 0), true).state, TaskState::kKilled);
}

TEST(ExecutorTaskId, RejectsIdsThatCannotNameADirectory) {
  EXPECT_TRUE(ValidateTaskIdForPath("web.1-abc").ok());
  EXPECT_FALSE(ValidateTaskIdForPath("").ok());
  EXPECT_FALSE(ValidateTaskIdForPath(".").ok());
  EXPECT_FALSE(ValidateTaskIdForPath("..").ok());
  EXPECT_FALSE(ValidateTaskIdForPath("../escape").ok());
  EXPECT_FALSE(ValidateTaskIdForPath(std::string("a\0b", 3)).ok());
}

TEST_F(Executor, RunsCommandAndReportsFinished) {
  StartExecutor();
  std::optional<execmsg::Subscribe> subscribe = NextSubscribe();
  ASSERT_TRUE(subscribe.has_value());
  EXPECT_EQ(subscribe->framework_id, "fw-1");
  EXPECT_EQ(subscribe->executor_id, "exec-1");
  EXPECT_EQ(subscribe->pid, pid_);
  EXPECT_TRUE(subscribe->unacknowledged.empty());
  EXPECT_TRUE(subscribe->launched.empty());
  // The id, the pid and a nonce (every executor is pid 1 in its own pid namespace).
  EXPECT_EQ(identity_.rfind("executor-exec-1-" + std::to_string(pid_) + "-", 0), 0u) << identity_;

  agent_->Send(execmsg::Launch{{ShellTask("task-1", "echo hello")}});
  std::optional<TaskStatus> starting = NextUpdate();
  std::optional<TaskStatus> running = NextUpdate();
  std::optional<TaskStatus> finished = NextUpdate();
  ASSERT_TRUE(starting && running && finished);
  EXPECT_EQ(starting->state, TaskState::kStarting);
  EXPECT_EQ(running->state, TaskState::kRunning);
  EXPECT_NE(running->message.find("pid"), std::string::npos) << running->message;
  EXPECT_EQ(finished->state, TaskState::kFinished);
  EXPECT_EQ(finished->message, "Command exited with status 0");
  EXPECT_EQ(finished->exit_status, 0);
  for (const TaskStatus* status : {&*starting, &*running, &*finished}) {
    EXPECT_EQ(status->task_id, "task-1");
    EXPECT_EQ(status->source, Source::kExecutor);
    EXPECT_EQ(status->agent_id, "agent-1");
    EXPECT_EQ(status->executor_id, "exec-1");
    EXPECT_GT(status->timestamp, 0);
    EXPECT_FALSE(status->uuid.empty());
  }
  EXPECT_EQ((std::set<std::string>{starting->uuid, running->uuid, finished->uuid}).size(), 3u);

  ExpectExitStatus(0);
  EXPECT_EQ(ReadFile(sandbox_ / "stdout"), "hello\n");
}

TEST_F(Executor, ReportsFailedCommandWithItsExitStatus) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "exit 3")});
  auto updates = UpdatesUntilTerminal({"task-1"});
  ASSERT_EQ(States(updates["task-1"]),
            (std::vector{TaskState::kStarting, TaskState::kRunning, TaskState::kFailed}));
  const TaskStatus& failed = updates["task-1"].back();
  EXPECT_EQ(failed.reason, Reason::kCommandExecutorFailed);
  EXPECT_EQ(failed.exit_status, 3);
  EXPECT_EQ(failed.message, "Command exited with status 3");
  ExpectExitStatus(0);
}

TEST_F(Executor, ReportsCommandTerminatedBySignal) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "kill -KILL $$")});
  auto updates = UpdatesUntilTerminal({"task-1"});
  const TaskStatus& failed = updates["task-1"].back();
  EXPECT_EQ(failed.state, TaskState::kFailed);
  EXPECT_EQ(failed.message, "Command terminated by signal SIGKILL");
  EXPECT_TRUE(WIFSIGNALED(failed.exit_status) && WTERMSIG(failed.exit_status) == SIGKILL)
      << failed.exit_status;
  ExpectExitStatus(0);
}

TEST_F(Executor, KillsTaskOnKillRequest) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "sleep 100")});
  ASSERT_EQ(NextUpdate()->state, TaskState::kStarting);
  ASSERT_EQ(NextUpdate()->state, TaskState::kRunning);
  agent_->Send(execmsg::Kill{"task-1", 5000});
  auto updates = UpdatesUntilTerminal({"task-1"});
  ASSERT_EQ(States(updates["task-1"]), (std::vector{TaskState::kKilling, TaskState::kKilled}));
  const TaskStatus& killed = updates["task-1"].back();
  EXPECT_EQ(killed.message, "Command killed");
  EXPECT_TRUE(WIFSIGNALED(killed.exit_status) && WTERMSIG(killed.exit_status) == SIGTERM)
      << killed.exit_status;
  ExpectExitStatus(0);
}

TEST_F(Executor, EscalatesToSigkillAfterGracePeriod) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "trap '' TERM; echo ready; sleep 100")});
  ASSERT_EQ(NextUpdate()->state, TaskState::kStarting);
  ASSERT_EQ(NextUpdate()->state, TaskState::kRunning);
  ASSERT_TRUE(WaitForFileContent(sandbox_ / "stdout", "ready\n"));  // SIGTERM is ignored now
  agent_->Send(execmsg::Kill{"task-1", 200});
  auto updates = UpdatesUntilTerminal({"task-1"});
  ASSERT_EQ(States(updates["task-1"]), (std::vector{TaskState::kKilling, TaskState::kKilled}));
  const TaskStatus& killed = updates["task-1"].back();
  EXPECT_TRUE(WIFSIGNALED(killed.exit_status) && WTERMSIG(killed.exit_status) == SIGKILL)
      << killed.exit_status;
  ExpectExitStatus(0);
}

TEST_F(Executor, ResendsUnacknowledgedUpdateWithSameUuid) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "true")});
  std::optional<TaskStatus> starting = NextUpdate(/*ack=*/false);
  ASSERT_TRUE(starting.has_value());
  ASSERT_EQ(starting->state, TaskState::kStarting);
  auto rest = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(States(rest["task-1"]), (std::vector{TaskState::kRunning, TaskState::kFinished}));

  // Only STARTING is unacknowledged: it must come again, unchanged.
  std::optional<TaskStatus> again;
  auto deadline = Clock::now() + kWait;
  while (auto received = agent_->Next(deadline)) {
    auto* update = std::get_if<execmsg::Update>(&received->message);
    if (update != nullptr && update->status.uuid == starting->uuid) {
      again = update->status;
      break;
    }
  }
  ASSERT_TRUE(again.has_value()) << "the unacknowledged STARTING was not re-sent";
  EXPECT_EQ(again->state, TaskState::kStarting);
  EXPECT_EQ(again->timestamp, starting->timestamp);
  EXPECT_FALSE(WaitForExit(std::chrono::milliseconds(0)).has_value())
      << "stoa-executor exited with an update unacknowledged";
  Ack(*starting);
  ExpectExitStatus(0);
}

TEST_F(Executor, ResendsSubscribeUntilAgentAnswers) {
  StartExecutor();
  std::optional<execmsg::Subscribe> first = NextSubscribe();
  std::optional<execmsg::Subscribe> second = NextSubscribe();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->pid, first->pid);
  // A Shutdown before any Launch: nothing to kill, so the executor exits at once.
  agent_->Send(execmsg::Shutdown{0});
  ExpectExitStatus(0);
}

TEST_F(Executor, IgnoresMalformedFrames) {
  StartExecutor();
  ASSERT_TRUE(NextSubscribe().has_value());
  agent_->SendRaw("garbage!");
  agent_->SendRaw("abc");
  agent_->Send(execmsg::Update{});  // only executors send updates
  // Still alive, and still waiting for an answer.
  ASSERT_TRUE(NextSubscribe().has_value());
  agent_->Send(execmsg::Launch{{ShellTask("task-1", "echo hello")}});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kFinished);
  ExpectExitStatus(0);
}

TEST_F(Executor, RunsTaskGroupInPerTaskSandboxes) {
  StartExecutor(/*group=*/true);
  SubscribeAndLaunch({ShellTask("task-a", "echo one"), ShellTask("task-b", "echo two")});
  auto updates = UpdatesUntilTerminal({"task-a", "task-b"});
  for (const char* id : {"task-a", "task-b"}) {
    EXPECT_EQ(States(updates[id]),
              (std::vector{TaskState::kStarting, TaskState::kRunning, TaskState::kFinished}))
        << id;
  }
  ExpectExitStatus(0);
  EXPECT_EQ(ReadFile(sandbox_ / "tasks" / "task-a" / "stdout"), "one\n");
  EXPECT_EQ(ReadFile(sandbox_ / "tasks" / "task-b" / "stdout"), "two\n");
  EXPECT_FALSE(std::filesystem::exists(sandbox_ / "stdout"));
}

// A group executor that stays (STOA_EXECUTOR_STAYS=1) does not exit when its
// tasks are done: a later Launch runs in it, and it exits on the agent's Shutdown.
TEST_F(Executor, AGroupExecutorThatStaysRunsLaterGroupsUntilShutDown) {
  std::vector<std::string> environment = Environment(/*group=*/true);
  environment.push_back("STOA_EXECUTOR_STAYS=1");
  StartWithEnvironment(environment);
  SubscribeAndLaunch({ShellTask("task-a", "echo one")});
  // RUNNING is its first word of a task: no STARTING before it.
  EXPECT_EQ(States(UpdatesUntilTerminal({"task-a"})["task-a"]),
            (std::vector{TaskState::kRunning, TaskState::kFinished}));
  EXPECT_FALSE(WaitForExit(std::chrono::milliseconds(500)).has_value())
      << "it exited with no task left";
  agent_->Send(execmsg::Launch{{ShellTask("task-b", "echo two")}});
  ASSERT_EQ(UpdatesUntilTerminal({"task-b"})["task-b"].back().state, TaskState::kFinished);
  EXPECT_EQ(ReadFile(sandbox_ / "tasks" / "task-a" / "stdout"), "one\n");
  EXPECT_EQ(ReadFile(sandbox_ / "tasks" / "task-b" / "stdout"), "two\n");
  // Tasks it ran leave nothing open behind (each held its sandbox's descriptor).
  auto open_descriptors = [&] {
    return std::distance(
        std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd"),
        std::filesystem::directory_iterator());
  };
  auto before = open_descriptors();
  std::vector<TaskInfo> many;
  std::set<TaskId> many_ids;
  for (int i = 0; i < 20; ++i) {
    many.push_back(ShellTask("many-" + std::to_string(i), "true"));
    many_ids.insert(many.back().task_id);
  }
  agent_->Send(execmsg::Launch{many});
  UpdatesUntilTerminal(many_ids);
  EXPECT_TRUE(WaitFor([&] { return open_descriptors() <= before; }))
      << open_descriptors() << " descriptors open, " << before << " before 20 tasks";
  // It forgot task-a once its updates were acknowledged, not its id.
  agent_->Send(execmsg::Launch{{ShellTask("task-a", "echo again")}});
  auto again = UpdatesUntilTerminal({"task-a"});
  EXPECT_EQ(again["task-a"].back().state, TaskState::kError);
  EXPECT_EQ(ReadFile(sandbox_ / "tasks" / "task-a" / "stdout"), "one\n");
  agent_->Send(execmsg::Shutdown{2000});
  ExpectExitStatus(0);
}

TEST(ExecutorConfig, StayingIsForTaskGroups) {
  std::map<std::string, std::string> vars = {
      {"STOA_AGENT_ENDPOINT", "ipc:///tmp/agent.sock"},
      {"STOA_FRAMEWORK_ID", "fw-1"},
      {"STOA_EXECUTOR_ID", "exec-1"},
      {"STOA_SANDBOX", "/tmp"},
      {"STOA_AGENT_ID", "agent-1"},
      {"STOA_EXECUTOR_SECRET", "s3cret"},
      {"STOA_EXECUTOR_STAYS", "1"},
  };
  auto config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().find("STOA_EXECUTOR_STAYS=1 is for task groups"), std::string::npos)
      << config.error();
  vars["STOA_EXECUTOR_GROUP"] = "1";
  config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_TRUE(config->stays);
}

// A task id reused in a live group executor, after its first task ended, is
// refused with TASK_ERROR rather than ignored as a repeated Launch (which
// left the new task STAGING for ever).
TEST_F(Executor, ATaskIdReusedAfterItsTaskEndedIsRefused) {
  StartExecutor(/*group=*/true);
  SubscribeAndLaunch({ShellTask("task-a", "sleep 100"), ShellTask("task-b", "true")});
  auto first = UpdatesUntilTerminal({"task-b"});
  ASSERT_EQ(first["task-b"].back().state, TaskState::kFinished);
  agent_->Send(execmsg::Launch{{ShellTask("task-b", "echo again")}});
  auto second = UpdatesUntilTerminal({"task-b"});
  ASSERT_FALSE(second["task-b"].empty());
  EXPECT_EQ(second["task-b"].back().state, TaskState::kError);
  EXPECT_NE(second["task-b"].back().message.find("new id"), std::string::npos)
      << second["task-b"].back().message;
  EXPECT_EQ(ReadFile(sandbox_ / "tasks" / "task-b" / "stdout"), "");
  agent_->Send(execmsg::Shutdown{2000});
  UpdatesUntilTerminal({"task-a"});
  ExpectExitStatus(0);
}

TEST_F(Executor, ShutdownKillsEveryTaskAndExits) {
  StartExecutor(/*group=*/true);
  SubscribeAndLaunch({ShellTask("task-a", "sleep 100"), ShellTask("task-b", "sleep 100")});
  std::set<TaskId> running;
  while (running.size() < 2) {
    std::optional<TaskStatus> status = NextUpdate();
    ASSERT_TRUE(status.has_value());
    if (status->state == TaskState::kRunning) running.insert(status->task_id);
  }
  agent_->Send(execmsg::Shutdown{2000});
  auto updates = UpdatesUntilTerminal({"task-a", "task-b"});
  for (const char* id : {"task-a", "task-b"}) {
    EXPECT_EQ(States(updates[id]), (std::vector{TaskState::kKilling, TaskState::kKilled})) << id;
  }
  ExpectExitStatus(0);
}

TEST_F(Executor, SetsTaskEnvironmentWorkingDirectoryAndStreams) {
  StartExecutor();
  TaskInfo task = ShellTask("task-1",
                            "echo \"$GREETING $STOA_TASK_ID $STOA_SANDBOX $MESOS_SANDBOX "
                            "${STOA_AGENT_ENDPOINT:-unset} ${STOA_EXECUTOR_SECRET:-unset}\"; "
                            "pwd; echo oops >&2");
  task.command.environment = {{"GREETING", "hi"}};
  SubscribeAndLaunch({task});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kFinished);
  ExpectExitStatus(0);
  EXPECT_EQ(ReadFile(sandbox_ / "stdout"), "hi task-1 " + sandbox_.string() + " " +
                                               sandbox_.string() + " unset unset\n" +
                                               sandbox_.string() + "\n");
  EXPECT_EQ(ReadFile(sandbox_ / "stderr"), "oops\n");
}

// A5: the agent's --bounding_capabilities reach the tasks, not the executor.
TEST_F(Executor, TasksHoldOnlyTheCapabilitiesTheAgentAllows) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: capabilities are limited only by root";
  std::vector<std::string> environment = Environment(false);
  environment.push_back("STOA_TASK_CAPABILITIES=CHOWN,KILL");
  StartWithEnvironment(environment);
  SubscribeAndLaunch({ShellTask("task-1", "grep '^CapBnd' /proc/self/status")});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kFinished);
  EXPECT_EQ(ReadFile(sandbox_ / "stdout"), "CapBnd:\t0000000000000021\n");
}

TEST(ExecutorConfig, UnknownTaskCapabilitiesAreAnError) {
  std::string sandbox = std::filesystem::temp_directory_path().string();
  std::map<std::string, std::string> vars = {
      {"STOA_AGENT_ENDPOINT", "ipc:///work/agent.sock"},
      {"STOA_FRAMEWORK_ID", "fw-1"},
      {"STOA_EXECUTOR_ID", "exec-1"},
      {"STOA_SANDBOX", sandbox},
      {"STOA_AGENT_ID", "agent-1"},
      {"STOA_EXECUTOR_SECRET", "s3cret"},
      {"STOA_TASK_CAPABILITIES", "chown,sys_wizard"},
  };
  auto config = ConfigFromEnvironment(Lookup(vars));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().find("SYS_WIZARD"), std::string::npos) << config.error();
}

TEST_F(Executor, RunsProgramWithoutShell) {
  StartExecutor();
  TaskInfo task = ShellTask("task-1", "printf");
  task.command.shell = false;
  task.command.arguments = {"printf", "%s-%s\\n", "a b", "c"};
  SubscribeAndLaunch({task});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kFinished);
  ExpectExitStatus(0);
  EXPECT_EQ(ReadFile(sandbox_ / "stdout"), "a b-c\n");
}

TEST_F(Executor, ReportsProgramThatCannotBeExecuted) {
  StartExecutor();
  TaskInfo task = ShellTask("task-1", "/nonexistent/program");
  task.command.shell = false;
  SubscribeAndLaunch({task});
  auto updates = UpdatesUntilTerminal({"task-1"});
  ASSERT_EQ(States(updates["task-1"]), (std::vector{TaskState::kStarting, TaskState::kFailed}));
  const TaskStatus& failed = updates["task-1"].back();
  EXPECT_NE(failed.message.find("/nonexistent/program"), std::string::npos) << failed.message;
  EXPECT_NE(failed.message.find("No such file or directory"), std::string::npos) << failed.message;
  EXPECT_EQ(failed.exit_status, 127);
  ExpectExitStatus(0);
  EXPECT_NE(ReadFile(sandbox_ / "stderr").find("cannot execute"), std::string::npos);
}

TEST_F(Executor, IgnoresRepeatedLaunchOfSameTask) {
  StartExecutor();
  // The task runs until the repeated Launch has been seen (a repeat that came
  // after the task ended would be a reused id, refused).
  const char* command = "while [ ! -e go ]; do sleep 0.01; done; echo once";
  SubscribeAndLaunch({ShellTask("task-1", command)});
  agent_->Send(execmsg::Launch{{ShellTask("task-1", command)}});
  ASSERT_TRUE(WaitForFileContaining(log_, "ignoring the repeated Launch"));
  std::ofstream(sandbox_ / "go").close();
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(States(updates["task-1"]),
            (std::vector{TaskState::kStarting, TaskState::kRunning, TaskState::kFinished}));
  ExpectExitStatus(0);
  EXPECT_EQ(ReadFile(sandbox_ / "stdout"), "once\n");
}

TEST_F(Executor, CommandExecutorRejectsSecondTask) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "sleep 100")});
  agent_->Send(execmsg::Launch{{ShellTask("task-2", "echo two")}});
  std::map<TaskId, std::vector<TaskStatus>> updates;
  while (updates["task-2"].empty()) {
    std::optional<TaskStatus> status = NextUpdate();
    ASSERT_TRUE(status.has_value());
    updates[status->task_id].push_back(*status);
  }
  EXPECT_EQ(updates["task-2"].back().state, TaskState::kError);
  EXPECT_EQ(updates["task-2"].back().reason, Reason::kTaskInvalid);
  agent_->Send(execmsg::Kill{"task-1", 1000});
  auto rest = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(rest["task-1"].back().state, TaskState::kKilled);
  ExpectExitStatus(0);
  EXPECT_FALSE(std::filesystem::exists(sandbox_ / "tasks"));
}

TEST_F(Executor, ReapsOrphansOfTasks) {
  StartExecutor();
  // The inner shell exits at once: its background sleep is orphaned to the executor.
  SubscribeAndLaunch({ShellTask("task-1", "sh -c 'sleep 2 & echo $! > orphan'; sleep 100")});
  ASSERT_EQ(NextUpdate()->state, TaskState::kStarting);
  ASSERT_EQ(NextUpdate()->state, TaskState::kRunning);
  std::string orphan_pid;
  auto deadline = Clock::now() + kWait;
  while (Clock::now() < deadline && orphan_pid.find('\n') == std::string::npos) {
    orphan_pid = ReadFile(sandbox_ / "orphan");
    if (orphan_pid.find('\n') == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_NE(orphan_pid.find('\n'), std::string::npos) << "the task did not write the orphan's pid";
  std::filesystem::path proc = "/proc/" + orphan_pid.substr(0, orphan_pid.find('\n'));
  // Its shell exits right after writing the pid: the orphan's parent becomes the executor.
  std::string expected_parent = "PPid:\t" + std::to_string(pid_) + "\n";
  bool reparented = false;
  deadline = Clock::now() + kWait;
  while (Clock::now() < deadline && std::filesystem::exists(proc) && !reparented) {
    reparented = ReadFile(proc / "status").find(expected_parent) != std::string::npos;
    if (!reparented) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(reparented) << ReadFile(proc / "status");
  // Once it exits, the executor must reap it (an unreaped one stays a zombie).
  deadline = Clock::now() + kWait;
  while (Clock::now() < deadline && std::filesystem::exists(proc)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(std::filesystem::exists(proc)) << ReadFile(proc / "status");
  agent_->Send(execmsg::Kill{"task-1", 1000});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kKilled);
  ExpectExitStatus(0);
}

TEST_F(Executor, SubscribesWhenAgentStartsLater) {
  agent_.reset();
  StartExecutor();
  // The executor runs and retries before anything listens on the socket.
  ASSERT_TRUE(WaitForFileContaining(log_, "subscribing to the agent"));
  agent_ = std::make_unique<FakeAgent>("ipc://" + (dir_ / "agent.sock").string());
  SubscribeAndLaunch({ShellTask("task-1", "true")});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kFinished);
  ExpectExitStatus(0);
}

TEST_F(Executor, ResendsUpdatesToRestartedAgent) {
  StartExecutor();
  SubscribeAndLaunch({ShellTask("task-1", "true")});
  std::vector<TaskStatus> first;
  while (first.empty() || !IsTerminal(first.back().state)) {
    std::optional<TaskStatus> status = NextUpdate(/*ack=*/false);
    ASSERT_TRUE(status.has_value());
    first.push_back(*status);
  }
  // The agent restarts on the same socket; the executor keeps re-sending, in order.
  agent_.reset();
  agent_ = std::make_unique<FakeAgent>("ipc://" + (dir_ / "agent.sock").string());
  std::vector<TaskStatus> again;
  auto deadline = Clock::now() + kWait;
  while (again.size() < first.size()) {
    auto received = agent_->Next(deadline);
    ASSERT_TRUE(received.has_value()) << "no update re-sent to the restarted agent";
    if (auto* update = std::get_if<execmsg::Update>(&received->message)) {
      again.push_back(update->status);
    }
  }
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(again[i].uuid, first[i].uuid) << i;
    EXPECT_EQ(again[i].state, first[i].state) << i;
  }
  for (const TaskStatus& status : first) Ack(status);
  ExpectExitStatus(0);
}

TEST_F(Executor, LooksUpTheProgramInTheTasksOwnPath) {
  // A program only the task's PATH leads to, not the executor's.
  std::filesystem::path bin = dir_ / "task-bin";
  std::filesystem::create_directory(bin);
  std::ofstream(bin / "stoa-test-greet") << "#!/bin/sh\necho greeted\n";
  std::filesystem::permissions(bin / "stoa-test-greet", std::filesystem::perms::owner_all);
  StartExecutor();
  TaskInfo task = ShellTask("task-1", "stoa-test-greet");
  task.command.shell = false;
  task.command.environment = {{"PATH", bin.string() + ":/usr/bin:/bin"}};
  SubscribeAndLaunch({task});
  auto updates = UpdatesUntilTerminal({"task-1"});
  EXPECT_EQ(updates["task-1"].back().state, TaskState::kFinished)
      << updates["task-1"].back().message;
  ExpectExitStatus(0);
  EXPECT_EQ(ReadFile(sandbox_ / "stdout"), "greeted\n");
}

// What a task that owns the executor sandbox of a task group swaps in before
// the next task launches: the root executor's tasks/ directory for a symlink
// to a host directory; or tasks/ for its own directory in which the next
// task's sandbox is a symlink to a host directory, or in which that sandbox's
// stdout is a symlink to a host file.
enum class Swap { kTasksDirectory, kTaskSandbox, kStdout };

class ExecutorSandbox : public Executor, public ::testing::WithParamInterface<Swap> {};

TEST_P(ExecutorSandbox, NextTaskOfTheGroupFailsAndNoHostFileChangesOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the executor gives sandboxes to task users";
  struct passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "needs the user 'nobody'";
  uid_t uid = nobody->pw_uid;
  gid_t gid = nobody->pw_gid;
  namespace fs = std::filesystem;
  // Root's, outside the sandbox: what the task is after.
  fs::path host = dir_ / "host";
  fs::create_directory(host);
  std::ofstream(host / "secret") << "root only\n";
  // As the containerizer leaves it: the executor sandbox is the first task user's.
  ASSERT_EQ(chown(sandbox_.c_str(), uid, gid), 0);
  StartExecutor(/*group=*/true);
  TaskInfo first = ShellTask("task-a", "sleep 100");
  first.command.user = "nobody";
  SubscribeAndLaunch({first});
  ASSERT_EQ(NextUpdate()->state, TaskState::kStarting);
  ASSERT_EQ(NextUpdate()->state, TaskState::kRunning);

  // task-a may rename entries of the sandbox it owns, the root executor's tasks/ too.
  fs::rename(sandbox_ / "tasks", sandbox_ / "tasks.old");
  auto own_directory = [&](const fs::path& path) {
    fs::create_directory(path);
    ASSERT_EQ(chown(path.c_str(), uid, gid), 0);
  };
  switch (GetParam()) {
    case Swap::kTasksDirectory:
      fs::create_directory_symlink(host, sandbox_ / "tasks");
      break;
    case Swap::kTaskSandbox:
      own_directory(sandbox_ / "tasks");
      fs::create_directory_symlink(host, sandbox_ / "tasks" / "task-b");
      break;
    case Swap::kStdout:
      own_directory(sandbox_ / "tasks");
      own_directory(sandbox_ / "tasks" / "task-b");
      fs::create_symlink(host / "secret", sandbox_ / "tasks" / "task-b" / "stdout");
      break;
  }
  TaskInfo second = ShellTask("task-b", "echo taken");
  second.command.user = "nobody";
  agent_->Send(execmsg::Launch{{second}});
  std::vector<TaskStatus> updates;
  while (updates.empty() || !IsTerminal(updates.back().state)) {
    std::optional<TaskStatus> status = NextUpdate();
    ASSERT_TRUE(status.has_value()) << "task-b never ended";
    if (status->task_id == "task-b") updates.push_back(*status);
  }
  EXPECT_EQ(States(updates), (std::vector{TaskState::kStarting, TaskState::kFailed}));
  EXPECT_NE(updates.back().message.find("sandbox"), std::string::npos) << updates.back().message;

  struct stat st {};
  ASSERT_EQ(lstat(host.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the host directory was given away";
  ASSERT_EQ(lstat((host / "secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the host file was given away";
  EXPECT_EQ(ReadFile(host / "secret"), "root only\n");
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(host)) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(entries, std::vector<std::string>{"secret"}) << "something was made on the host";

  agent_->Send(execmsg::Kill{"task-a", 1000});
  auto rest = UpdatesUntilTerminal({"task-a"});
  EXPECT_EQ(rest["task-a"].back().state, TaskState::kKilled);
  ExpectExitStatus(0);
}

INSTANTIATE_TEST_SUITE_P(Swaps, ExecutorSandbox,
                         ::testing::Values(Swap::kTasksDirectory, Swap::kTaskSandbox,
                                           Swap::kStdout),
                         [](const ::testing::TestParamInfo<Swap>& info) {
                           switch (info.param) {
                             case Swap::kTasksDirectory:
                               return "TasksDirectory";
                             case Swap::kTaskSandbox:
                               return "TaskSandbox";
                             case Swap::kStdout:
                               return "Stdout";
                           }
                           return "Unknown";
                         });

TEST_F(Executor, ExitsWithStatus2WhenEnvironmentIsMissing) {
  StartWithEnvironment({"PATH=/usr/bin:/bin"});
  ExpectExitStatus(2);
  EXPECT_NE(ReadFile(log_).find("STOA_AGENT_ENDPOINT"), std::string::npos) << ReadFile(log_);
}

}  // namespace
}  // namespace stoa::executor_test

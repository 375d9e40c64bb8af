#include "master/validation.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace stoa::master {
namespace {

TaskInfo Task(const std::string& id, const std::string& resources) {
  TaskInfo task;
  task.task_id = id;
  task.resources = *Resources::Parse(resources);
  task.command.value = "true";
  return task;
}

TEST(Validation, AcceptsATaskInsideTheOffer) {
  Resources offered = *Resources::Parse("cpus:2;mem:1024;ports:[31000-31010]");
  EXPECT_TRUE(
      ValidateTask(Task("t1", "cpus:1;mem:512;ports:[31000-31000]"), "a1", offered, {}).ok());
}

TEST(Validation, RefusesWithAReasonAPersonCanActOn) {
  Resources offered = *Resources::Parse("cpus:2;mem:1024");
  Status too_big = ValidateTask(Task("t1", "cpus:3;mem:10"), "a1", offered, {});
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.message().find("not in what remains of the offers"), std::string::npos);
  EXPECT_NE(too_big.message().find("task 't1'"), std::string::npos);

  EXPECT_FALSE(ValidateTask(Task("t1", "cpus:1"), "a1", offered, {"t1"}).ok());  // duplicate
  EXPECT_FALSE(ValidateTask(Task("", "cpus:1"), "a1", offered, {}).ok());
  EXPECT_FALSE(ValidateTask(Task("a/b", "cpus:1"), "a1", offered, {}).ok());
  EXPECT_FALSE(ValidateTask(Task(std::string(300, 'x'), "cpus:1"), "a1", offered, {}).ok());
  EXPECT_FALSE(ValidateTask(Task("t1", "disk:10"), "a1", offered, {}).ok());  // no cpus, no mem

  TaskInfo no_command = Task("t1", "cpus:1");
  no_command.command.value.clear();
  EXPECT_NE(ValidateTask(no_command, "a1", offered, {}).message().find("command is empty"),
            std::string::npos);

  TaskInfo elsewhere = Task("t1", "cpus:1");
  elsewhere.agent_id = "a2";
  EXPECT_FALSE(ValidateTask(elsewhere, "a1", offered, {}).ok());
}

// A check that could not run (or would spin) is refused at the ACCEPT with
// the field that is wrong.
TEST(Validation, RefusesChecksThatCannotRun) {
  Resources offered = *Resources::Parse("cpus:2;mem:1024");
  TaskInfo task = Task("t1", "cpus:1");
  task.health_check = HealthCheck{};
  task.health_check->check.port = 8080;
  EXPECT_TRUE(ValidateTask(task, "a1", offered, {}).ok());
  auto refused = [&](const TaskInfo& bad, const std::string& why) {
    Status s = ValidateTask(bad, "a1", offered, {});
    EXPECT_FALSE(s.ok()) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  };
  TaskInfo no_port = task;
  no_port.health_check->check.port = 0;
  refused(no_port, "health check: port 0 is not 1 to 65535");
  TaskInfo spinning = task;
  spinning.health_check->check.interval_seconds = 0;
  refused(spinning, "interval must be longer than 0");
  TaskInfo endless = task;
  endless.health_check->check.timeout_seconds = std::nan("");
  refused(endless, "timeout must be a finite number");
  TaskInfo scheme = task;
  scheme.health_check->check.scheme = "ftp";
  refused(scheme, "scheme 'ftp'");
  TaskInfo grace = task;
  grace.health_check->grace_period_seconds = -1;
  refused(grace, "grace period");
  TaskInfo command = Task("t1", "cpus:1");
  command.check = CheckInfo{};
  command.check->type = CheckType::kCommand;
  refused(command, "check: a COMMAND check needs a command");
  command.check->command = "true";
  EXPECT_TRUE(ValidateTask(command, "a1", offered, {}).ok());
}

TEST(TaskStateMachine, AllowsForwardMovesOnly) {
  EXPECT_TRUE(IsValidTransition(TaskState::kStaging, TaskState::kStarting));
  EXPECT_TRUE(IsValidTransition(TaskState::kStarting, TaskState::kRunning));
  EXPECT_TRUE(IsValidTransition(TaskState::kRunning, TaskState::kKilling));
  EXPECT_TRUE(IsValidTransition(TaskState::kKilling, TaskState::kKilled));
  EXPECT_TRUE(IsValidTransition(TaskState::kRunning, TaskState::kFinished));
  EXPECT_TRUE(IsValidTransition(TaskState::kRunning, TaskState::kUnreachable));
  EXPECT_TRUE(IsValidTransition(TaskState::kUnreachable, TaskState::kRunning));

  EXPECT_FALSE(IsValidTransition(TaskState::kRunning, TaskState::kStarting));
  EXPECT_FALSE(IsValidTransition(TaskState::kRunning, TaskState::kStaging));
  EXPECT_FALSE(IsValidTransition(TaskState::kKilling, TaskState::kRunning));
  for (TaskState terminal :
       {TaskState::kFinished, TaskState::kFailed, TaskState::kKilled, TaskState::kError,
        TaskState::kLost, TaskState::kDropped, TaskState::kGone}) {
    EXPECT_TRUE(IsTerminal(terminal));
    EXPECT_FALSE(IsValidTransition(terminal, TaskState::kRunning)) << ToString(terminal);
  }
  EXPECT_FALSE(IsTerminal(TaskState::kUnreachable));
  EXPECT_STREQ(ToString(TaskState::kFinished), "TASK_FINISHED");
  EXPECT_STREQ(ToString(Reason::kMemoryLimit), "REASON_MEMORY_LIMIT");
}

}  // namespace
}  // namespace stoa::master

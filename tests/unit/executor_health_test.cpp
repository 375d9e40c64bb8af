// Health checks and checks: the HealthChecker's judgement with time moved by
// hand, and the real stoa-executor checking real servers (busybox httpd and
// nc, openssl s_server) next to its task: healthy, then unhealthy and killed,
// the grace period, TCP, COMMAND (as the task, in its sandbox, with its
// environment), HTTPS without certificate checks, and a check's results.
#include <gtest/gtest.h>

#include <limits>

#include "executors/health_checker.hpp"
#include "tests/test_util.hpp"
#include "tests/unit/executor_fixture.hpp"

namespace stoa::executor_test {
namespace {

using executors::CheckVerdict;
using executors::HealthChecker;
using executors::ProbeResult;

ProbeResult Passed() {
  ProbeResult result;
  result.passed = true;
  result.status.type = CheckType::kHttp;
  result.status.http_status_code = 200;
  result.message = "answered 200";
  return result;
}

ProbeResult Failed(int code = 503) {
  ProbeResult result;
  result.status.type = CheckType::kHttp;
  result.status.http_status_code = code;
  result.message = "answered " + std::to_string(code);
  return result;
}

HealthCheck Health(uint32_t consecutive_failures, double grace) {
  HealthCheck health;
  health.check.port = 8080;
  health.check.delay_seconds = 1;
  health.check.interval_seconds = 2;
  health.check.timeout_seconds = 1;
  health.consecutive_failures = consecutive_failures;
  health.grace_period_seconds = grace;
  return health;
}

// One probe started at `at` and ended right away with `result`.
CheckVerdict Probe(HealthChecker& checker, double at, const ProbeResult& result) {
  static uint64_t id = 0;
  EXPECT_LE(checker.NextProbeAt(), at);
  checker.Started(++id, at);
  EXPECT_EQ(checker.NextProbeAt(), std::numeric_limits<double>::infinity());
  return checker.Finished(result, at);
}

TEST(HealthChecker, IgnoresFailuresInTheGracePeriodThenKillsAfterTheLimit) {
  HealthChecker checker = HealthChecker::ForHealth(Health(3, 10), 100);
  EXPECT_EQ(checker.NextProbeAt(), 101);  // after the delay
  EXPECT_FALSE(Probe(checker, 101, Failed()).report);
  EXPECT_EQ(checker.NextProbeAt(), 103);  // an interval after the last one ended
  EXPECT_FALSE(Probe(checker, 109, Failed()).report);
  EXPECT_EQ(checker.consecutive_failures(), 0);
  // Past the grace period every failure counts and is reported.
  CheckVerdict first = Probe(checker, 111, Failed());
  EXPECT_TRUE(first.report);
  EXPECT_EQ(first.healthy, false);
  EXPECT_FALSE(first.kill);
  EXPECT_EQ(first.message, "Health check failed: answered 503");
  EXPECT_EQ(first.cause, "answered 503");
  CheckVerdict healthy = Probe(checker, 113, Passed());
  EXPECT_TRUE(healthy.report);
  EXPECT_EQ(healthy.healthy, true);
  EXPECT_FALSE(Probe(checker, 115, Passed()).report) << "no news: still healthy";
  EXPECT_FALSE(Probe(checker, 117, Failed()).kill);
  EXPECT_FALSE(Probe(checker, 119, Failed()).kill);
  CheckVerdict third = Probe(checker, 121, Failed());
  EXPECT_TRUE(third.report);
  EXPECT_TRUE(third.kill);
  EXPECT_EQ(checker.consecutive_failures(), 3);
}

TEST(HealthChecker, AFirstSuccessEndsTheGracePeriod) {
  HealthChecker checker = HealthChecker::ForHealth(Health(1, 300), 0);
  EXPECT_EQ(Probe(checker, 1, Passed()).healthy, true);
  CheckVerdict failed = Probe(checker, 3, Failed());
  EXPECT_EQ(failed.healthy, false);
  EXPECT_TRUE(failed.kill) << "well inside the grace period, but after a success";
}

TEST(HealthChecker, NeverKillsWithoutALimitAndTimesOut) {
  HealthChecker checker = HealthChecker::ForHealth(Health(0, 0), 0);
  for (double at = 1; at < 40; at += 2) EXPECT_FALSE(Probe(checker, at, Failed()).kill);
  EXPECT_EQ(checker.consecutive_failures(), 20);
  checker.Started(99, 50);
  // An HTTP probe keeps its own timeout; the executor's deadline is a second later.
  EXPECT_EQ(checker.Deadline(), 52);
  CheckVerdict timed_out = checker.TimedOut(52);
  EXPECT_EQ(timed_out.healthy, false);
  EXPECT_NE(timed_out.message.find("timed out"), std::string::npos) << timed_out.message;
  EXPECT_EQ(checker.in_flight(), 0u);
  EXPECT_EQ(checker.NextProbeAt(), 54);

  HealthCheck command = Health(1, 0);
  command.check.type = CheckType::kCommand;
  command.check.command = "true";
  HealthChecker commands = HealthChecker::ForHealth(command, 0);
  commands.Started(1, 5);
  EXPECT_EQ(commands.Deadline(), 6);  // the executor kills a command at its timeout
}

TEST(HealthChecker, AChecksResultsAreReportedWhenTheyChange) {
  CheckInfo check;
  check.delay_seconds = 0;
  HealthChecker checker = HealthChecker::ForCheck(check, 0);
  EXPECT_FALSE(checker.is_health());
  CheckVerdict first = Probe(checker, 0, Failed(404));
  EXPECT_TRUE(first.report);
  EXPECT_EQ(first.check_status->http_status_code, 404);
  EXPECT_FALSE(first.healthy.has_value());
  EXPECT_FALSE(Probe(checker, 10, Failed(404)).report);
  CheckVerdict ready = Probe(checker, 20, Passed());
  EXPECT_TRUE(ready.report);
  EXPECT_EQ(ready.check_status->http_status_code, 200);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Probe(checker, 30 + 10 * i, Failed()).kill);
}

// ---- the real executor ----

class ExecutorHealth : public Executor {
 protected:
  HealthCheck HttpCheck(int port, const std::string& path) {
    HealthCheck health;
    health.check.type = CheckType::kHttp;
    health.check.port = static_cast<uint32_t>(port);
    health.check.path = path;
    health.check.delay_seconds = 0;
    health.check.interval_seconds = 0.2;
    health.check.timeout_seconds = 2;
    health.consecutive_failures = 2;
    health.grace_period_seconds = 30;  // until the server listens
    return health;
  }

  // A task serving its sandbox's www/ over HTTP on `port` (busybox httpd).
  TaskInfo WebTask(int port) {
    std::filesystem::create_directories(sandbox_ / "www");
    std::ofstream(sandbox_ / "www" / "index.html") << "hello\n";
    return ShellTask("web",
                     "exec busybox httpd -f -p 127.0.0.1:" + std::to_string(port) + " -h www");
  }

  // The next update that is not the task's STARTING or first RUNNING.
  std::optional<TaskStatus> NextAfterStart() {
    while (std::optional<TaskStatus> status = NextUpdate()) {
      bool start = status->state == TaskState::kStarting ||
                   (status->state == TaskState::kRunning && status->reason == Reason::kNone);
      if (!start) return status;
    }
    return std::nullopt;
  }
};

TEST_F(ExecutorHealth, AnHttpCheckReportsHealthyThenKillsTheTaskWhenItFails) {
  int port = stoa::testing::FreePort();
  TaskInfo task = WebTask(port);
  task.health_check = HttpCheck(port, "/index.html");
  task.kill_grace_period_ms = 2000;
  StartExecutor();
  SubscribeAndLaunch({task});
  std::optional<TaskStatus> healthy = NextAfterStart();
  ASSERT_TRUE(healthy.has_value());
  EXPECT_EQ(healthy->state, TaskState::kRunning);
  EXPECT_EQ(healthy->reason, Reason::kTaskHealthCheckStatusUpdated);
  EXPECT_EQ(healthy->healthy, std::optional<bool>(true));
  EXPECT_NE(healthy->message.find("answered 200"), std::string::npos) << healthy->message;

  // The page goes away: 404 is a failure; the second in a row kills the task.
  std::filesystem::remove(sandbox_ / "www" / "index.html");
  auto updates = UpdatesUntilTerminal({"web"});
  ASSERT_EQ(States(updates["web"]), (std::vector{TaskState::kRunning, TaskState::kRunning,
                                                 TaskState::kKilling, TaskState::kKilled}));
  for (const TaskStatus& status : updates["web"]) {
    EXPECT_EQ(status.healthy, std::optional<bool>(false)) << ToString(status.state);
    EXPECT_EQ(status.reason, Reason::kTaskHealthCheckStatusUpdated) << ToString(status.state);
  }
  EXPECT_NE(updates["web"][0].message.find("answered 404"), std::string::npos)
      << updates["web"][0].message;
  const TaskStatus& killed = updates["web"].back();
  EXPECT_NE(killed.message.find("failed its health check 2 times in a row"), std::string::npos)
      << killed.message;
  ExpectExitStatus(0);
}

TEST_F(ExecutorHealth, FailuresInTheGracePeriodAreNotReported) {
  int port = stoa::testing::FreePort();  // nothing listens there
  TaskInfo task = ShellTask("idle", "sleep 100");
  HealthCheck health;
  health.check.type = CheckType::kTcp;
  health.check.port = static_cast<uint32_t>(port);
  health.check.delay_seconds = 0;
  health.check.interval_seconds = 0.1;
  health.check.timeout_seconds = 1;
  health.consecutive_failures = 1;
  health.grace_period_seconds = 1.5;
  task.health_check = health;
  StartExecutor();
  SubscribeAndLaunch({task});
  ASSERT_EQ(NextUpdate()->state, TaskState::kStarting);
  std::optional<TaskStatus> running = NextUpdate();
  ASSERT_TRUE(running && running->state == TaskState::kRunning);
  EXPECT_FALSE(running->healthy.has_value());
  // About fifteen probes failed in the grace period; none was reported.
  std::optional<TaskStatus> unhealthy = NextUpdate();
  ASSERT_TRUE(unhealthy.has_value());
  EXPECT_EQ(unhealthy->state, TaskState::kRunning);
  EXPECT_EQ(unhealthy->healthy, std::optional<bool>(false));
  EXPECT_GE(unhealthy->timestamp - running->timestamp, 1.5);
  EXPECT_NE(unhealthy->message.find("cannot connect to 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << unhealthy->message;
  auto updates = UpdatesUntilTerminal({"idle"});
  EXPECT_EQ(States(updates["idle"]), (std::vector{TaskState::kKilling, TaskState::kKilled}));
}

TEST_F(ExecutorHealth, ATcpCheckFollowsTheListener) {
  int port = stoa::testing::FreePort();
  TaskInfo task = ShellTask("tcp", "busybox nc -ll -p " + std::to_string(port) +
                                       " -e true & echo $! > nc.pid; while :; do sleep 0.1; done");
  HealthCheck health;
  health.check.type = CheckType::kTcp;
  health.check.port = static_cast<uint32_t>(port);
  health.check.delay_seconds = 0;
  health.check.interval_seconds = 0.2;
  health.consecutive_failures = 1;
  health.grace_period_seconds = 30;
  task.health_check = health;
  StartExecutor();
  SubscribeAndLaunch({task});
  std::optional<TaskStatus> healthy = NextAfterStart();
  ASSERT_TRUE(healthy.has_value());
  EXPECT_EQ(healthy->healthy, std::optional<bool>(true)) << healthy->message;
  EXPECT_EQ(healthy->message,
            "Health check passed: connected to 127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(WaitForFileContaining(sandbox_ / "nc.pid", "\n"));
  pid_t listener = std::stoi(ReadFile(sandbox_ / "nc.pid"));
  ASSERT_EQ(kill(listener, SIGKILL), 0);
  auto updates = UpdatesUntilTerminal({"tcp"});
  ASSERT_EQ(States(updates["tcp"]),
            (std::vector{TaskState::kRunning, TaskState::kKilling, TaskState::kKilled}));
  EXPECT_EQ(updates["tcp"][0].healthy, std::optional<bool>(false));
  EXPECT_NE(updates["tcp"][0].message.find("Connection refused"), std::string::npos)
      << updates["tcp"][0].message;
}

// A COMMAND check runs as the task does: in its sandbox, with its environment.
TEST_F(ExecutorHealth, ACommandCheckRunsInTheTasksSandboxWithItsEnvironment) {
  TaskInfo task = ShellTask("cmd", "sleep 100");
  task.command.environment = {{"GREETING", "hi"}};
  HealthCheck health;
  health.check.type = CheckType::kCommand;
  health.check.command =
      "test \"$GREETING\" = hi && test \"$(pwd)\" = \"$MESOS_SANDBOX\" && test ! -e sick";
  health.check.delay_seconds = 0;
  health.check.interval_seconds = 0.2;
  health.check.timeout_seconds = 5;
  health.consecutive_failures = 1;
  health.grace_period_seconds = 0;
  task.health_check = health;
  StartExecutor();
  SubscribeAndLaunch({task});
  std::optional<TaskStatus> healthy = NextAfterStart();
  ASSERT_TRUE(healthy.has_value());
  EXPECT_EQ(healthy->healthy, std::optional<bool>(true)) << healthy->message;
  EXPECT_EQ(healthy->message, "Health check passed: command exited with status 0");
  std::ofstream(sandbox_ / "sick") << "1";
  auto updates = UpdatesUntilTerminal({"cmd"});
  ASSERT_EQ(States(updates["cmd"]),
            (std::vector{TaskState::kRunning, TaskState::kKilling, TaskState::kKilled}));
  EXPECT_EQ(updates["cmd"][0].message, "Health check failed: command exited with status 1");
  EXPECT_EQ(updates["cmd"].back().healthy, std::optional<bool>(false));
}

// A command that outlives its timeout is killed (its whole process group) and fails.
TEST_F(ExecutorHealth, ACommandCheckPastItsTimeoutFails) {
  TaskInfo task = ShellTask("slow", "sleep 100");
  HealthCheck health;
  health.check.type = CheckType::kCommand;
  health.check.command = "echo $$ > check.pid; sleep 100";
  health.check.delay_seconds = 0;
  health.check.interval_seconds = 10;
  health.check.timeout_seconds = 0.3;
  health.consecutive_failures = 1;
  health.grace_period_seconds = 0;
  task.health_check = health;
  StartExecutor();
  SubscribeAndLaunch({task});
  std::optional<TaskStatus> unhealthy = NextAfterStart();
  ASSERT_TRUE(unhealthy.has_value());
  EXPECT_EQ(unhealthy->healthy, std::optional<bool>(false));
  EXPECT_NE(unhealthy->message.find("COMMAND check timed out"), std::string::npos)
      << unhealthy->message;
  auto updates = UpdatesUntilTerminal({"slow"});
  EXPECT_EQ(updates["slow"].back().state, TaskState::kKilled);
  ASSERT_TRUE(WaitForFileContaining(sandbox_ / "check.pid", "\n"));
  pid_t check = std::stoi(ReadFile(sandbox_ / "check.pid"));
  EXPECT_TRUE(stoa::testing::WaitFor([&] { return kill(check, 0) != 0; }))
      << "the check command was left running";
  ExpectExitStatus(0);
}

// HTTPS against a real TLS server with a self-signed certificate: passed, as
// Mesos's checks do not verify it; plain HTTP against it fails.
TEST_F(ExecutorHealth, AnHttpsCheckDoesNotVerifyTheCertificate) {
  if (system("openssl version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl is not installed (scripts/install-deps.sh installs it)";
  }
  std::string make_certificate =
      "cd " + sandbox_.string() +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout key.pem -out cert.pem -subj /CN=localhost -days 1 > /dev/null 2>&1";
  ASSERT_EQ(system(make_certificate.c_str()), 0);
  int port = stoa::testing::FreePort();
  TaskInfo secure = ShellTask(
      "tls", "exec openssl s_server -quiet -www -accept " + std::to_string(port) + " -cert " +
                 (sandbox_ / "cert.pem").string() + " -key " + (sandbox_ / "key.pem").string());
  secure.health_check = HttpCheck(port, "/");
  secure.health_check->check.scheme = "https";
  TaskInfo plain = ShellTask("plain", "sleep 100");
  plain.health_check = HttpCheck(port, "/");
  plain.health_check->grace_period_seconds = 0;
  plain.health_check->consecutive_failures = 1;
  plain.health_check->check.delay_seconds = 1;  // once the server listens
  StartExecutor(/*group=*/true);
  SubscribeAndLaunch({secure, plain});
  std::map<TaskId, std::vector<TaskStatus>> health;
  std::set<TaskId> running = {"tls", "plain"};
  while (health["tls"].empty() || health["plain"].empty()) {
    std::optional<TaskStatus> status = NextUpdate();
    ASSERT_TRUE(status.has_value()) << "no health result for both tasks";
    if (status->reason == Reason::kTaskHealthCheckStatusUpdated) {
      health[status->task_id].push_back(*status);
    }
    if (IsTerminal(status->state)) running.erase(status->task_id);
  }
  EXPECT_EQ(health["tls"][0].healthy, std::optional<bool>(true)) << health["tls"][0].message;
  EXPECT_EQ(health["plain"][0].healthy, std::optional<bool>(false)) << health["plain"][0].message;
  // It reached the server, which does not speak plain HTTP.
  EXPECT_EQ(health["plain"][0].message.find("Couldn't connect"), std::string::npos)
      << health["plain"][0].message;
  agent_->Send(execmsg::Shutdown{500});
  UpdatesUntilTerminal(running);
  ExpectExitStatus(0);
}

// A check (Marathon's readiness) reports its HTTP status whenever it changes,
// and kills nothing; every later update of the task carries the last one.
TEST_F(ExecutorHealth, ACheckReportsItsResultsAndKillsNothing) {
  int port = stoa::testing::FreePort();
  TaskInfo task = WebTask(port);
  CheckInfo check;
  check.type = CheckType::kHttp;
  check.port = static_cast<uint32_t>(port);
  check.path = "/index.html";
  check.delay_seconds = 0;
  check.interval_seconds = 0.2;
  check.timeout_seconds = 2;
  task.check = check;
  StartExecutor();
  SubscribeAndLaunch({task});
  // Until httpd listens the check has no answer; then 200.
  std::optional<TaskStatus> status;
  do {
    status = NextAfterStart();
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->reason, Reason::kTaskCheckStatusUpdated);
    EXPECT_FALSE(status->healthy.has_value());
    ASSERT_TRUE(status->check_status.has_value());
  } while (status->check_status->http_status_code != 200);
  std::filesystem::remove(sandbox_ / "www" / "index.html");
  status = NextUpdate();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, TaskState::kRunning);
  EXPECT_EQ(status->check_status->http_status_code, 404);
  agent_->Send(execmsg::Kill{"web", 2000});
  auto updates = UpdatesUntilTerminal({"web"});
  ASSERT_EQ(States(updates["web"]), (std::vector{TaskState::kKilling, TaskState::kKilled}));
  for (const TaskStatus& end : updates["web"]) {
    ASSERT_TRUE(end.check_status.has_value());
    EXPECT_EQ(end.check_status->http_status_code, 404);
  }
}

TEST_F(ExecutorHealth, ATaskWithACheckThatCannotRunIsRefused) {
  TaskInfo task = ShellTask("bad", "sleep 100");
  task.health_check = HealthCheck{};
  task.health_check->check.port = 0;
  StartExecutor();
  SubscribeAndLaunch({task});
  std::optional<TaskStatus> refused = NextUpdate();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->state, TaskState::kError);
  EXPECT_EQ(refused->reason, Reason::kTaskInvalid);
  EXPECT_NE(refused->message.find("port 0"), std::string::npos) << refused->message;
}

}  // namespace
}  // namespace stoa::executor_test

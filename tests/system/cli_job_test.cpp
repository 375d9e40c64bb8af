// `stoa job` as a user runs it against real `stoa master`, `stoa agent` and
// `stoa batch` processes: each command's exit code and what it prints, and
// the batch framework's state over HTTP to check that the change happened.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/http_server.hpp"
#include "tests/system/local_cluster.hpp"

namespace stoa {
namespace {

using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

class CliJobTest : public ::testing::Test, protected stoa::testing::LocalCluster {
 protected:
  void SetUp() override {
    StartMaster();
    StartAgent("agent", {"--resources=cpus:4;mem:4096;disk:1024;ports:[31000-31099]"});
    batch_port_ = FreePort();
    processes_.push_back(std::make_unique<Process>(
        std::vector<std::string>{bin_ + "/stoa", "batch", "--master=" + master_, "--ip=127.0.0.1",
                                 "--http_port=" + std::to_string(batch_port_),
                                 "--work_dir=" + dir_.path() + "/batch",
                                 "--task_retry_delay=200ms"},
        dir_.path() + "/batch.log"));
    batch_ = "--batch=http://127.0.0.1:" + std::to_string(batch_port_);
    ASSERT_TRUE(WaitFor([&] {
      auto reply = HttpCall("GET", "127.0.0.1", batch_port_, "/ping");
      return reply.ok() && reply->body == "pong";
    })) << Log("batch");
  }

  // Runs `stoa job ARGS... --batch=...` to its end.
  CliRun Job(std::vector<std::string> args, bool with_batch = true) {
    std::vector<std::string> argv = {bin_ + "/stoa", "job"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (with_batch) argv.push_back(batch_);
    std::string output = dir_.path() + "/cli-" + std::to_string(++runs_) + ".out";
    Process process(argv, output);
    CliRun run;
    run.code = process.Wait(std::chrono::seconds(120));
    run.output = process.Output();
    return run;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  HttpReply Call(const std::string& method, const std::string& path) {
    auto reply = HttpCall(method, "127.0.0.1", batch_port_, path);
    return reply.ok() ? *reply : HttpReply{};
  }
  json Get(const std::string& path) {
    HttpReply reply = Call("GET", path);
    return reply.status == 200 ? json::parse(reply.body, nullptr, false) : json::object();
  }

  // The run id `stoa job run` printed ("started run ID of JOB").
  static std::string StartedRun(const std::string& output) {
    std::smatch match;
    if (!std::regex_search(output, match, std::regex("started run (\\S+) of "))) return "";
    return match[1];
  }

  int batch_port_ = 0;
  std::string batch_;
  int runs_ = 0;
};

constexpr const char* kTwentyTrue = R"({"id": "many", "description": "20 tasks, 5 at once",
  "run": {"cmd": "true", "cpus": 0.01, "mem": 32, "completions": 20, "parallelism": 5}})";
constexpr const char* kTwoEcho = R"({"id": "many",
  "run": {"cmd": "echo hello from a batch task; echo to stderr >&2", "cpus": 0.01, "mem": 32,
          "completions": 2, "parallelism": 2}})";

TEST_F(CliJobTest, AddsListsRunsFollowsAndRemovesAJobOfManyTasks) {
  CliRun added = Job({"add", WriteFile("many.json", kTwentyTrue)});
  ASSERT_EQ(added.code, 0) << added.output << Log("batch");
  EXPECT_NE(added.output.find("created job many (POST /v1/jobs)"), std::string::npos)
      << added.output;
  EXPECT_EQ(Get("/v1/jobs/many")["run"]["completions"], 20);

  CliRun listed = Job({"list"});
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_TRUE(std::regex_search(listed.output, std::regex("^ID +SCHEDULE +ACTIVE +LAST SUCCESS")))
      << listed.output;
  EXPECT_TRUE(std::regex_search(listed.output, std::regex("\nmany +- +0 +- +- +0 +0\n")))
      << listed.output;

  // run --wait: progress lines (stdout is a file here: plain lines, no \r),
  // the last one at 20/20, and exit 0.
  CliRun ran = Job({"run", "many", "--wait"});
  ASSERT_EQ(ran.code, 0) << ran.output << Log("batch");
  std::string run_id = StartedRun(ran.output);
  ASSERT_FALSE(run_id.empty()) << ran.output;
  EXPECT_NE(ran.output.find("many " + run_id +
                            ": SUCCESS [####################] 20/20 succeeded, 0 failed"),
            std::string::npos)
      << ran.output;
  EXPECT_NE(
      ran.output.find("run " + run_id + " of many succeeded: 20/20 tasks succeeded, 0 failed"),
      std::string::npos)
      << ran.output;
  EXPECT_EQ(ran.output.find('\r'), std::string::npos) << ran.output;
  json history = Get("/v1/jobs/many?embed=history")["history"];
  ASSERT_EQ(history["successCount"], 1) << history.dump();
  EXPECT_EQ(history["successfulFinishedRuns"][0]["tasksSucceeded"], 20);

  CliRun listed_after = Job({"list"});
  EXPECT_TRUE(
      std::regex_search(listed_after.output, std::regex("\nmany +- +0 +\\d+s ago +- +1 +0\n")))
      << listed_after.output;
  CliRun listed_json = Job({"list", "--json"});
  ASSERT_EQ(listed_json.code, 0) << listed_json.output;
  json jobs = json::parse(listed_json.output, nullptr, false);
  ASSERT_TRUE(jobs.is_array()) << listed_json.output;
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["id"], "many");
  EXPECT_EQ(jobs[0]["historySummary"]["successCount"], 1);

  // history: the run with its status, tasks ok and failed.
  CliRun shown = Job({"history", "many"});
  ASSERT_EQ(shown.code, 0) << shown.output;
  EXPECT_TRUE(std::regex_search(
      shown.output, std::regex("^job many: 1 success \\(last \\d+s ago\\), 0 failures\n")))
      << shown.output;
  EXPECT_TRUE(std::regex_search(shown.output, std::regex(run_id + " +SUCCESS +\\d{4}-\\d\\d-\\d\\d "
                                                                  "\\d\\d:\\d\\d:\\d\\d +[0-9.]+s "
                                                                  "+20 +0 +-\n")))
      << shown.output;
  CliRun shown_json = Job({"history", "many", "--json"});
  json history_json = json::parse(shown_json.output, nullptr, false);
  ASSERT_TRUE(history_json.is_object()) << shown_json.output;
  EXPECT_EQ(history_json["successfulFinishedRuns"][0]["id"], run_id);

  // The same id again: the file replaces the job (PUT); its tasks print.
  CliRun updated = Job({"add", WriteFile("many2.json", kTwoEcho)});
  ASSERT_EQ(updated.code, 0) << updated.output;
  EXPECT_NE(updated.output.find("updated job many (PUT /v1/jobs/many; its schedules are kept)"),
            std::string::npos)
      << updated.output;
  EXPECT_EQ(Get("/v1/jobs/many")["run"]["completions"], 2);
  CliRun echoed = Job({"run", "many", "--wait"});
  ASSERT_EQ(echoed.code, 0) << echoed.output << Log("batch");
  std::string echo_run = StartedRun(echoed.output);
  EXPECT_NE(echoed.output.find("2/2 succeeded"), std::string::npos) << echoed.output;

  // logs: the newest run by default, a header per task, each task's stdout.
  CliRun logs = Job({"logs", "many"});
  ASSERT_EQ(logs.code, 0) << logs.output;
  EXPECT_NE(logs.output.find("the newest run of many: " + echo_run + " (SUCCESS"),
            std::string::npos)
      << logs.output;
  EXPECT_EQ(Occurrences(logs.output, "hello from a batch task\n"), 2u) << logs.output;
  EXPECT_TRUE(std::regex_search(logs.output,
                                std::regex("==> many\\S+ \\(TASK_FINISHED, exit 0\\) on \\S+ <==\n"
                                           "hello from a batch task\n")))
      << logs.output;
  EXPECT_EQ(logs.output.find("to stderr"), std::string::npos) << logs.output;
  CliRun errors = Job({"logs", "many", echo_run, "--stderr"});
  ASSERT_EQ(errors.code, 0) << errors.output;
  EXPECT_EQ(Occurrences(errors.output, "to stderr\n"), 2u) << errors.output;
  EXPECT_EQ(errors.output.find("hello from"), std::string::npos) << errors.output;
  // A named run: the 20 tasks of `true`, each under its header.
  CliRun twenty = Job({"logs", "many", run_id});
  ASSERT_EQ(twenty.code, 0) << twenty.output;
  EXPECT_EQ(Occurrences(twenty.output, "==> many"), 20u) << twenty.output;

  CliRun removed = Job({"remove", "many"});
  ASSERT_EQ(removed.code, 0) << removed.output;
  EXPECT_NE(removed.output.find("removed job many"), std::string::npos) << removed.output;
  EXPECT_EQ(Call("GET", "/v1/jobs/many").status, 404);
  CliRun gone = Job({"history", "many"});
  EXPECT_EQ(gone.code, 1);
  EXPECT_NE(gone.output.find("Job 'many' does not exist (HTTP 404)\n  `stoa job list`"),
            std::string::npos)
      << gone.output;
  CliRun empty = Job({"list"});
  EXPECT_EQ(empty.code, 0);
  EXPECT_NE(empty.output.find("no jobs"), std::string::npos) << empty.output;
}

TEST_F(CliJobTest, AFailingRunExitsOneWithItsReasonAndRefusalsSayWhatToDo) {
  ASSERT_EQ(Job({"add", WriteFile("fails.json", R"({"id": "fails",
    "run": {"cmd": "echo about to fail; exit 3", "cpus": 0.01, "mem": 32}})")})
                .code,
            0);
  CliRun failed = Job({"run", "fails", "--wait"});
  EXPECT_EQ(failed.code, 1) << failed.output << Log("batch");
  std::string run_id = StartedRun(failed.output);
  ASSERT_FALSE(run_id.empty()) << failed.output;
  EXPECT_NE(failed.output.find("stoa job run: the run " + run_id + " of fails FAILED: task fails"),
            std::string::npos)
      << failed.output;
  EXPECT_NE(failed.output.find("ended TASK_FAILED"), std::string::npos) << failed.output;
  EXPECT_NE(failed.output.find("(0/1 tasks succeeded, 1 failed)"), std::string::npos)
      << failed.output;
  EXPECT_NE(failed.output.find("`stoa job logs fails " + run_id + "`"), std::string::npos)
      << failed.output;

  CliRun history = Job({"history", "fails"});
  ASSERT_EQ(history.code, 0) << history.output;
  EXPECT_TRUE(std::regex_search(history.output,
                                std::regex(run_id + " +FAILED .* +0 +1 +task fails\\S+ ended "
                                                    "TASK_FAILED")))
      << history.output;
  CliRun logs = Job({"logs", "fails"});
  EXPECT_EQ(logs.code, 0) << logs.output;
  EXPECT_NE(logs.output.find("about to fail\n"), std::string::npos) << logs.output;

  // A job with a run under way is kept unless --stop-runs.
  ASSERT_EQ(Job({"add", WriteFile("sleepy.json", R"({"id": "sleepy",
    "run": {"cmd": "sleep 600", "cpus": 0.01, "mem": 32}})")})
                .code,
            0);
  CliRun started = Job({"run", "sleepy"});
  ASSERT_EQ(started.code, 0) << started.output;
  CliRun kept = Job({"remove", "sleepy"});
  EXPECT_EQ(kept.code, 1) << kept.output;
  EXPECT_NE(kept.output.find("There are active job runs. Override with stopCurrentJobRuns=true "
                             "(HTTP 409)\n  pass --stop-runs"),
            std::string::npos)
      << kept.output;
  EXPECT_EQ(Call("GET", "/v1/jobs/sleepy").status, 200);
  CliRun stopped = Job({"remove", "sleepy", "--stop-runs"});
  EXPECT_EQ(stopped.code, 0) << stopped.output;
  EXPECT_EQ(Call("GET", "/v1/jobs/sleepy").status, 404);

  // What the framework refuses: each field's path and why (422).
  CliRun invalid = Job({"add", WriteFile("low.json", R"({"id": "low",
    "run": {"cmd": "true", "mem": 16}})")});
  EXPECT_EQ(invalid.code, 1);
  EXPECT_NE(invalid.output.find("low.json: Object is not valid (HTTP 422)\n  /run/mem: "),
            std::string::npos)
      << invalid.output;
  CliRun unknown = Job({"run", "nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.output.find("Job 'nope' does not exist (HTTP 404)"), std::string::npos)
      << unknown.output;

  // Before any request: not JSON (line and column), not an object, no file, usage.
  CliRun bad_json = Job({"add", WriteFile("bad.json", "{\n  \"id\": \"x\",\n  run: 1\n}\n")});
  EXPECT_EQ(bad_json.code, 2);
  EXPECT_NE(bad_json.output.find("bad.json is not JSON: line 3, column 3"), std::string::npos)
      << bad_json.output;
  CliRun array = Job({"add", WriteFile("array.json", "[1]")});
  EXPECT_EQ(array.code, 2);
  EXPECT_NE(array.output.find("holds array, not a job definition"), std::string::npos)
      << array.output;
  CliRun missing = Job({"add", dir_.path() + "/nothing.json"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("No such file or directory"), std::string::npos) << missing.output;
  CliRun usage = Job({"run"});
  EXPECT_EQ(usage.code, 2) << usage.output;
  EXPECT_NE(usage.output.find("id is required"), std::string::npos) << usage.output;

  EXPECT_EQ(Get("/v1/jobs").size(), 1u);  // only `fails`
}

TEST_F(CliJobTest, NothingListeningIsAClearErrorWithinSeconds) {
  std::string nobody = "http://127.0.0.1:" + std::to_string(FreePort());
  Process list({bin_ + "/stoa", "job", "list", "--batch=" + nobody}, dir_.path() + "/nobody.out");
  ASSERT_EQ(list.Wait(std::chrono::seconds(10)), 1) << list.Output();  // -1: still waiting
  EXPECT_NE(list.Output().find("no batch framework answers at " + nobody), std::string::npos)
      << list.Output();
  EXPECT_NE(list.Output().find("point --batch or $STOA_BATCH at it"), std::string::npos)
      << list.Output();

  // $STOA_BATCH when no --batch is given.
  setenv("STOA_BATCH", nobody.c_str(), 1);
  CliRun from_env = Job({"run", "many", "--wait"}, false);
  unsetenv("STOA_BATCH");
  EXPECT_EQ(from_env.code, 1);
  EXPECT_NE(from_env.output.find("no batch framework answers at " + nobody), std::string::npos)
      << from_env.output;

  CliRun bad_address = Job({"list", "--batch=ftp://127.0.0.1:1"}, false);
  EXPECT_EQ(bad_address.code, 2);
  EXPECT_NE(bad_address.output.find("--batch: 'ftp://127.0.0.1:1' is not http://HOST:PORT"),
            std::string::npos)
      << bad_address.output;
}

}  // namespace
}  // namespace stoa

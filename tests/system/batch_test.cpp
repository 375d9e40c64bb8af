// `stoa batch` on a real master and agent, driven over Metronome's REST API as
// a Metronome user would with curl: its documented examples, runs of many
// tasks, retries, deadlines and pipelines.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/http_server.hpp"
#include "tests/system/local_cluster.hpp"

namespace stoa::system_test {
namespace {

using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

class BatchTest : public ::testing::Test, protected stoa::testing::LocalCluster {
 protected:
  void SetUp() override {
    StartMaster();
    StartAgent("agent", {"--resources=cpus:8;mem:8192;disk:1024;ports:[31000-31099]"});
    batch_http_ = FreePort();
    batch_ = std::make_unique<Process>(
        std::vector<std::string>{bin_ + "/stoa", "batch", "--master=" + master_, "--ip=127.0.0.1",
                                 "--http_port=" + std::to_string(batch_http_),
                                 "--work_dir=" + dir_.path() + "/batch",
                                 "--task_retry_delay=200ms"},
        dir_.path() + "/batch.log");
    ASSERT_TRUE(WaitFor([&] { return Call("GET", "/ping").body == "pong"; })) << Log("batch");
  }

  HttpReply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", batch_http_, path, body);
    return reply.ok() ? *reply : HttpReply{};
  }
  json Get(const std::string& path) {
    HttpReply reply = Call("GET", path);
    return reply.status == 200 ? json::parse(reply.body, nullptr, false) : json::object();
  }
  json History(const std::string& job) {
    return Get("/v1/jobs/" + job + "?embed=history").value("history", json::object());
  }
  // Runs that ended, successes and failures.
  size_t Finished(const std::string& job) {
    json history = History(job);
    return history.value("successCount", 0) + history.value("failureCount", 0);
  }
  std::string StartRun(const std::string& job) {
    HttpReply started = Call("POST", "/v1/jobs/" + job + "/runs");
    EXPECT_EQ(started.status, 201) << started.body;
    return json::parse(started.body, nullptr, false).value("id", "");
  }
  static json Job(const std::string& id, const std::string& cmd) {
    return {{"id", id}, {"run", {{"cmd", cmd}, {"cpus", 0.01}, {"mem", 32}, {"disk", 0}}}};
  }

  int batch_http_ = 0;
  std::unique_ptr<Process> batch_;
};

// Metronome's documented example job (v1/examples/job.json) and schedule
// (v1/examples/schedule.json), minus the Docker image and the artifact,
// which Stoa's root filesystem and sandbox replace.
TEST_F(BatchTest, MetronomesExampleJobAndScheduleAreAcceptedUnchanged) {
  const char* example = R"({
  "description": "Example Application",
  "id": "prod.example.app",
  "labels": {
    "location": "olympus",
    "owner": "zeus"
  },
  "schedules": [],
  "run": {
    "cmd": "nuke --dry --master local",
    "cpus": 1.5,
    "mem": 32,
    "disk": 128,
    "env": {
      "MON": "test",
      "CONNECT": "direct"
    },
    "maxLaunchDelay": 3600,
    "networks": [{
      "name": "calico",
      "mode": "container"
    }],
    "placement": {
      "constraints": [
        {
          "attribute": "rack",
          "operator": "EQ",
          "value": "rack-2"
        }
      ]
    },
    "restart": {
      "activeDeadlineSeconds": 120,
      "policy": "NEVER"
    },
    "user": "root",
    "volumes": [
      {
        "containerPath": "/mnt/test",
        "hostPath": "/etc/guest",
        "mode": "RW"
      }
    ]
  }
})";
  const char* schedule = R"({
  "id": "everyminute",
  "cron": "* * * * *",
  "concurrencyPolicy": "ALLOW",
  "enabled": true,
  "startingDeadlineSeconds": 60,
  "timezone": "America/Chicago"
})";
  HttpReply created = Call("POST", "/v1/jobs", example);
  ASSERT_EQ(created.status, 201) << created.body;
  json job = Get("/v1/jobs/prod.example.app");
  EXPECT_EQ(job["id"], "prod.example.app");
  EXPECT_EQ(job["description"], "Example Application");
  EXPECT_EQ(job["labels"]["owner"], "zeus");
  EXPECT_EQ(job["run"]["cpus"], 1.5);
  EXPECT_EQ(job["run"]["env"]["CONNECT"], "direct");
  EXPECT_EQ(job["run"]["placement"]["constraints"][0]["operator"], "IS");  // Metronome's synonym
  EXPECT_EQ(job["run"]["restart"]["activeDeadlineSeconds"], 120);
  EXPECT_EQ(job["run"]["volumes"][0]["hostPath"], "/etc/guest");
  EXPECT_EQ(job["schedules"], json::array());

  HttpReply scheduled = Call("POST", "/v1/jobs/prod.example.app/schedules", schedule);
  ASSERT_EQ(scheduled.status, 201) << scheduled.body;
  json schedules = Get("/v1/jobs/prod.example.app/schedules");
  ASSERT_EQ(schedules.size(), 1u) << schedules.dump();
  EXPECT_EQ(schedules[0]["id"], "everyminute");
  EXPECT_EQ(schedules[0]["timezone"], "America/Chicago");
  // The next minute, as Metronome writes times: 2016-07-15T13:02:59.735+0000.
  std::string next = schedules[0].value("nextRunAt", "");
  ASSERT_EQ(next.size(), 28u) << next;
  EXPECT_EQ(next.substr(16), ":00.000+0000");
  EXPECT_EQ(Get("/v1/jobs/prod.example.app")["schedules"][0]["id"], "everyminute");

  // Conflicts and what is not there get Metronome's codes.
  EXPECT_EQ(Call("POST", "/v1/jobs", example).status, 409);
  EXPECT_EQ(Call("GET", "/v1/jobs/nope").status, 404);
  EXPECT_EQ(Call("POST", "/v1/jobs/prod.example.app/schedules", schedule).status, 409);
  EXPECT_EQ(Call("DELETE", "/v1/jobs/prod.example.app/schedules/everyminute").status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/jobs/prod.example.app").status, 200);
  EXPECT_EQ(Call("GET", "/v1/jobs/prod.example.app").status, 404);
}

TEST_F(BatchTest, BadInputGetsAnErrorAndChangesNothing) {
  HttpReply garbage = Call("POST", "/v1/jobs", "{not json");
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  json low = Job("low", "true");
  low["run"]["mem"] = 16;
  HttpReply invalid = Call("POST", "/v1/jobs", low.dump());
  ASSERT_EQ(invalid.status, 422) << invalid.body;
  json body = json::parse(invalid.body);
  EXPECT_EQ(body["message"], "Object is not valid");
  EXPECT_EQ(body["details"][0]["path"], "/run/mem");
  HttpReply cron = Call("POST", "/v1/jobs", Job("cron", "true").dump());
  ASSERT_EQ(cron.status, 201);
  HttpReply bad_cron =
      Call("POST", "/v1/jobs/cron/schedules", R"({"id":"bad","cron":"61 * * * *"})");
  EXPECT_EQ(bad_cron.status, 422) << bad_cron.body;
  EXPECT_EQ(Call("GET", "/v1/jobs").body.find("\"low\""), std::string::npos);
  EXPECT_TRUE(Get("/v1/jobs/cron/schedules").empty());
  EXPECT_EQ(Call("GET", "/ping").body, "pong");  // still serving
}

TEST_F(BatchTest, AThousandTasksAHundredAtATimeSucceedEachOnce) {
  json job = Job("thousand", "true");
  job["run"]["completions"] = 1000;
  job["run"]["parallelism"] = 100;
  ASSERT_EQ(Call("POST", "/v1/jobs", job.dump()).status, 201);
  auto start = std::chrono::steady_clock::now();
  std::string run = StartRun("thousand");
  ASSERT_TRUE(WaitFor([&] { return Finished("thousand") == 1; }, std::chrono::minutes(5)))
      << Get("/v1/jobs/thousand/runs/" + run).dump().substr(0, 2000) << Log("batch");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("1000 tasks, 100 at once: %.1f s (%.0f tasks/s)\n", seconds, 1000 / seconds);
  json history = History("thousand");
  ASSERT_EQ(history["successCount"], 1) << history.dump().substr(0, 2000);
  json finished = history["successfulFinishedRuns"][0];
  EXPECT_EQ(finished["id"], run);
  EXPECT_EQ(finished["tasksSucceeded"], 1000);
  EXPECT_EQ(finished["tasksFailed"], 0);
  std::set<std::string> ids;
  for (const auto& id : finished["tasks"]) ids.insert(id.get<std::string>());
  EXPECT_EQ(ids.size(), 1000u);  // none run twice
  // The master saw exactly those tasks, each finished once.
  size_t on_master = 0;
  for (const auto& [id, task] : MasterTasks()) {
    if (id.rfind("thousand_", 0) != 0) continue;
    ++on_master;
    EXPECT_EQ(task["state"], "TASK_FINISHED") << id;
  }
  EXPECT_EQ(on_master, 1000u);
}

TEST_F(BatchTest, OnFailureRetriesUntilTheBackoffLimitAndRecordsWhy) {
  json job = Job("flaky", "echo trying; exit 3");
  job["run"]["restart"] = {{"policy", "ON_FAILURE"}};
  job["run"]["backoffLimit"] = 3;
  ASSERT_EQ(Call("POST", "/v1/jobs", job.dump()).status, 201);
  std::string run = StartRun("flaky");
  ASSERT_TRUE(WaitFor([&] { return Finished("flaky") == 1; }, std::chrono::minutes(1)))
      << Log("batch");
  json history = History("flaky");
  ASSERT_EQ(history["failureCount"], 1) << history.dump();
  json failed = history["failedFinishedRuns"][0];
  EXPECT_EQ(failed["id"], run);
  EXPECT_EQ(failed["tasks"].size(), 4u);  // the first try and three more
  EXPECT_NE(failed.value("reason", "").find("backoffLimit of 3"), std::string::npos)
      << failed.dump();
  for (const auto& task : failed["taskDetails"]) {
    EXPECT_EQ(task["status"], "TASK_FAILED");
    EXPECT_EQ(task["exitStatus"], 3);
    EXPECT_NE(task.value("sandbox", "").find("/files/read?"), std::string::npos) << task.dump();
  }
  // Its sandbox link serves the task's output.
  std::string link = failed["taskDetails"][0].value("sandbox", "");
  std::string target = link.substr(link.find('/', 7));
  std::string host_port = link.substr(7, link.find('/', 7) - 7);
  int port = std::stoi(host_port.substr(host_port.find(':') + 1));
  auto out = HttpCall("GET", "127.0.0.1", port, target);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->body.find("trying"), std::string::npos) << out->body;
}

TEST_F(BatchTest, AnActiveDeadlineEndsTheRunFailedAndKillsItsTask) {
  json job = Job("slow", "sleep 60");
  job["run"]["restart"] = {{"policy", "NEVER"}, {"activeDeadlineSeconds", 2}};
  ASSERT_EQ(Call("POST", "/v1/jobs", job.dump()).status, 201);
  auto start = std::chrono::steady_clock::now();
  StartRun("slow");
  ASSERT_TRUE(WaitFor([&] { return Finished("slow") == 1; })) << Log("batch");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("a run with activeDeadlineSeconds 2 ended FAILED after %.2f s\n", seconds);
  json failed = History("slow")["failedFinishedRuns"][0];
  EXPECT_NE(failed.value("reason", "").find("activeDeadlineSeconds of 2"), std::string::npos)
      << failed.dump();
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& [id, task] : MasterTasks()) {
      if (id.rfind("slow_", 0) == 0) return task["state"] == "TASK_KILLED";
    }
    return false;
  })) << Log("agent");
}

TEST_F(BatchTest, APipelineRunsInOrderAndAFailedStepSkipsTheRest) {
  json a = Job("a", "test ! -e " + dir_.path() + "/fail");
  json b = Job("b", "true");
  b["dependencies"] = {{{"id", "a"}}};
  json c = Job("c", "true");
  c["dependencies"] = {{{"id", "b"}}};
  for (const json& job : {a, b, c}) {
    ASSERT_EQ(Call("POST", "/v1/jobs", job.dump()).status, 201) << job.dump();
  }
  json cycle = a;
  cycle["dependencies"] = {{{"id", "c"}}};
  HttpReply refused = Call("PUT", "/v1/jobs/a", cycle.dump());
  EXPECT_EQ(refused.status, 422) << refused.body;

  StartRun("a");
  ASSERT_TRUE(WaitFor([&] { return History("c").value("successCount", 0) == 1; })) << Log("batch");
  // Each started after the one before it ended.
  auto finished_at = [&](const std::string& job) {
    return History(job)["successfulFinishedRuns"][0].value("finishedAt", "");
  };
  auto created_at = [&](const std::string& job) {
    return History(job)["successfulFinishedRuns"][0].value("createdAt", "");
  };
  EXPECT_LE(finished_at("a"), created_at("b"));
  EXPECT_LE(finished_at("b"), created_at("c"));

  std::ofstream(dir_.path() + "/fail") << "a fails from now on\n";
  StartRun("a");
  ASSERT_TRUE(WaitFor([&] { return History("c").value("failureCount", 0) == 1; })) << Log("batch");
  for (const char* job : {"b", "c"}) {
    json skipped = History(job)["failedFinishedRuns"][0];
    EXPECT_NE(skipped.value("reason", "").find("skipped"), std::string::npos) << skipped.dump();
    EXPECT_TRUE(skipped["tasks"].empty());
  }
  EXPECT_EQ(History("b").value("successCount", 0), 1);
}

}  // namespace
}  // namespace stoa::system_test

// Two `stoa batch --zk` instances on a real ZooKeeper server, with a real
// master and agent: one leads, the other stands by and passes Metronome's API
// on to it; the leader killed with SIGKILL, the standby takes over the same
// framework, the run under way with its tasks, and the jobs with their
// history, and goes on changing them; a leader frozen past its session
// timeout exits when it thaws, and leaves the framework to its successor.
#include <gtest/gtest.h>
#include <signal.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
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

struct BatchInstance {
  int http_port = 0;
  std::unique_ptr<Process> process;
  std::string address() const { return "127.0.0.1:" + std::to_string(http_port); }
};

class BatchHaTest : public ::testing::Test, protected stoa::testing::LocalCluster {
 protected:
  void SetUp() override {
    zookeeper_ = std::make_unique<stoa::testing::ZooKeeperServer>(dir_.path() + "/zk");
    ASSERT_TRUE(zookeeper_->error().empty()) << zookeeper_->error();
    StartMaster();
    StartAgent("agent");
    for (size_t i = 0; i < 2; ++i) StartBatch(i);
  }

  void StartBatch(size_t index) {
    if (batches_.size() <= index) batches_.resize(index + 1);
    BatchInstance& b = batches_[index];
    if (b.http_port == 0) b.http_port = FreePort();
    std::string name = "batch" + std::to_string(index);
    std::vector<std::string> args{bin_ + "/stoa",
                                  "batch",
                                  "--master=" + master_,
                                  "--ip=127.0.0.1",
                                  "--http_port=" + std::to_string(b.http_port),
                                  "--zk=zk://" + zookeeper_->servers() + "/stoa-batch",
                                  "--zk_session_timeout=3secs",
                                  "--task_retry_delay=200ms",
                                  "--work_dir=" + dir_.path() + "/" + name};
    args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
    b.process = std::make_unique<Process>(args, dir_.path() + "/" + name + ".log");
  }

  HttpReply Call(size_t index, const std::string& method, const std::string& path,
                 const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", batches_[index].http_port, path, body);
    return reply.ok() ? *reply : HttpReply{};
  }
  json Get(size_t index, const std::string& path) {
    HttpReply reply = Call(index, "GET", path);
    return reply.status == 200 ? json::parse(reply.body, nullptr, false) : json::object();
  }

  // Whether instance `index` has taken over: it names itself the leader and
  // marks its own answers as the leader's.
  bool Leads(size_t index) {
    const std::string self = batches_[index].address();
    return Get(index, "/leader").value("leader", "") == self &&
           Call(index, "GET", "/v1/jobs").headers["X-LEADER"] == self;
  }
  // The instance that leads, or -1.
  int Leader() {
    for (size_t i = 0; i < batches_.size(); ++i) {
      if (batches_[i].process && batches_[i].process->running() && Leads(i)) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  // The stoa-batch frameworks the master knows, with their active task ids.
  std::map<std::string, std::set<std::string>> MasterFrameworks() {
    std::map<std::string, std::set<std::string>> frameworks;
    for (const auto& framework : State().value("frameworks", json::array())) {
      if (framework.value("name", "") != "stoa-batch") continue;
      auto& tasks = frameworks[framework["id"]];
      for (const auto& task : framework["tasks"]) tasks.insert(task["id"].get<std::string>());
    }
    return frameworks;
  }

  // A run's task states by id, as instance `index` shows them.
  std::map<std::string, std::string> RunTasks(size_t index, const std::string& job,
                                              const std::string& run) {
    std::map<std::string, std::string> tasks;
    for (const auto& task : Get(index, "/v1/jobs/" + job + "/runs/" + run).value("tasks", json())) {
      tasks[task["id"]] = task["status"];
    }
    return tasks;
  }
  bool AllRunning(size_t index, const std::string& job, const std::string& run, size_t count) {
    auto tasks = RunTasks(index, job, run);
    if (tasks.size() != count) return false;
    for (const auto& [id, state] : tasks) {
      if (state != "TASK_RUNNING") return false;
    }
    return Get(index, "/v1/jobs/" + job + "/runs/" + run).value("status", "") == "ACTIVE";
  }
  json History(size_t index, const std::string& job) {
    return Get(index, "/v1/jobs/" + job + "?embed=history").value("history", json::object());
  }
  std::string StartRun(size_t index, const std::string& job) {
    HttpReply started = Call(index, "POST", "/v1/jobs/" + job + "/runs");
    EXPECT_EQ(started.status, 201) << started.body;
    return json::parse(started.body, nullptr, false).value("id", "");
  }
  static json Job(const std::string& id, const std::string& cmd) {
    return {{"id", id}, {"run", {{"cmd", cmd}, {"cpus", 0.01}, {"mem", 32}, {"disk", 0}}}};
  }

  std::string Logs() {
    std::string logs;
    for (size_t i = 0; i < batches_.size(); ++i) {
      if (batches_[i].process) {
        logs += "--- batch" + std::to_string(i) + "\n" + batches_[i].process->Output();
      }
    }
    return logs;
  }

  std::unique_ptr<stoa::testing::ZooKeeperServer> zookeeper_;
  std::vector<BatchInstance> batches_;    // stop before ZooKeeper does
  std::vector<std::string> extra_flags_;  // given to the instances started from then on
};

TEST_F(BatchHaTest, TheStandbyTakesOverTheLeadersFrameworkRunsAndHistoryAfterAKill9) {
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << Logs();
  size_t leader = static_cast<size_t>(Leader());
  size_t standby = 1 - leader;
  const std::string leader_address = batches_[leader].address();

  // Both say who leads, and answer /ping and /info themselves.
  EXPECT_EQ(Get(standby, "/leader")["leader"], leader_address);
  EXPECT_EQ(Get(leader, "/leader")["leader"], leader_address);
  EXPECT_FALSE(Leads(standby));
  EXPECT_EQ(Call(standby, "GET", "/ping").body, "pong");
  EXPECT_TRUE(Get(standby, "/info")["version"].is_string());
  ASSERT_TRUE(WaitFor([&] { return MasterFrameworks().size() == 1; })) << State().dump();
  const std::string framework = MasterFrameworks().begin()->first;

  // Jobs created through the standby: the leader's answer, passed on; each
  // readable from both instances.
  json sleeper = Job("ha.sleep", "sleep 1000");
  sleeper["run"]["completions"] = 2;
  sleeper["run"]["parallelism"] = 2;
  HttpReply created = Call(standby, "POST", "/v1/jobs", sleeper.dump());
  ASSERT_EQ(created.status, 201) << created.body << Logs();
  EXPECT_EQ(created.headers["X-LEADER"], leader_address);
  EXPECT_EQ(created.headers["X-VIA"], batches_[standby].address());
  ASSERT_EQ(Call(standby, "POST", "/v1/jobs", Job("ha.once", "true").dump()).status, 201);
  for (size_t i : {leader, standby}) {
    EXPECT_EQ(Get(i, "/v1/jobs/ha.sleep")["run"]["completions"], 2) << i;
  }

  // A run that ends before the kill, for the history, and one that runs on.
  std::string once = StartRun(standby, "ha.once");
  ASSERT_TRUE(WaitFor([&] { return History(standby, "ha.once").value("successCount", 0) == 1; }))
      << Logs();
  std::string run = StartRun(standby, "ha.sleep");
  ASSERT_TRUE(WaitFor([&] { return AllRunning(standby, "ha.sleep", run, 2); }))
      << Get(leader, "/v1/jobs/ha.sleep/runs/" + run).dump() << Logs();
  auto before = RunTasks(standby, "ha.sleep", run);
  std::set<std::string> ids;
  for (const auto& [id, state] : before) ids.insert(id);
  ASSERT_TRUE(WaitFor([&] {
    return MasterFrameworks() == std::map<std::string, std::set<std::string>>{{framework, ids}};
  })) << State().dump();

  // The leader killed: the standby is elected, fails over to the same
  // framework and shows the same run with the same tasks, still running.
  batches_[leader].process->Kill(SIGKILL);
  batches_[leader].process->Wait();
  ASSERT_TRUE(WaitFor([&] { return Leads(standby); }, std::chrono::seconds(60))) << Logs();
  EXPECT_EQ(Get(standby, "/leader")["leader"], batches_[standby].address());
  ASSERT_TRUE(WaitFor([&] { return AllRunning(standby, "ha.sleep", run, 2); })) << Logs();
  EXPECT_EQ(RunTasks(standby, "ha.sleep", run), before);
  ASSERT_TRUE(WaitFor([&] {
    auto frameworks = State().value("frameworks", json::array());
    return frameworks.size() == 1 && frameworks[0].value("active", false);
  })) << State().dump();
  EXPECT_EQ(MasterFrameworks(), (std::map<std::string, std::set<std::string>>{{framework, ids}}));
  json runs = Get(standby, "/v1/jobs/ha.sleep?embed=activeRuns")["activeRuns"];
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["id"], run);
  json history = History(standby, "ha.once");
  EXPECT_EQ(history["successCount"], 1) << history.dump();
  EXPECT_EQ(history["successfulFinishedRuns"][0]["id"], once);

  // Stopped through the new leader: its tasks are killed and the run ends
  // in the history.
  HttpReply stopped = Call(standby, "POST", "/v1/jobs/ha.sleep/runs/" + run + "/actions/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body << Logs();
  ASSERT_TRUE(WaitFor([&] {
    auto tasks = MasterTasks();
    for (const auto& id : ids) {
      if (!tasks.count(id) || tasks[id]["state"] != "TASK_KILLED") return false;
    }
    return true;
  })) << State().dump();
  ASSERT_TRUE(WaitFor([&] { return History(standby, "ha.sleep").value("failureCount", 0) == 1; }))
      << Logs();
  EXPECT_EQ(History(standby, "ha.sleep")["failedFinishedRuns"][0]["id"], run);
  EXPECT_TRUE(Get(standby, "/v1/jobs/ha.sleep?embed=activeRuns")["activeRuns"].empty());
}

// A leader frozen past its session timeout has lost the lead when it thaws:
// it exits at once, saying why, instead of acting next to the new leader.
TEST_F(BatchHaTest, ALeaderThatLostItsSessionExits) {
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << Logs();
  size_t leader = static_cast<size_t>(Leader());
  size_t other = 1 - leader;
  batches_[leader].process->Kill(SIGSTOP);
  // Only the other is asked: the frozen one would hold the request.
  bool taken_over = WaitFor([&] { return Leads(other); }, std::chrono::seconds(60));
  batches_[leader].process->Kill(SIGCONT);
  ASSERT_TRUE(taken_over) << Logs();
  EXPECT_EQ(batches_[leader].process->Wait(std::chrono::seconds(30)), 1) << Logs();
  std::string said = batches_[leader].process->Output();
  EXPECT_TRUE(said.find("session expired") != std::string::npos ||
              said.find("steps down") != std::string::npos)
      << said;
  EXPECT_TRUE(Leads(other)) << Logs();
  HttpReply created = Call(other, "POST", "/v1/jobs", Job("after", "true").dump());
  ASSERT_EQ(created.status, 201) << created.body << Logs();
  // And it still holds the framework: the thawed one took nothing back.
  StartRun(other, "after");
  EXPECT_TRUE(WaitFor([&] { return History(other, "after").value("successCount", 0) == 1; }))
      << Logs();
}

// A schedule of every minute of 09:xx in Chicago, on a clock the test moves
// (both instances read it from a file): the leader killed with SIGKILL a
// second before the third tick, the standby takes over and runs that tick,
// and over five ticks each gets exactly one run, none twice, none missed.
TEST_F(BatchHaTest, ScheduleTicksAreNeitherDoubledNorMissedWhenTheLeaderIsKilledBeforeOne) {
  const double start = 1784124630;  // 2026-07-15 09:10:30 in Chicago (CDT), 14:10:30 UTC
  const std::string clock = dir_.path() + "/clock";
  auto set_clock = [&](double seconds) {
    std::ofstream(clock + ".new") << std::fixed << seconds << "\n";
    std::filesystem::rename(clock + ".new", clock);
  };
  auto metronome_time = [](double seconds) {
    std::time_t whole = static_cast<std::time_t>(seconds);
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char text[40];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S.000+0000", &utc);
    return std::string(text);
  };
  set_clock(start);
  for (auto& b : batches_) {
    b.process->Kill(SIGTERM);
    b.process->Wait();
  }
  extra_flags_ = {"--clock_file=" + clock};
  for (size_t i = 0; i < 2; ++i) StartBatch(i);
  ASSERT_TRUE(WaitFor([&] { return Leader() >= 0; })) << Logs();
  ASSERT_EQ(Call(0, "POST", "/v1/jobs", Job("ha.clock", "true").dump()).status, 201) << Logs();
  HttpReply scheduled = Call(0, "POST", "/v1/jobs/ha.clock/schedules",
                             R"({"id": "minutely", "cron": "* 9 * * *",
                                 "timezone": "America/Chicago"})");
  ASSERT_EQ(scheduled.status, 201) << scheduled.body;

  // The job's runs (active and finished) and its schedule's next tick, as
  // instance `index` answers (a standby passes it on).
  auto runs = [&](size_t index) {
    json job = Get(index, "/v1/jobs/ha.clock?embed=activeRuns&embed=history&embed=schedules");
    std::multiset<std::string> ids;
    for (const auto& run : job.value("activeRuns", json::array())) ids.insert(run.value("id", ""));
    json history = job.value("history", json::object());
    for (const char* kept : {"successfulFinishedRuns", "failedFinishedRuns"}) {
      for (const auto& run : history.value(kept, json::array())) ids.insert(run.value("id", ""));
    }
    return ids;
  };
  auto next_run_at = [&](size_t index) {
    json schedules =
        Get(index, "/v1/jobs/ha.clock?embed=schedules").value("schedules", json::array());
    return schedules.empty() ? std::string() : schedules[0].value("nextRunAt", "");
  };

  size_t asked = static_cast<size_t>(Leader());
  for (int tick = 1; tick <= 5; ++tick) {
    double at = start + 30 + 60 * (tick - 1);  // 09:11, 09:12, ... in Chicago
    set_clock(at - 1);
    ASSERT_TRUE(WaitFor([&] { return next_run_at(asked) == metronome_time(at); }))
        << "tick " << tick << ": " << next_run_at(asked) << Logs();
    if (tick == 3) {  // a second before the tick, the leader goes
      size_t leader = static_cast<size_t>(Leader());
      batches_[leader].process->Kill(SIGKILL);
      batches_[leader].process->Wait();
      asked = 1 - leader;
    }
    set_clock(at + 1);
    bool handled = WaitFor(
        [&] {
          return next_run_at(asked) == metronome_time(at + 60) &&
                 runs(asked).size() >= static_cast<size_t>(tick);
        },
        std::chrono::seconds(60));
    ASSERT_TRUE(handled) << "tick " << tick << ": next " << next_run_at(asked) << Logs();
    auto ids = runs(asked);
    EXPECT_EQ(ids.size(), static_cast<size_t>(tick)) << "tick " << tick;
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
    if (tick == 3) StartBatch(1 - asked);  // back, as a standby
  }
  // Between ticks nothing more starts, and the instance that came back
  // started nothing either.
  set_clock(start + 30 + 60 * 4 + 30);
  EXPECT_TRUE(WaitFor([&] { return Leads(asked); })) << Logs();
  EXPECT_EQ(runs(1 - asked).size(), 5u) << Logs();
}

}  // namespace
}  // namespace stoa::system_test

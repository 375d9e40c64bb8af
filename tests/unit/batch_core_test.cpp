// The batch core on a real LevelDB store, with the master's side recorded and
// time moved by hand: runs of many tasks, retries, deadlines, pipelines,
// schedules' ticks across restarts.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "frameworks/batch/core.hpp"
#include "frameworks/batch/records_json.hpp"
#include "tests/test_util.hpp"

namespace stoa::batch {
namespace {

class Recorder : public sdk::SchedulerActions {
 public:
  void Launch(const Offer&, std::vector<TaskInfo>, double) override {
    ADD_FAILURE() << "batch tasks go in task groups";
  }
  void Accept(const Offer& offer, std::vector<Operation> operations, double) override {
    ++accepts;
    for (auto& operation : operations) {
      EXPECT_EQ(operation.type, Operation::Type::kLaunchGroup);
      std::set<TaskId> ids;
      for (auto& task : operation.tasks) {
        ids.insert(task.task_id);
        launched_on[task.task_id] = offer.agent_id;
        launched.push_back(std::move(task));
      }
      groups.emplace_back(operation.executor.executor_id, ids);
    }
  }
  void Decline(const OfferId& id, double) override { declined.push_back(id); }
  void Kill(const TaskId& id, const AgentId&) override { killed.push_back(id); }
  void Reconcile(const std::vector<std::pair<TaskId, AgentId>>& tasks) override {
    reconciles.push_back(tasks);
  }
  void Revive() override { ++revives; }
  void Suppress() override { ++suppresses; }
  void Acknowledge(const TaskStatus& status) override { acknowledged.push_back(status.uuid); }

  int accepts = 0;
  std::vector<std::string> acknowledged;
  std::vector<TaskInfo> launched;
  std::map<TaskId, AgentId> launched_on;
  std::vector<std::pair<ExecutorId, std::set<TaskId>>> groups;  // each LAUNCH_GROUP's
  std::vector<OfferId> declined;
  std::vector<TaskId> killed;
  std::vector<std::vector<std::pair<TaskId, AgentId>>> reconciles;
  int revives = 0;
  int suppresses = 0;
};

class BatchCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    core_.reset();
    store_.reset();
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok()) << storage.error();
    store_ = std::make_unique<BatchStore>(std::move(*storage));
    actions_ = std::make_unique<Recorder>();
    BatchOptions options;
    options.user = "nobody";
    options.on_fatal = [](const std::string& why) { FAIL() << "fatal: " << why; };
    options.run_suffix = [this] { return "R" + std::to_string(++runs_named_); };
    options.on_pending = [this] { ++pending_calls_; };
    core_ =
        std::make_unique<BatchCore>(store_.get(), actions_.get(), options, [this] { return now_; });
    ASSERT_TRUE(core_->Recover().ok());
    core_->Subscribed("framework-1");
  }

  static JobSpec Job(const std::string& id, const std::string& cmd = "true") {
    JobSpec spec;
    spec.id = id;
    spec.run.cmd = cmd;
    spec.run.cpus = 0.1;
    spec.run.mem = 32;
    return spec;
  }

  Offer MakeOffer(const std::string& agent = "agent-1",
                  const std::string& resources = "cpus:100;mem:100000;disk:1000") {
    Offer offer;
    offer.id = "offer-" + std::to_string(++offers_made_);
    offer.framework_id = "framework-1";
    offer.agent_id = agent;
    offer.hostname = agent + ".example";
    offer.resources = *Resources::Parse(resources);
    return offer;
  }

  void Report(const TaskId& id, TaskState state, int exit_status = 0) {
    TaskStatus status;
    status.task_id = id;
    status.state = state;
    status.agent_id = actions_->launched_on[id];
    status.exit_status = exit_status;
    status.uuid = "uuid-" + std::to_string(++updates_);
    core_->Update(status);
    if (!batching_) core_->Flush();
  }

  // Every task launched so far that has not been reported ended.
  std::vector<TaskId> Unfinished() {
    std::vector<TaskId> ids;
    for (const TaskInfo& task : actions_->launched) {
      if (ended_.count(task.task_id) == 0) ids.push_back(task.task_id);
    }
    return ids;
  }

  // Each task runs and ends; the updates are written and acknowledged together.
  void FinishAll(TaskState state = TaskState::kFinished) {
    batching_ = true;
    for (const TaskId& id : Unfinished()) {
      ended_.insert(id);
      Report(id, TaskState::kRunning);
      Report(id, state, state == TaskState::kFinished ? 0 : 1);
    }
    batching_ = false;
    core_->Flush();
  }

  std::string StartRun(const std::string& job) {
    JobRun run;
    Outcome outcome = core_->StartRun(job, &run);
    EXPECT_EQ(outcome.status, 201) << outcome.message;
    return run.id;
  }

  testing::TempDir dir_;
  double now_ = 1'780'000'000;  // 2026-05-28
  int runs_named_ = 0;
  int offers_made_ = 0;
  int updates_ = 0;
  int pending_calls_ = 0;
  bool batching_ = false;
  std::set<TaskId> ended_;
  std::unique_ptr<BatchStore> store_;
  std::unique_ptr<Recorder> actions_;
  std::unique_ptr<BatchCore> core_;
};

TEST_F(BatchCoreTest, ARunOfAThousandTasksRunsEachOnceAtMostAHundredAtATime) {
  JobSpec spec = Job("many");
  spec.run.completions = 1000;
  spec.run.parallelism = 100;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  std::string run = StartRun("many");
  size_t rounds = 0;
  while (core_->ActiveRuns("many")->size() == 1 && rounds++ < 100) {
    core_->Offers({MakeOffer("agent-1"), MakeOffer("agent-2")});
    EXPECT_LE(Unfinished().size(), 100u);
    FinishAll();
  }
  ASSERT_TRUE(core_->ActiveRuns("many")->empty());
  std::set<TaskId> ids;
  for (const TaskInfo& task : actions_->launched) ids.insert(task.task_id);
  EXPECT_EQ(actions_->launched.size(), 1000u);
  EXPECT_EQ(ids.size(), 1000u);  // none twice
  EXPECT_EQ(rounds, 10u);        // a hundred at a time
  auto job = core_->Job("many");
  ASSERT_EQ(job->history.successful.size(), 1u);
  EXPECT_EQ(job->history.successful[0].id, run);
  EXPECT_EQ(job->history.successful[0].succeeded, 1000);
  EXPECT_EQ(job->history.successful[0].tasks.size(), 1000u);
  auto finished = core_->Run("many", run);  // a finished run, from the history
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(finished->status, RunStatus::kSuccess);
  EXPECT_EQ(finished->completions(), 1000);
  EXPECT_EQ(finished->parallelism(), 100);
  Open();
  EXPECT_EQ(core_->Run("many", run)->completions(), 1000);
  EXPECT_EQ(job->history.success_count, 1);
  EXPECT_TRUE(actions_->killed.empty());
}

// The run's next groups on an agent go to the executor it already has there,
// while the agent still keeps it (half its idle timeout after the last word
// from it); after that, and on another agent, to a new one.
TEST_F(BatchCoreTest, LaterGroupsReuseTheRunsExecutorOnTheAgentWhileItStays) {
  JobSpec spec = Job("waves");
  spec.run.completions = 6;
  spec.run.parallelism = 2;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("waves");
  auto wave = [&](const std::string& agent) {
    actions_->groups.clear();
    core_->Offers({MakeOffer(agent)});
    EXPECT_EQ(actions_->groups.size(), 1u);
    FinishAll();
    return actions_->groups.empty() ? ExecutorId() : actions_->groups[0].first;
  };
  ExecutorId first = wave("agent-1");
  now_ += 2;  // within 2.5 s of the last update
  EXPECT_EQ(wave("agent-1"), first);
  now_ += 3;  // the agent may have shut it down by now
  ExecutorId third = wave("agent-1");
  EXPECT_NE(third, first);
  EXPECT_TRUE(core_->ActiveRuns("waves")->empty());
  EXPECT_EQ(core_->Job("waves")->history.successful[0].succeeded, 6);
}

// A task whose launch never reached an executor (the executor had just shut
// down; the offer was gone) is replaced, and is no failure, even with NEVER.
TEST_F(BatchCoreTest, ATaskThatNeverReachedAnExecutorIsLaunchedAgainNotFailed) {
  JobSpec spec = Job("once");
  spec.run.restart_policy = RestartPolicy::kNever;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("once");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 1u);
  TaskStatus lost;
  lost.task_id = actions_->launched[0].task_id;
  lost.state = TaskState::kLost;
  lost.reason = Reason::kExecutorTerminated;
  lost.message = "the executor is shutting down";
  lost.agent_id = "agent-1";
  lost.uuid = "uuid-lost";
  core_->Update(lost);
  core_->Flush();
  ASSERT_EQ(core_->ActiveRuns("once")->size(), 1u);
  EXPECT_EQ((*core_->ActiveRuns("once"))[0].failed, 0);
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 2u);
  EXPECT_NE(actions_->launched[1].task_id, actions_->launched[0].task_id);
  ASSERT_EQ(actions_->groups.size(), 2u);  // and to a new executor: the old one may be going
  EXPECT_NE(actions_->groups[1].first, actions_->groups[0].first);
  // A task that ran and was lost is a failure: NEVER ends the run.
  Report(actions_->launched[1].task_id, TaskState::kRunning);
  Report(actions_->launched[1].task_id, TaskState::kLost);
  EXPECT_TRUE(core_->ActiveRuns("once")->empty());
  EXPECT_EQ(core_->Job("once")->history.failure_count, 1);
}

// A run's ended tasks go to records of a hundred each, in the order they
// ended, and the run's own record keeps only those still running: a write
// costs what changed, not all the run did so far. All of it comes back.
TEST_F(BatchCoreTest, EndedTasksAreWrittenAHundredToARecordAndComeBack) {
  JobSpec spec = Job("wide");
  spec.run.completions = 250;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  std::string run = StartRun("wide");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 250u);
  std::vector<TaskId> ids;
  for (const TaskInfo& task : actions_->launched) ids.push_back(task.task_id);
  for (size_t i = 0; i < 150; ++i) {  // in a few waves, as updates come
    Report(ids[i], TaskState::kRunning);
    Report(ids[i], TaskState::kFinished);
  }
  auto stored = [&](const std::string& prefix) {
    core_.reset();
    store_.reset();
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    EXPECT_TRUE(storage.ok()) << storage.error();
    std::map<std::string, size_t> tasks;  // key -> tasks in it
    auto scanned = (*storage)->Scan(prefix);
    EXPECT_TRUE(scanned.ok());
    for (const auto& [key, value] : *scanned) {
      auto parsed = nlohmann::json::parse(value.value);
      tasks[key] = (parsed.is_array() ? parsed : parsed["tasks"]).size();
    }
    return tasks;
  };
  std::string prefix = "runtasks/wide/" + run + "/";
  EXPECT_EQ(stored("runtasks/"),
            (std::map<std::string, size_t>{{prefix + "0", 100}, {prefix + "1", 50}}));
  EXPECT_EQ(stored("runs/"), (std::map<std::string, size_t>{{"runs/wide/" + run, 100}}));
  Open();
  JobRun recovered = (*core_->ActiveRuns("wide"))[0];
  EXPECT_EQ(recovered.succeeded, 150);
  ASSERT_EQ(recovered.tasks.size(), 250u);
  EXPECT_EQ(recovered.tasks.at(ids[0]).state, TaskState::kFinished);
  EXPECT_EQ(recovered.tasks.at(ids[200]).state, TaskState::kStaging);
  for (size_t i = 150; i < 250; ++i) Report(ids[i], TaskState::kFinished);
  ASSERT_TRUE(core_->ActiveRuns("wide")->empty());
  EXPECT_EQ(core_->Job("wide")->history.successful[0].tasks.size(), 250u);
  EXPECT_TRUE(stored("runtasks/").empty());  // gone with the run
}

// Launches that keep failing to reach an executor (one that cannot start)
// are forgiven only a few times in a row; then they count as failures.
TEST_F(BatchCoreTest, LaunchesThatNeverReachAnExecutorAreForgivenOnlyAFewTimesInARow) {
  JobSpec spec = Job("doomed");
  spec.run.restart_policy = RestartPolicy::kNever;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("doomed");
  for (int attempt = 1; attempt <= 4; ++attempt) {
    core_->Offers({MakeOffer()});
    ASSERT_EQ(actions_->launched.size(), static_cast<size_t>(attempt));
    TaskStatus lost;
    lost.task_id = actions_->launched.back().task_id;
    lost.state = TaskState::kFailed;
    lost.reason = Reason::kExecutorTerminated;
    lost.source = Source::kAgent;
    lost.message = "the executor exited with status 1";
    lost.agent_id = "agent-1";
    lost.uuid = "uuid-" + std::to_string(attempt);
    core_->Update(lost);
    core_->Flush();
    EXPECT_EQ(core_->ActiveRuns("doomed")->empty(), attempt == 4) << attempt;
  }
  EXPECT_EQ(core_->Job("doomed")->history.failure_count, 1);
}

// A crash after a task's ended record was written and before the run's own
// record was: the run's counts do not have the end, so the task stays as the
// run record has it, and the update the agent sends again counts it, once.
TEST_F(BatchCoreTest, AnEndedRecordAheadOfItsRunRecordDoesNotLoseTheTasksEnd) {
  JobSpec spec = Job("cut");
  spec.run.completions = 2;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  std::string run = StartRun("cut");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 2u);
  TaskId first = actions_->launched[0].task_id;
  TaskId second = actions_->launched[1].task_id;
  RunTask ended = core_->Run("cut", run)->tasks.at(first);
  ended.state = TaskState::kFinished;
  core_.reset();
  store_.reset();
  {
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok()) << storage.error();
    ASSERT_TRUE((*storage)
                    ->Set("runtasks/cut/" + run + "/0", StoredTasksJson({&ended}).dump(), kNewKey)
                    .ok());
  }
  Open();
  JobRun recovered = (*core_->ActiveRuns("cut"))[0];
  EXPECT_EQ(recovered.succeeded, 0);
  EXPECT_EQ(recovered.tasks.at(first).state, TaskState::kStaging);
  Report(first, TaskState::kFinished);
  Report(first, TaskState::kFinished);  // and once more: it counts once
  EXPECT_EQ((*core_->ActiveRuns("cut"))[0].succeeded, 1);
  Report(second, TaskState::kFinished);
  EXPECT_TRUE(core_->ActiveRuns("cut")->empty());
  EXPECT_EQ(core_->Job("cut")->history.successful[0].succeeded, 2);
}

TEST_F(BatchCoreTest, UpdatesAreAcknowledgedOnlyOnceWritten) {
  JobSpec spec = Job("acks");
  spec.run.completions = 3;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("acks");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 3u);
  std::vector<TaskInfo> tasks = actions_->launched;
  batching_ = true;
  Report(tasks[0].task_id, TaskState::kFinished);
  Report(tasks[1].task_id, TaskState::kFinished);
  EXPECT_TRUE(actions_->acknowledged.empty());
  EXPECT_EQ(pending_calls_, 1);  // once for the pair
  // Lost before the flush: the agents send the updates again, and they count once.
  Open();
  EXPECT_EQ((*core_->ActiveRuns("acks"))[0].succeeded, 0);
  Report(tasks[0].task_id, TaskState::kFinished);
  Report(tasks[1].task_id, TaskState::kFinished);
  Report(tasks[1].task_id, TaskState::kFinished);  // a duplicate
  core_->Flush();
  EXPECT_EQ(actions_->acknowledged.size(), 3u);
  Open();
  EXPECT_EQ((*core_->ActiveRuns("acks"))[0].succeeded, 2);
}

TEST_F(BatchCoreTest, ManyTasksGoInOneAcceptPerOffer) {
  JobSpec spec = Job("wide");
  spec.run.completions = 50;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("wide");
  core_->Offers({MakeOffer("agent-1", "cpus:2;mem:10000")});  // room for 20 of 0.1 cpus
  EXPECT_EQ(actions_->accepts, 1);
  EXPECT_EQ(actions_->launched.size(), 20u);
  core_->Offers({MakeOffer("agent-2", "cpus:10;mem:10000")});
  EXPECT_EQ(actions_->accepts, 2);
  EXPECT_EQ(actions_->launched.size(), 50u);
  // Each offer's tasks are one task group, for one executor of its own.
  ASSERT_EQ(actions_->groups.size(), 2u);
  EXPECT_NE(actions_->groups[0].first, actions_->groups[1].first);
  EXPECT_EQ(actions_->groups[0].second.size(), 20u);
  EXPECT_EQ(actions_->groups[1].second.size(), 30u);
  // The run knows each task's executor before any update, for its sandbox link.
  std::string run_id = (*core_->ActiveRuns("wide"))[0].id;
  auto run = core_->Run("wide", run_id);
  ASSERT_TRUE(run.has_value());
  for (const auto& [executor, ids] : actions_->groups) {
    for (const TaskId& id : ids) {
      EXPECT_EQ(run->tasks.at(id).executor_id, executor);
      EXPECT_TRUE(run->tasks.at(id).grouped);
    }
  }
  // Two runs on one offer: a group each.
  ASSERT_EQ(core_->CreateJob(Job("other")).status, 201);
  StartRun("other");
  StartRun("wide");
  actions_->groups.clear();
  core_->Offers({MakeOffer("agent-3", "cpus:100;mem:100000")});
  ASSERT_EQ(actions_->groups.size(), 2u);
  std::map<std::string, size_t> sizes;
  for (const auto& [executor, ids] : actions_->groups) {
    sizes[executor.substr(0, executor.find('_'))] = ids.size();
  }
  EXPECT_EQ(sizes, (std::map<std::string, size_t>{{"other", 1}, {"wide", 50}}));
}

TEST_F(BatchCoreTest, AnIndexedRunGivesEachIndexOnceAndRetriesAFailedIndex) {
  JobSpec spec = Job("indexed");
  spec.run.completions = 3;
  spec.run.indexed = true;
  spec.run.restart_policy = RestartPolicy::kOnFailure;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("indexed");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 3u);
  auto index_of = [](const TaskInfo& task) {
    for (const auto& [name, value] : task.command.environment) {
      if (name == "STOA_TASK_INDEX") return value;
    }
    return std::string("none");
  };
  std::set<std::string> indexes;
  for (const TaskInfo& task : actions_->launched) indexes.insert(index_of(task));
  EXPECT_EQ(indexes, (std::set<std::string>{"0", "1", "2"}));
  // Index 1 fails; 0 and 2 succeed: only index 1 runs again, after the delay.
  ended_.insert(actions_->launched[1].task_id);
  Report(actions_->launched[1].task_id, TaskState::kFailed, 3);
  FinishAll();
  core_->Offers({MakeOffer()});
  EXPECT_EQ(actions_->launched.size(), 3u);  // not before its delay
  now_ += 1;
  core_->Tick();
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 4u);
  EXPECT_EQ(index_of(actions_->launched[3]), "1");
  FinishAll();
  EXPECT_TRUE(core_->ActiveRuns("indexed")->empty());
  EXPECT_EQ(core_->Job("indexed")->history.success_count, 1);
}

TEST_F(BatchCoreTest, OnFailureRetriesWithGrowingDelaysAndStopsAtTheLimit) {
  JobSpec spec = Job("flaky", "exit 1");
  spec.run.restart_policy = RestartPolicy::kOnFailure;
  spec.run.backoff_limit = 3;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  std::string run = StartRun("flaky");
  std::vector<double> delays;
  for (int attempt = 0; attempt < 10 && !core_->ActiveRuns("flaky")->empty(); ++attempt) {
    // Offered every 0.25 s until the next attempt launches.
    double failed_at = now_;
    size_t before = actions_->launched.size();
    while (actions_->launched.size() == before && now_ < failed_at + 100) {
      core_->Tick();
      core_->Offers({MakeOffer()});
      if (actions_->launched.size() == before) now_ += 0.25;
    }
    if (attempt > 0) delays.push_back(now_ - failed_at);
    FinishAll(TaskState::kFailed);
  }
  EXPECT_EQ(actions_->launched.size(), 4u);  // the first and 3 retries
  EXPECT_EQ(delays, (std::vector<double>{1, 2, 4}));
  auto job = core_->Job("flaky");
  ASSERT_EQ(job->history.failed.size(), 1u);
  EXPECT_EQ(job->history.failed[0].id, run);
  EXPECT_NE(job->history.failed[0].reason.find("backoffLimit of 3"), std::string::npos)
      << job->history.failed[0].reason;
}

TEST_F(BatchCoreTest, NeverFailsTheRunAtTheFirstFailure) {
  ASSERT_EQ(core_->CreateJob(Job("once", "exit 2")).status, 201);
  StartRun("once");
  core_->Offers({MakeOffer()});
  FinishAll(TaskState::kFailed);
  EXPECT_TRUE(core_->ActiveRuns("once")->empty());
  EXPECT_EQ(core_->Job("once")->history.failure_count, 1);
  now_ += 60;
  core_->Tick();
  core_->Offers({MakeOffer()});
  EXPECT_EQ(actions_->launched.size(), 1u);
}

TEST_F(BatchCoreTest, TheActiveDeadlineEndsTheRunAndKillsItsTasks) {
  JobSpec spec = Job("slow", "sleep 60");
  spec.run.active_deadline_seconds = 2;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  StartRun("slow");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 1u);
  Report(actions_->launched[0].task_id, TaskState::kRunning);
  now_ += 1.9;
  core_->Tick();
  EXPECT_EQ(core_->ActiveRuns("slow")->size(), 1u);
  now_ += 0.1;
  core_->Tick();
  EXPECT_TRUE(core_->ActiveRuns("slow")->empty());
  EXPECT_EQ(actions_->killed, std::vector<TaskId>{actions_->launched[0].task_id});
  auto job = core_->Job("slow");
  ASSERT_EQ(job->history.failed.size(), 1u);
  EXPECT_NE(job->history.failed[0].reason.find("activeDeadlineSeconds of 2"), std::string::npos);
  // The killed task's update changes nothing more.
  Report(actions_->launched[0].task_id, TaskState::kKilled);
  EXPECT_EQ(core_->Job("slow")->history.failure_count, 1);
}

TEST_F(BatchCoreTest, APipelineRunsInOrderAndAFailureSkipsTheRest) {
  ASSERT_EQ(core_->CreateJob(Job("a")).status, 201);
  JobSpec b = Job("b");
  b.dependencies = {"a"};
  ASSERT_EQ(core_->CreateJob(b).status, 201);
  JobSpec c = Job("c");
  c.dependencies = {"b"};
  ASSERT_EQ(core_->CreateJob(c).status, 201);

  StartRun("a");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 1u);
  EXPECT_EQ(actions_->launched[0].name, "a");
  FinishAll();
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 2u);
  EXPECT_EQ(actions_->launched[1].name, "b");
  FinishAll();
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 3u);
  EXPECT_EQ(actions_->launched[2].name, "c");
  FinishAll();
  EXPECT_EQ(core_->Job("c")->history.success_count, 1);

  // A fails: b and c are skipped, with the reason.
  ASSERT_EQ(core_->UpdateJob(Job("a", "false")).status, 200);
  StartRun("a");
  core_->Offers({MakeOffer()});
  FinishAll(TaskState::kFailed);
  core_->Offers({MakeOffer()});
  EXPECT_EQ(actions_->launched.size(), 4u);
  for (const char* id : {"b", "c"}) {
    auto job = core_->Job(id);
    ASSERT_EQ(job->history.failed.size(), 1u) << id;
    EXPECT_NE(job->history.failed[0].reason.find("skipped"), std::string::npos);
    EXPECT_TRUE(job->active_runs.empty());
  }
  EXPECT_NE(core_->Job("b")->history.failed[0].reason.find("dependency a failed"),
            std::string::npos);
}

TEST_F(BatchCoreTest, DependencyCyclesAndUnknownJobsAreRefused) {
  ASSERT_EQ(core_->CreateJob(Job("a")).status, 201);
  JobSpec b = Job("b");
  b.dependencies = {"a"};
  ASSERT_EQ(core_->CreateJob(b).status, 201);
  JobSpec a = Job("a");
  a.dependencies = {"b"};
  Outcome cycle = core_->UpdateJob(a);
  EXPECT_EQ(cycle.status, 422);
  EXPECT_NE(cycle.message.find("cycle"), std::string::npos) << cycle.message;
  JobSpec self = Job("self");
  self.dependencies = {"self"};
  EXPECT_EQ(core_->CreateJob(self).status, 422);
  JobSpec unknown = Job("d");
  unknown.dependencies = {"nope"};
  Outcome missing = core_->CreateJob(unknown);
  EXPECT_EQ(missing.status, 422);
  EXPECT_NE(missing.message.find("unknown=[nope]"), std::string::npos) << missing.message;
  EXPECT_EQ(core_->DeleteJob("a", false).status, 409);  // b depends on it
  EXPECT_TRUE(core_->Job("a").has_value());
}

TEST_F(BatchCoreTest, DeletingAJobWithActiveRunsNeedsStopCurrentJobRuns) {
  ASSERT_EQ(core_->CreateJob(Job("busy", "sleep 100")).status, 201);
  StartRun("busy");
  core_->Offers({MakeOffer()});
  EXPECT_EQ(core_->DeleteJob("busy", false).status, 409);
  EXPECT_EQ(core_->DeleteJob("busy", true).status, 200);
  EXPECT_EQ(actions_->killed.size(), 1u);
  Open();
  EXPECT_FALSE(core_->Job("busy").has_value());
}

TEST_F(BatchCoreTest, ARunUnderWayIsRecoveredAndReconciled) {
  JobSpec spec = Job("long", "sleep 100");
  spec.run.completions = 2;
  ASSERT_EQ(core_->CreateJob(spec).status, 201);
  std::string run = StartRun("long");
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 2u);
  ended_.insert(actions_->launched[0].task_id);
  Report(actions_->launched[0].task_id, TaskState::kFinished);
  Report(actions_->launched[1].task_id, TaskState::kRunning);
  std::map<TaskId, AgentId> launched_on = actions_->launched_on;
  std::vector<TaskInfo> launched = actions_->launched;

  Open();  // a restart: the state comes back from the store
  actions_->launched = launched;
  actions_->launched_on = launched_on;
  auto runs = core_->ActiveRuns("long");
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].id, run);
  EXPECT_EQ((*runs)[0].succeeded, 1);
  ASSERT_FALSE(actions_->reconciles.empty());
  EXPECT_EQ(actions_->reconciles[0],
            (std::vector<std::pair<TaskId, AgentId>>{{launched[1].task_id, "agent-1"}}));
  core_->Offers({MakeOffer()});
  EXPECT_EQ(actions_->launched.size(), 2u);  // nothing more to launch: one done, one running
  FinishAll();
  EXPECT_TRUE(core_->ActiveRuns("long")->empty());
  EXPECT_EQ(core_->Job("long")->history.successful[0].succeeded, 2);
}

TEST_F(BatchCoreTest, ASubscriptionAsksForOffersAgainWhenWorkWaits) {
  ASSERT_EQ(core_->CreateJob(Job("idle")).status, 201);
  core_->Offers({MakeOffer()});  // nothing to run: suppressed
  EXPECT_EQ(actions_->suppresses, 1);
  StartRun("idle");
  EXPECT_EQ(actions_->revives, 1);
  // A failover to the same master, which may hold the framework suppressed.
  int revives = actions_->revives;
  core_->Subscribed("framework-1");
  EXPECT_EQ(actions_->revives, revives + 1);
  Open();  // a restart with the run waiting
  EXPECT_EQ(actions_->revives, 1);
}

TEST_F(BatchCoreTest, ARunFinishedAsACrashCutItsRecordsShortCountsOnce) {
  ASSERT_EQ(core_->CreateJob(Job("cut")).status, 201);
  std::string run = StartRun("cut");
  core_->Offers({MakeOffer()});
  JobRun active = (*core_->ActiveRuns("cut"))[0];
  FinishAll();
  ASSERT_EQ(core_->Job("cut")->history.success_count, 1);
  // As if the crash came after the summary: the counts' record is old and
  // the active run's record is still there.
  RunSummary other;
  other.id = "other";
  other.status = RunStatus::kFailed;
  ASSERT_TRUE(store_->FinishRun("cut", other, JobHistory{}, {}).ok());
  ASSERT_TRUE(store_->PutRun(active).ok());
  Open();
  auto job = core_->Job("cut");
  EXPECT_TRUE(job->active_runs.empty());
  EXPECT_EQ(job->history.success_count, 1);
  ASSERT_EQ(job->history.successful.size(), 1u);
  EXPECT_EQ(job->history.successful[0].id, run);
}

class BatchScheduleTest : public BatchCoreTest {
 protected:
  // 2026-06-01 10:00:30 in Chicago (CDT, UTC-5) is 15:00:30 UTC.
  static constexpr double kStart = 1'780'326'030;

  void SetUp() override {
    now_ = kStart;
    BatchCoreTest::SetUp();
    ScheduleSpec every_minute;
    every_minute.id = "every-minute";
    every_minute.cron = "* * * * *";
    every_minute.timezone = "America/Chicago";
    every_minute.starting_deadline_seconds = 30;
    ASSERT_EQ(core_->CreateJob(Job("ticker"), {every_minute}).status, 201);
  }

  size_t Runs() {
    auto job = core_->Job("ticker");
    return job->active_runs.size() + job->history.successful.size() + job->history.failed.size();
  }
};

TEST_F(BatchScheduleTest, EachTickStartsOneRunAndSaysWhenTheNextIs) {
  auto job = core_->Job("ticker");
  ASSERT_EQ(job->schedules.size(), 1u);
  ASSERT_TRUE(job->schedules[0].next_run_at.has_value());
  EXPECT_EQ(*job->schedules[0].next_run_at, kStart + 30);
  now_ = kStart + 29;
  core_->Tick();
  EXPECT_EQ(Runs(), 0u);
  for (int minute = 0; minute < 5; ++minute) {
    now_ = kStart + 30 + 60 * minute;
    core_->Tick();
    core_->Tick();  // a second look at the same tick starts nothing
    EXPECT_EQ(Runs(), static_cast<size_t>(minute + 1));
    core_->Offers({MakeOffer()});
    FinishAll();
  }
  EXPECT_EQ(core_->Job("ticker")->history.success_count, 5);
}

TEST_F(BatchScheduleTest, ALeaderThatTakesOverRunsWhatItMissedOnceWithinTheDeadline) {
  now_ = kStart + 30;
  core_->Tick();
  EXPECT_EQ(Runs(), 1u);
  // Down from just before the next tick to 20 s after it (within the 30 s deadline).
  now_ = kStart + 90 + 20;
  Open();
  core_->Tick();
  EXPECT_EQ(Runs(), 2u);
  Open();
  core_->Tick();
  EXPECT_EQ(Runs(), 2u);  // never twice
  // Down for longer than the deadline: those ticks are skipped, the next runs.
  now_ = kStart + 150 + 45;
  Open();
  core_->Tick();
  EXPECT_EQ(Runs(), 2u);
  EXPECT_EQ(core_->counters().ticks_skipped, 1);
  now_ = kStart + 210;
  core_->Tick();
  EXPECT_EQ(Runs(), 3u);
}

TEST_F(BatchScheduleTest, ATickRecordedButNotStartedStartsThatVeryRun) {
  // As if the last leader stopped between writing the tick and its run.
  ASSERT_TRUE(
      store_->PutTick("ticker", "every-minute", TickRecord{kStart + 30, "20260601150100abcde"})
          .ok());
  now_ = kStart + 35;
  Open();
  core_->Tick();
  auto runs = core_->ActiveRuns("ticker");
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].id, "20260601150100abcde");
  EXPECT_EQ((*runs)[0].schedule_id, "every-minute");
  Open();
  core_->Tick();
  EXPECT_EQ(Runs(), 1u);
}

TEST_F(BatchScheduleTest, ATicksRunIsNeverStartedAgainOnceItLeftTheHistory) {
  now_ = kStart + 30;
  core_->Tick();
  core_->Offers({MakeOffer()});
  FinishAll();
  // Eleven runs by hand push the tick's run out of the kept history.
  for (int i = 0; i < 11; ++i) {
    StartRun("ticker");
    core_->Offers({MakeOffer()});
    FinishAll();
  }
  now_ = kStart + 40;  // still within the tick's starting deadline
  Open();
  core_->Tick();
  EXPECT_TRUE(core_->ActiveRuns("ticker")->empty());
  EXPECT_EQ(core_->Job("ticker")->history.success_count, 12);
}

TEST_F(BatchScheduleTest, AReenabledScheduleDoesNotRunTheTicksItWasOffFor) {
  ScheduleSpec schedule = core_->Schedules("ticker")->at(0).spec;
  schedule.enabled = false;
  ASSERT_EQ(core_->PutSchedule("ticker", schedule, false).status, 200);
  now_ = kStart + 600;
  core_->Tick();
  EXPECT_EQ(Runs(), 0u);
  schedule.enabled = true;
  schedule.starting_deadline_seconds = 900;
  ASSERT_EQ(core_->PutSchedule("ticker", schedule, false).status, 200);
  core_->Tick();
  EXPECT_EQ(Runs(), 0u);
  now_ = kStart + 630;  // the next minute
  core_->Tick();
  EXPECT_EQ(Runs(), 1u);
}

TEST_F(BatchScheduleTest, ForbidSkipsATickWhileARunIsActiveAndReplaceStopsIt) {
  ScheduleSpec schedule = core_->Schedules("ticker")->at(0).spec;
  schedule.concurrency_policy = ConcurrencyPolicy::kForbid;
  ASSERT_EQ(core_->PutSchedule("ticker", schedule, false).status, 200);
  now_ = kStart + 30;
  core_->Tick();
  core_->Offers({MakeOffer()});
  ASSERT_EQ(actions_->launched.size(), 1u);
  Report(actions_->launched[0].task_id, TaskState::kRunning);
  now_ = kStart + 90;
  core_->Tick();
  EXPECT_EQ(Runs(), 1u);
  schedule.concurrency_policy = ConcurrencyPolicy::kReplace;
  ASSERT_EQ(core_->PutSchedule("ticker", schedule, false).status, 200);
  now_ = kStart + 150;
  core_->Tick();
  auto job = core_->Job("ticker");
  EXPECT_EQ(job->active_runs.size(), 1u);
  ASSERT_EQ(job->history.failed.size(), 1u);
  EXPECT_NE(job->history.failed[0].reason.find("REPLACE"), std::string::npos);
}

TEST_F(BatchScheduleTest, ABadCronOrTimeZoneIsRefusedWithItsPath) {
  ASSERT_EQ(core_->DeleteSchedule("ticker", "every-minute").status, 200);
  ScheduleSpec bad;
  bad.id = "bad";
  bad.cron = "61 * * * *";
  Outcome outcome = core_->PutSchedule("ticker", bad, true);
  EXPECT_EQ(outcome.status, 422);
  EXPECT_EQ(outcome.path, "/cron");
  bad.cron = "0 * * * *";
  bad.timezone = "Mars/Olympus";
  outcome = core_->PutSchedule("ticker", bad, true);
  EXPECT_EQ(outcome.status, 422);
  EXPECT_EQ(outcome.path, "/timezone");
  EXPECT_TRUE(core_->Schedules("ticker")->empty());
}

}  // namespace
}  // namespace stoa::batch

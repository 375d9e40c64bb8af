// Task launch latency end to end, as a framework sees it: from the ACCEPT call
// to the TASK_RUNNING update, through a real master, agent and executor in one
// process (inproc:// between them), over 200 sequential launches, for the
// posix launcher, full isolation without a network namespace and full
// isolation with one, and as task groups into one executor that stays (the
// batch framework's way: after the first, no container starts). Prints p50
// and p99 (counters p50_ms, p99_ms). Needs root for the isolated cases.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "agent/agent.hpp"
#include "bench/launch_common.hpp"
#include "frameworks/sdk/scheduler.hpp"
#include "master/master.hpp"

namespace {

using namespace stoa;
using Clock = std::chrono::steady_clock;

// Launches one task per offer and records when each became RUNNING.
class Launcher : public sdk::Scheduler {
 public:
  void Offers(sdk::SchedulerDriver&, const std::vector<Offer>& offers) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& offer : offers) offers_.push_back(offer);
    changed_.notify_all();
  }
  void Update(sdk::SchedulerDriver&, const TaskStatus& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status.state == TaskState::kRunning) running_[status.task_id] = Clock::now();
    if (IsTerminal(status.state)) ended_[status.task_id] = status.state;
    changed_.notify_all();
  }

  // Takes an offer (waiting for one), launches `task_id` on it and returns the
  // accept-to-RUNNING time in milliseconds, or a negative number on failure.
  // `group`: as a task group into the executor that stays.
  double LaunchOne(sdk::SchedulerDriver& driver, const TaskId& task_id, bool group) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::seconds(30), [&] { return !offers_.empty(); })) {
      return -1;
    }
    Offer offer = offers_.front();
    offers_.erase(offers_.begin());
    TaskInfo task;
    task.task_id = task_id;
    task.command.value = "true";
    task.resources = *Resources::Parse("cpus:0.1;mem:32");
    lock.unlock();
    auto accepted = Clock::now();
    if (group) {
      Operation launch;
      launch.type = Operation::Type::kLaunchGroup;
      launch.executor.executor_id = "staying";
      launch.executor.idle_timeout_seconds = 60;
      task.agent_id = offer.agent_id;
      launch.tasks = {task};
      driver.Accept({offer.id}, {launch}, 0);
    } else {
      driver.Launch(offer, {task}, 0);
    }
    lock.lock();
    bool ran = changed_.wait_for(lock, std::chrono::seconds(30), [&] {
      return running_.count(task_id) > 0 || ended_.count(task_id) > 0;
    });
    if (!ran || running_.count(task_id) == 0) return -1;
    double ms = std::chrono::duration<double, std::milli>(running_[task_id] - accepted).count();
    // Let it finish so that its resources come back before the next launch.
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return ended_.count(task_id) > 0; });
    return ms;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Offer> offers_;
  std::map<TaskId, Clock::time_point> running_;
  std::map<TaskId, TaskState> ended_;
};

void TaskLaunch(benchmark::State& state, const char* isolation, bool group = false) {
  if (geteuid() != 0 && std::string(isolation) != "posix") {
    state.SkipWithError("isolation needs root");
    return;
  }
  char pattern[] = "/tmp/stoa-task-bench-XXXXXX";
  std::string dir = mkdtemp(pattern);
  caf::actor_system_config config;
  caf::actor_system system{config};
  static int cluster = 0;
  master::MasterOptions master_options;
  master_options.bind_address = "inproc://bench-master-" + std::to_string(cluster++);
  master_options.http_port = 0;
  master_options.work_dir = dir + "/master";
  master_options.allocation_interval = 0.05;
  auto master = master::Master::Start(system, master_options);
  agent::AgentOptions agent_options;
  agent_options.master = (*master)->address();
  agent_options.http_port = 0;
  agent_options.work_dir = dir + "/agent";
  agent_options.resources = "cpus:2;mem:1024";
  agent_options.isolation = isolation;
  agent_options.cgroups_root = "stoa-task-bench-" + std::to_string(getpid());
  agent_options.executor_path =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().string() + "/stoa-executor";
  auto agent = agent::Agent::Start(system, agent_options);
  if (!master.ok() || !agent.ok()) {
    state.SkipWithError((master.ok() ? agent.error() : master.error()).c_str());
    return;
  }
  Launcher launcher;
  sdk::DriverOptions driver_options;
  driver_options.master = (*master)->address();
  driver_options.framework.name = "bench";
  sdk::SchedulerDriver driver(&launcher, driver_options);
  driver.Start();

  std::vector<double> samples;
  int next = 0;
  for (auto _ : state) {
    double ms = launcher.LaunchOne(driver, "t" + std::to_string(next++), group);
    if (ms < 0) {
      state.SkipWithError("a task did not reach TASK_RUNNING");
      break;
    }
    samples.push_back(ms);
    state.SetIterationTime(ms / 1000);
  }
  driver.Stop(true);
  agent->reset();
  master->reset();
  std::filesystem::remove_all(dir);
  // The containers' cleanup finishes shortly; then their cgroups root goes too.
  for (const auto& mount : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
    std::string root = (mount.path() / agent_options.cgroups_root).string();
    for (int attempt = 0; attempt < 100 && std::filesystem::exists(root); ++attempt) {
      if (rmdir(root.c_str()) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  stoa::bench::ReportPercentiles(state, std::move(samples));
}

using stoa::bench::kFullIsolation;
using stoa::bench::kFullIsolationWithNet;

BENCHMARK_CAPTURE(TaskLaunch, posix, "posix")
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(TaskLaunch, full_isolation_without_net, kFullIsolation)
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(TaskLaunch, full_isolation_with_net, kFullIsolationWithNet)
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(TaskLaunch, group_into_a_staying_executor, kFullIsolation, true)
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

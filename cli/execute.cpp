// `stoa execute`: a one-off framework that runs N copies of a command, prints
// their state changes and exits 0 only when every copy finished.
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "cli/commands.hpp"
#include "common/duration.hpp"
#include "frameworks/sdk/scheduler.hpp"

namespace stoa::cli {
namespace {

struct ExecuteFlags {
  std::string master;
  std::string command;
  int instances = 1;
  std::string resources = "cpus:0.1;mem:32";
  std::string name = "stoa-execute";
  std::string role = "*";
  std::string timeout = "0secs";
  std::string connect_timeout = "5secs";
};

class ExecuteScheduler : public sdk::Scheduler {
 public:
  ExecuteScheduler(const ExecuteFlags& flags, Resources resources,
                   std::function<void()> on_subscribed)
      : flags_(flags), resources_(std::move(resources)), on_subscribed_(std::move(on_subscribed)) {}

  void Subscribed(sdk::SchedulerDriver&, const FrameworkId& id) override {
    std::printf("subscribed as framework %s\n", id.c_str());
    std::fflush(stdout);
    on_subscribed_();
  }

  void Offers(sdk::SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    for (const auto& offer : offers) {
      Resources remaining = offer.resources;
      std::vector<TaskInfo> tasks;
      while (launched_ < flags_.instances && remaining.Contains(resources_)) {
        TaskInfo task;
        task.task_id = flags_.name + "-" + std::to_string(++launched_);
        task.name = flags_.name;
        task.resources = resources_;
        task.command.value = flags_.command;
        remaining -= resources_;
        tasks.push_back(std::move(task));
      }
      if (tasks.empty()) {
        driver.Decline({offer.id}, 60);
        continue;
      }
      for (const auto& task : tasks) states_[task.task_id] = TaskState::kStaging;
      driver.Launch(offer, std::move(tasks), 60);
    }
    if (launched_ >= flags_.instances) driver.Suppress();
  }

  void Update(sdk::SchedulerDriver& driver, const TaskStatus& status) override {
    auto it = states_.find(status.task_id);
    if (it == states_.end() || IsTerminal(it->second)) return;
    it->second = status.state;
    std::string line = "task " + status.task_id + ": " + ToString(status.state);
    if (!status.agent_id.empty()) line += " on agent " + status.agent_id;
    if (!status.message.empty()) line += ": " + status.message;
    if (status.reason != Reason::kNone) line += std::string(" (") + ToString(status.reason) + ")";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (!IsTerminal(status.state)) return;
    if (status.state == TaskState::kFinished) {
      ++finished_;
    } else {
      failures_.push_back(line);
    }
    if (finished_ + static_cast<int>(failures_.size()) == flags_.instances) driver.Stop(true);
  }

  void Error(sdk::SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "master: %s\n", message.c_str());
  }

  int ExitCode() const {
    std::printf("%d of %d tasks finished", finished_, flags_.instances);
    if (!failures_.empty()) std::printf(", %zu did not:", failures_.size());
    std::printf("\n");
    for (const auto& failure : failures_) std::printf("  %s\n", failure.c_str());
    return finished_ == flags_.instances ? 0 : 1;
  }

 private:
  ExecuteFlags flags_;
  Resources resources_;
  std::function<void()> on_subscribed_;
  int launched_ = 0;
  int finished_ = 0;
  std::map<TaskId, TaskState> states_;
  std::vector<std::string> failures_;
};

}  // namespace

void AddExecuteCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ExecuteFlags>();
  CLI::App* cmd = app.add_subcommand("execute", "Run a command on the cluster and wait for it");
  cmd->add_option("--master", flags->master, "The master, HOST:PORT")->required();
  cmd->add_option("--command", flags->command, "Shell command to run")->required();
  cmd->add_option("--instances", flags->instances, "How many copies to run")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--resources", flags->resources, "Resources of each copy")->capture_default_str();
  cmd->add_option("--name", flags->name, "Name of the framework and prefix of task ids")
      ->capture_default_str();
  cmd->add_option("--role", flags->role, "Role to run under")->capture_default_str();
  cmd->add_option("--connect_timeout", flags->connect_timeout,
                  "Give up when no master has answered after this long")
      ->capture_default_str();
  cmd->add_option("--timeout", flags->timeout, "Give up after this long (0secs: never)")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    Result<Resources> resources = Resources::Parse(flags->resources);
    if (!resources.ok()) {
      std::fprintf(stderr, "stoa execute: --resources: %s\n", resources.error().c_str());
      *exit_code = 2;
      return;
    }
    if (Status s = ValidateTaskResources(*resources); !s.ok()) {
      std::fprintf(stderr, "stoa execute: --resources: %s\n", s.message().c_str());
      *exit_code = 2;
      return;
    }
    double timeout = DurationFlag("timeout", flags->timeout);
    double connect_timeout = DurationFlag("connect_timeout", flags->connect_timeout);
    std::mutex mutex;
    std::condition_variable changed;
    bool done = false, subscribed = false, unanswered = false;
    ExecuteScheduler scheduler(*flags, *resources, [&] {
      {
        std::lock_guard<std::mutex> lock(mutex);
        subscribed = true;
      }
      changed.notify_all();
    });
    sdk::DriverOptions options;
    options.master = flags->master;
    options.framework.name = flags->name;
    options.framework.roles = {flags->role};
    options.framework.user = getenv("USER") != nullptr ? getenv("USER") : "root";
    sdk::SchedulerDriver driver(&scheduler, options);
    if (Status s = driver.Start(); !s.ok()) {
      std::fprintf(stderr, "stoa execute: %s\n", s.message().c_str());
      *exit_code = 2;
      return;
    }
    // Gives up when no master answers in time (never silence), and after
    // --timeout when one is given.
    auto started = std::chrono::steady_clock::now();
    // The driver is stopped without the lock held: its thread may be calling
    // back into the scheduler, which takes it.
    std::thread timer([&] {
      std::unique_lock<std::mutex> lock(mutex);
      if (!changed.wait_for(lock, std::chrono::duration<double>(connect_timeout),
                            [&] { return done || subscribed; })) {
        std::fprintf(stderr, "stoa execute: no master answers at %s after %s\n",
                     flags->master.c_str(), FormatDuration(connect_timeout).c_str());
        unanswered = true;
        lock.unlock();
        driver.Stop(false);
        return;
      }
      if (timeout > 0 && !changed.wait_until(lock, started + std::chrono::duration<double>(timeout),
                                             [&] { return done; })) {
        std::fprintf(stderr, "stoa execute: timed out after %s\n", FormatDuration(timeout).c_str());
        lock.unlock();
        driver.Stop(true);
      }
    });
    driver.Join();
    {
      std::lock_guard<std::mutex> lock(mutex);
      done = true;
    }
    changed.notify_all();
    timer.join();
    if (unanswered) {
      *exit_code = 1;
      return;
    }
    if (driver.aborted()) {
      std::fprintf(stderr, "stoa execute: the master ended this framework's subscription\n");
      driver.Stop(false);
      *exit_code = 1;
      return;
    }
    driver.Stop(true);
    *exit_code = scheduler.ExitCode();
  });
}

}  // namespace stoa::cli

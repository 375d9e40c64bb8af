// A small framework to copy from: it keeps N copies of a command running,
// survives its own restart (pass --framework_id to fail over) and learns the
// state of its tasks by reconciliation after it resubscribes.
//
//   stoa-example-framework --master=127.0.0.1:5050 --instances=3 --command='sleep 600'
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "common/duration.hpp"
#include "frameworks/sdk/scheduler.hpp"

using namespace stoa;

class HelloScheduler : public sdk::Scheduler {
 public:
  HelloScheduler(int instances, std::string command, Resources resources)
      : instances_(instances), command_(std::move(command)), resources_(std::move(resources)) {}

  void Subscribed(sdk::SchedulerDriver& driver, const FrameworkId& id) override {
    std::printf("framework_id %s\n", id.c_str());
    std::fflush(stdout);
    // After a failover, learn what still runs before launching anything new.
    // The master answers at once for every task it knows; with none to report
    // there is no answer, so a short grace period ends the wait as well.
    reconcile_until_ = MonotonicSeconds() + 2;
    driver.Reconcile();
  }

  void Offers(sdk::SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    for (const auto& offer : offers) {
      if (MonotonicSeconds() < reconcile_until_) {
        driver.Decline({offer.id}, 1);
        continue;
      }
      std::vector<TaskInfo> tasks;
      Resources remaining = offer.resources;
      while (Wanted() > 0 && remaining.Contains(resources_)) {
        TaskInfo task;
        task.task_id = "hello-" + std::to_string(next_id_++);
        task.resources = resources_;
        task.command.value = command_;
        remaining -= resources_;
        states_[task.task_id] = TaskState::kStaging;
        tasks.push_back(std::move(task));
      }
      if (tasks.empty()) {
        driver.Decline({offer.id}, 30);
      } else {
        driver.Launch(offer, std::move(tasks));
      }
    }
  }

  void Update(sdk::SchedulerDriver&, const TaskStatus& status) override {
    if (status.reason == Reason::kReconciliation) reconcile_until_ = 0;
    std::printf("task %s %s %s\n", status.task_id.c_str(), ToString(status.state),
                status.message.c_str());
    std::fflush(stdout);
    if (IsTerminal(status.state)) {
      states_.erase(status.task_id);  // a replacement is launched on the next offer
    } else {
      states_[status.task_id] = status.state;
      // Task ids learned by reconciliation must not be reused for new tasks.
      if (status.task_id.rfind("hello-", 0) == 0) {
        next_id_ = std::max(next_id_, std::atoi(status.task_id.c_str() + 6) + 1);
      }
    }
  }

  void Error(sdk::SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "error from master: %s\n", message.c_str());
  }

 private:
  int Wanted() const { return instances_ - static_cast<int>(states_.size()); }

  int instances_;
  std::string command_;
  Resources resources_;
  int next_id_ = 1;
  double reconcile_until_ = 0;
  std::map<TaskId, TaskState> states_;
};

int main(int argc, char** argv) {
  CLI::App app{"Example Stoa framework: keeps N copies of a command running"};
  std::string master, command = "sleep 3600", resources = "cpus:0.1;mem:32", framework_id;
  std::string failover_timeout = "1hrs";
  int instances = 2;
  app.add_option("--master", master, "The master, HOST:PORT")->required();
  app.add_option("--command", command, "Command each task runs")->capture_default_str();
  app.add_option("--instances", instances, "Copies to keep running")->capture_default_str();
  app.add_option("--resources", resources, "Resources per task")->capture_default_str();
  app.add_option("--framework_id", framework_id, "Fail over to this framework");
  app.add_option("--failover_timeout", failover_timeout, "How long the master waits for us")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  Result<Resources> task_resources = Resources::Parse(resources);
  Result<double> timeout = ParseDuration(failover_timeout);
  if (!task_resources.ok() || !timeout.ok()) {
    std::fprintf(stderr, "%s\n",
                 (!task_resources.ok() ? task_resources.error() : timeout.error()).c_str());
    return 2;
  }
  HelloScheduler scheduler(instances, command, *task_resources);
  sdk::DriverOptions options;
  options.master = master;
  options.framework.id = framework_id;
  options.framework.name = "hello";
  options.framework.failover_timeout_seconds = *timeout;
  sdk::SchedulerDriver driver(&scheduler, options);
  if (Status s = driver.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  driver.Join();  // runs until killed
  return 0;
}

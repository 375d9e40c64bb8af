// The in-process cluster the cluster tests share: a master, agents and
// schedulers built on the SDK, talking over inproc:// (executors are real
// processes reaching their agent over ipc://). Timers are short so that
// failures show quickly. Each fixture's agents put their containers' cgroups
// under a root of their own, removed (with anything left in it) at the end.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/agent.hpp"
#include "common/http_server.hpp"
#include "common/transport.hpp"
#include "frameworks/sdk/scheduler.hpp"
#include "isolators/cgroups/cgroups.hpp"
#include "master/master.hpp"
#include "protocols/codec.hpp"
#include "tests/test_util.hpp"

namespace stoa::cluster {

using json = nlohmann::json;
using stoa::testing::WaitFor;

// Records everything the master tells a framework; tests wait on it.
class Recorder : public sdk::Scheduler {
 public:
  std::function<void(sdk::SchedulerDriver&, const std::vector<Offer>&)> on_offers;

  void Subscribed(sdk::SchedulerDriver&, const FrameworkId& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    framework_id_ = id;
    ++subscriptions_;
  }
  void Offers(sdk::SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& offer : offers) offers_.push_back(offer);
    }
    if (on_offers) on_offers(driver, offers);
  }
  void Rescind(sdk::SchedulerDriver&, const OfferId& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    rescinded_.push_back(id);
  }
  void Update(sdk::SchedulerDriver&, const TaskStatus& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
    updates_.push_back(status);
  }
  void Error(sdk::SchedulerDriver&, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    errors_.push_back(message);
  }

  std::vector<Offer> offers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return offers_;
  }
  std::vector<TaskStatus> updates() {
    std::lock_guard<std::mutex> lock(mutex_);
    return updates_;
  }
  FrameworkId framework_id() {
    std::lock_guard<std::mutex> lock(mutex_);
    return framework_id_;
  }
  int subscriptions() {
    std::lock_guard<std::mutex> lock(mutex_);
    return subscriptions_;
  }
  // The first update of `task` in `state`, if one arrived.
  std::optional<TaskStatus> Find(const TaskId& task, TaskState state) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& u : updates_) {
      if (u.task_id == task && u.state == state) return u;
    }
    return std::nullopt;
  }
  bool WaitForState(const TaskId& task, TaskState state) {
    return WaitFor([&] { return Find(task, state).has_value(); });
  }
  bool WaitForOffers(size_t count) {
    return WaitFor([&] { return offers().size() >= count; });
  }

 private:
  std::mutex mutex_;
  FrameworkId framework_id_;
  int subscriptions_ = 0;
  std::vector<Offer> offers_;
  std::vector<OfferId> rescinded_;
  std::vector<TaskStatus> updates_;
  std::vector<std::string> errors_;
};

inline TaskInfo Command(const std::string& id, const std::string& command,
                        const std::string& resources = "cpus:0.5;mem:64") {
  TaskInfo task;
  task.task_id = id;
  task.command.value = command;
  task.resources = *Resources::Parse(resources);
  task.kill_grace_period_ms = 500;
  return task;
}

class ClusterTest : public ::testing::Test {
 protected:
  static std::string NextCgroupsRoot() {
    static std::atomic<int> counter{0};
    return "stoa-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  }

  void SetUp() override {
    static std::atomic<int> counter{0};
    master::MasterOptions options;
    options.bind_address = "inproc://master-" + std::to_string(counter++);
    options.http_port = 0;
    options.work_dir = dir_.path() + "/master";
    options.allocation_interval = 0.05;
    options.agent_ping_interval = 0.1;
    options.max_agent_ping_timeouts = 3;
    options.framework_heartbeat_interval = 0.2;
    options.offer_timeout = 0;
    auto master = master::Master::Start(system_, options);
    ASSERT_TRUE(master.ok()) << master.error();
    master_ = std::move(*master);
    for (int i = 0; i < agent_count_; ++i) StartAgent(i);
    ASSERT_TRUE(WaitFor([&] { return ActiveAgents() == agent_count_; })) << master_->StateJson();
  }

  void TearDown() override {
    drivers_.clear();
    agents_.clear();
    master_.reset();
    RemoveCgroups();
  }

  // Changes what agent `index` starts with (called by StartAgent).
  virtual void AdjustAgent(int /*index*/, agent::AgentOptions& /*options*/) {}

  // Kills whatever the agents left running and removes their cgroups.
  void RemoveCgroups() {
    namespace cgroups = isolators::cgroups;
    std::vector<cgroups::Hierarchy> hierarchies;
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
      if (auto found = cgroups::FindHierarchy(controller); found.ok())
        hierarchies.push_back(*found);
    }
    if (auto unified = cgroups::FindUnifiedHierarchy()) hierarchies.push_back(*unified);
    for (const auto& hierarchy : hierarchies) {
      for (const auto& id : cgroups::List(hierarchy, cgroups_root_)) {
        std::string path = cgroups::ContainerPath(hierarchy, cgroups_root_, id);
        cgroups::KillAll(hierarchy, path);
        cgroups::Remove(path);
      }
      cgroups::Remove(hierarchy.mount_point + "/" + cgroups_root_);
    }
  }

  void StartAgent(int index) {
    agent::AgentOptions options;
    options.master = master_->address();
    options.http_port = 0;
    options.work_dir = dir_.path() + "/agent" + std::to_string(index);
    options.resources = "cpus:2;mem:1024;disk:1024;ports:[31000-31009]";
    options.hostname = "node" + std::to_string(index);
    options.executor_path = stoa::testing::BinDir() + "/stoa-executor";
    options.status_update_retry_interval = 0.2;
    options.master_timeout = 2;
    options.executor_shutdown_grace = 1;
    options.cgroups_root = cgroups_root_;
    AdjustAgent(index, options);
    auto agent = agent::Agent::Start(system_, options);
    ASSERT_TRUE(agent.ok()) << agent.error();
    if (agents_.size() <= static_cast<size_t>(index)) agents_.resize(index + 1);
    agents_[index] = std::move(*agent);
  }

  json State() { return json::parse(master_->StateJson()); }

  int ActiveAgents() {
    int active = 0;
    json state = State();
    for (const auto& agent : state["agents"]) active += agent["active"].get<bool>() ? 1 : 0;
    return active;
  }

  // The master's view of a task (active or completed), or null.
  json MasterTask(const TaskId& id) {
    json state = State();
    for (const char* list : {"frameworks", "completed_frameworks"}) {
      for (const auto& framework : state[list]) {
        for (const char* tasks : {"tasks", "completed_tasks"}) {
          for (const auto& task : framework[tasks]) {
            if (task["id"] == id) return task;
          }
        }
      }
    }
    return nullptr;
  }

  sdk::SchedulerDriver& StartDriver(Recorder* recorder, FrameworkInfo info = {},
                                    bool implicit_acks = true) {
    if (info.name.empty()) info.name = "test";
    sdk::DriverOptions options;
    options.master = master_->address();
    options.framework = info;
    options.implicit_acknowledgements = implicit_acks;
    options.resubscribe_interval = 0.2;
    drivers_.push_back(std::make_unique<sdk::SchedulerDriver>(recorder, options));
    EXPECT_TRUE(drivers_.back()->Start().ok());
    EXPECT_TRUE(WaitFor([&] { return drivers_.back()->subscribed(); }));
    return *drivers_.back();
  }

  // Launches `task` on the first offer the recorder gets.
  Offer LaunchOnFirstOffer(Recorder& recorder, sdk::SchedulerDriver& driver, TaskInfo task) {
    EXPECT_TRUE(recorder.WaitForOffers(1));
    Offer offer = recorder.offers().front();
    driver.Launch(offer, {std::move(task)});
    return offer;
  }

  int agent_count_ = 2;
  std::string cgroups_root_ = NextCgroupsRoot();
  stoa::testing::TempDir dir_;
  caf::actor_system_config config_;
  caf::actor_system system_{config_};
  std::unique_ptr<master::Master> master_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
  std::vector<std::unique_ptr<sdk::SchedulerDriver>> drivers_;
};

}  // namespace stoa::cluster

// The service core on a real LevelDB store, with the master's side recorded
// and time moved by hand; shared by the core's tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "frameworks/service/api_json.hpp"
#include "frameworks/service/app_json.hpp"
#include "frameworks/service/core.hpp"
#include "tests/test_util.hpp"

namespace stoa::service {

using json = nlohmann::json;

class Recorder : public sdk::SchedulerActions {
 public:
  explicit Recorder(ServiceStore** store) : store_(store) {}
  void Accept(const Offer&, std::vector<Operation>, double) override {
    ADD_FAILURE() << "the service framework launches no task groups";
  }
  void Launch(const Offer& offer, std::vector<TaskInfo> tasks, double) override {
    // Each task's record must be in the store by the time it is launched.
    auto contents = (*store_)->Load();
    for (const auto& task : tasks) {
      bool stored = false;
      for (const auto& record : contents->tasks) stored = stored || record.id == task.task_id;
      EXPECT_TRUE(stored) << task.task_id << " launched before it was recorded";
      launched.push_back(task);
      launched_on.push_back(offer.agent_id);
    }
  }
  void Decline(const OfferId& id, double refuse) override {
    declined.push_back(id);
    last_refuse = refuse;
  }
  void Kill(const TaskId& id, const AgentId&) override { killed.push_back(id); }
  void Reconcile(const std::vector<std::pair<TaskId, AgentId>>& tasks) override {
    reconciles.push_back(tasks);
  }
  void Revive() override { ++revives; }
  void Suppress() override { ++suppresses; }

  std::vector<TaskInfo> launched;
  std::vector<AgentId> launched_on;
  std::vector<OfferId> declined;
  double last_refuse = 0;
  std::vector<TaskId> killed;
  std::vector<std::vector<std::pair<TaskId, AgentId>>> reconciles;
  int revives = 0;
  int suppresses = 0;

 private:
  ServiceStore** store_;
};

class ServiceCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    core_.reset();
    store_.reset();
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok()) << storage.error();
    store_ = std::make_unique<ServiceStore>(std::move(*storage));
    store_pointer_ = store_.get();
    actions_ = std::make_unique<Recorder>(&store_pointer_);
    CoreOptions options;
    options.on_fatal = [](const std::string& why) { FAIL() << "fatal: " << why; };
    options.on_event = [this](const json& event) { events_.push_back(event); };
    core_ = std::make_unique<ServiceCore>(store_.get(), actions_.get(), options,
                                          [this] { return now_; });
    ASSERT_TRUE(core_->Recover().ok());
  }

  AppDefinition App(const std::string& text) {
    ParsedApp parsed = ParseApp(json::parse(text));
    EXPECT_TRUE(parsed.app.has_value()) << parsed.errors.Summary();
    return parsed.app.value_or(AppDefinition{});
  }

  Offer MakeOffer(const std::string& agent,
                  const std::string& resources = "cpus:4;mem:4096;disk:1000;ports:[31000-31009]") {
    Offer offer;
    offer.id = "offer-" + std::to_string(++offers_);
    offer.agent_id = agent;
    offer.hostname = "host-" + agent;
    offer.resources = *Resources::Parse(resources);
    return offer;
  }

  void Status(const TaskId& id, TaskState state, const std::string& message = "") {
    TaskStatus status;
    status.task_id = id;
    status.state = state;
    status.message = message;
    status.timestamp = now_;
    core_->Update(status);
  }

  std::vector<TaskRecord> Tasks(const std::string& app) {
    auto view = core_->ViewApp(PathId::Parse(app));
    return view ? view->tasks : std::vector<TaskRecord>{};
  }

  std::string Env(const TaskInfo& task, const std::string& name) {
    for (const auto& [key, value] : task.command.environment) {
      if (key == name) return value;
    }
    return "";
  }

  // The events of `type` published so far.
  std::vector<json> Events(const std::string& type) const {
    std::vector<json> out;
    for (const auto& event : events_) {
      if (event["eventType"] == type) out.push_back(event);
    }
    return out;
  }

  // A health result from the executor (or, with `reason`, another update carrying one).
  void Health(const TaskId& id, bool healthy, const std::string& message = "",
              TaskState state = TaskState::kRunning,
              Reason reason = Reason::kTaskHealthCheckStatusUpdated) {
    TaskStatus status;
    status.task_id = id;
    status.state = state;
    status.reason = reason;
    status.healthy = healthy;
    status.message = message;
    status.timestamp = now_;
    core_->Update(status);
  }

  json AppCounts(const std::string& app) {
    auto view = core_->ViewApp(PathId::Parse(app));
    return view ? AppInfoJson(*view, {"counts", "tasks"}) : json::object();
  }

  stoa::testing::TempDir dir_;
  std::vector<json> events_;
  double now_ = 1000;
  int offers_ = 0;
  std::unique_ptr<ServiceStore> store_;
  ServiceStore* store_pointer_ = nullptr;
  std::unique_ptr<Recorder> actions_;
  std::unique_ptr<ServiceCore> core_;
};

}  // namespace stoa::service

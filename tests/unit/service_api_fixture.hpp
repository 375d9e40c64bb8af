// A real HTTP server with the service's API over a core on LevelDB, the
// master's side recorded and time moved by hand: for the API's route tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/http_server.hpp"
#include "frameworks/service/api.hpp"
#include "tests/test_util.hpp"

namespace stoa::service {

class RecordedActions : public sdk::SchedulerActions {
 public:
  void Launch(const Offer&, std::vector<TaskInfo> tasks, double) override {
    for (auto& task : tasks) launched.push_back(std::move(task));
  }
  void Accept(const Offer&, std::vector<Operation>, double) override {
    ADD_FAILURE() << "the service framework launches no task groups";
  }
  void Decline(const OfferId& id, double) override { declined.push_back(id); }
  void Kill(const TaskId& id, const AgentId&) override { killed.push_back(id); }
  void Reconcile(const std::vector<std::pair<TaskId, AgentId>>&) override {}
  void Revive() override {}
  void Suppress() override {}
  std::vector<TaskInfo> launched;
  std::vector<OfferId> declined;
  std::vector<TaskId> killed;
};

class ServiceApiFixture : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  void SetUp() override { Open(); }

  // (Re)opens the store and the core on the same directory, as a restart does.
  void Open() {
    server_.reset();
    core_.reset();
    store_.reset();
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok()) << storage.error();
    store_ = std::make_unique<ServiceStore>(std::move(*storage));
    CoreOptions options;
    options.on_fatal = [](const std::string& why) { ADD_FAILURE() << why; };
    options.kill_drain = kill_drain_;
    options.on_event = [this](const json& event) { events_.push_back(event); };
    core_ =
        std::make_unique<ServiceCore>(store_.get(), &actions_, options, [this] { return now_; });
    ASSERT_TRUE(core_->Recover().ok());
    core_->Subscribed("framework-1");
    server_ = std::make_unique<HttpServer>();
    info_.hostname = "127.0.0.1";
    info_.http_port = [this] { return server_->port(); };
    AddServiceApi(*server_, core_.get(), &info_);
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
  }

  HttpReply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", server_->port(), path, body);
    EXPECT_TRUE(reply.ok()) << reply.error();
    return reply.ok() ? *reply : HttpReply{};
  }
  json Json(const HttpReply& reply) { return json::parse(reply.body, nullptr, false); }

  Offer MakeOffer(const std::string& agent,
                  const std::string& resources = "cpus:8;mem:8192;disk:1000;ports:[31000-31099]") {
    Offer offer;
    offer.id = "o" + std::to_string(offers_++);
    offer.agent_id = agent;
    offer.hostname = "host-" + agent;
    offer.resources = *Resources::Parse(resources);
    return offer;
  }

  // Runs what the apps want on one offer and reports the new tasks RUNNING.
  void RunTasks(const std::string& agent = "agent-1") {
    size_t before = actions_.launched.size();
    core_->Offers({MakeOffer(agent)});
    for (size_t i = before; i < actions_.launched.size(); ++i) {
      TaskStatus status;
      status.task_id = actions_.launched[i].task_id;
      status.state = TaskState::kRunning;
      core_->Update(status);
    }
  }

  // The ids of the apps GET /v2/apps lists.
  std::vector<std::string> AppIds() {
    std::vector<std::string> ids;
    json apps = Json(Call("GET", "/v2/apps"));
    for (const auto& app : apps["apps"]) ids.push_back(app["id"]);
    return ids;
  }

  stoa::testing::TempDir dir_;
  double now_ = 1e9;
  double kill_drain_ = 0;     // set before Open
  std::vector<json> events_;  // what the core published
  int offers_ = 0;
  RecordedActions actions_;
  std::unique_ptr<ServiceStore> store_;
  std::unique_ptr<ServiceCore> core_;
  ApiInfo info_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace stoa::service

// Marathon's event bus and /v2/events: the bus's order, filters, backlog and
// the cut-off of a slow subscriber; then the stream over a real HTTP server
// and the service core (the master's side played by the test), read by a
// real client, with Marathon's framing and event bodies field by field.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "common/http_server.hpp"
#include "frameworks/service/api.hpp"
#include "frameworks/service/api_events.hpp"
#include "frameworks/service/event_bus.hpp"
#include "tests/test_util.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;
using stoa::testing::WaitFor;

json Event(const std::string& type, int n = 0) { return {{"eventType", type}, {"n", n}}; }

std::vector<uint64_t> Numbers(const std::vector<std::shared_ptr<const BusEvent>>& events) {
  std::vector<uint64_t> numbers;
  for (const auto& event : events) numbers.push_back(event->number);
  return numbers;
}

TEST(EventBusTest, NumbersEventsAndDeliversThemInOrder) {
  EventBus bus;
  auto subscription = bus.Subscribe({});
  for (int i = 0; i < 5; ++i) bus.Publish(Event(i % 2 ? "odd" : "even", i));
  auto events = subscription->Next(std::chrono::milliseconds(0));
  ASSERT_EQ(Numbers(events), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(events[i]->type, i % 2 ? "odd" : "even");
    EXPECT_EQ(json::parse(events[i]->data), Event(events[i]->type, i));
  }
  EXPECT_TRUE(subscription->Next(std::chrono::milliseconds(0)).empty());
  EXPECT_EQ(bus.last_number(), 5u);
}

TEST(EventBusTest, ASubscriberGetsOnlyTheTypesItAskedFor) {
  EventBus bus;
  auto odd = bus.Subscribe({"odd"});
  auto both = bus.Subscribe({"odd", "even"});
  auto other = bus.Subscribe({"other"});
  for (int i = 0; i < 4; ++i) bus.Publish(Event(i % 2 ? "odd" : "even", i));
  EXPECT_EQ(Numbers(odd->Next(std::chrono::milliseconds(0))), (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(Numbers(both->Next(std::chrono::milliseconds(0))), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(other->Next(std::chrono::milliseconds(0)).empty());
}

TEST(EventBusTest, ASlowSubscriberIsCutOffAndTheOthersGoOn) {
  EventBus bus(EventBusOptions{16, 4});
  auto slow = bus.Subscribe({});
  auto fast = bus.Subscribe({});
  auto picky = bus.Subscribe({"rare"});  // few events wanted: never behind
  std::vector<uint64_t> seen;
  for (int i = 0; i < 10; ++i) {
    bus.Publish(Event(i == 7 ? "rare" : "common", i));  // never waits for `slow`
    for (const auto& event : fast->Next(std::chrono::milliseconds(0))) {
      seen.push_back(event->number);
    }
  }
  EXPECT_TRUE(slow->cut_off());
  EXPECT_TRUE(slow->closed());
  EXPECT_TRUE(slow->Next(std::chrono::milliseconds(0)).empty());  // what it missed is gone
  EXPECT_FALSE(fast->cut_off());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_FALSE(picky->cut_off());
  EXPECT_EQ(Numbers(picky->Next(std::chrono::milliseconds(0))), (std::vector<uint64_t>{8}));
}

TEST(EventBusTest, KeepsABoundedBacklogToStartFrom) {
  EventBus bus(EventBusOptions{3, 100});
  for (int i = 0; i < 5; ++i) bus.Publish(Event(i == 4 ? "b" : "a", i));
  EXPECT_EQ(Numbers(bus.Backlog()), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(Numbers(bus.Backlog(4)), (std::vector<uint64_t>{5}));
  auto from_three = bus.Subscribe({}, 3);
  auto only_a = bus.Subscribe({"a"}, 1);
  bus.Publish(Event("a", 5));
  EXPECT_EQ(Numbers(from_three->Next(std::chrono::milliseconds(0))),
            (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(Numbers(only_a->Next(std::chrono::milliseconds(0))), (std::vector<uint64_t>{3, 4, 6}));
}

TEST(EventBusTest, CancelWakesAWaitingSubscriberAndLeavingUnsubscribes) {
  EventBus bus;
  auto subscription = bus.Subscribe({});
  EXPECT_EQ(bus.subscribers(), 1u);
  auto waiting =
      std::async(std::launch::async, [&] { return subscription->Next(std::chrono::seconds(60)); });
  subscription->Cancel();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(waiting.get().empty());
  EXPECT_TRUE(subscription->closed());
  EXPECT_FALSE(subscription->cut_off());
  subscription.reset();
  EXPECT_EQ(bus.subscribers(), 0u);
}

class Quiet : public sdk::SchedulerActions {
 public:
  void Launch(const Offer&, std::vector<TaskInfo> tasks, double) override {
    for (auto& task : tasks) launched.push_back(std::move(task));
  }
  void Accept(const Offer&, std::vector<Operation>, double) override {
    ADD_FAILURE() << "the service framework launches no task groups";
  }
  void Decline(const OfferId&, double) override {}
  void Kill(const TaskId& id, const AgentId&) override { killed.push_back(id); }
  void Reconcile(const std::vector<std::pair<TaskId, AgentId>>&) override {}
  void Revive() override {}
  void Suppress() override {}
  std::vector<TaskInfo> launched;
  std::vector<TaskId> killed;
};

// A client of /v2/events on its own thread, keeping what it read.
class EventReader {
 public:
  EventReader(int port, const std::string& path,
              std::map<std::string, std::string> headers = {{"Accept", "text/event-stream"}}) {
    thread_ = std::thread([this, port, path, headers] {
      auto reply = HttpGetStream("127.0.0.1", port, path, headers, [this](const std::string& c) {
        std::lock_guard<std::mutex> lock(mutex_);
        text_ += c;
        return !leave_;
      });
      std::lock_guard<std::mutex> lock(mutex_);
      reply_ = std::move(reply);
      done_ = true;
    });
  }
  ~EventReader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      leave_ = true;  // at the next chunk (keep-alives come every few ms)
    }
    thread_.join();
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  Result<HttpReply> reply() {
    std::lock_guard<std::mutex> lock(mutex_);
    return reply_;
  }
  // The events read so far, as (event line, parsed data), in order; comments skipped.
  std::vector<std::pair<std::string, json>> Events() {
    std::vector<std::pair<std::string, json>> events;
    std::string text = this->text();
    size_t at = 0;
    for (size_t end; (end = text.find("\n\n", at)) != std::string::npos; at = end + 2) {
      std::string frame = text.substr(at, end - at);
      if (frame.rfind(":", 0) == 0) continue;
      size_t newline = frame.find('\n');
      EXPECT_EQ(frame.rfind("event: ", 0), 0u) << frame;
      EXPECT_EQ(frame.compare(newline + 1, 6, "data: "), 0) << frame;
      events.emplace_back(frame.substr(7, newline - 7),
                          json::parse(frame.substr(newline + 7), nullptr, false));
    }
    return events;
  }
  std::vector<json> OfType(const std::string& type) {
    std::vector<json> found;
    for (auto& [name, data] : Events()) {
      if (name == type) found.push_back(data);
    }
    return found;
  }

 private:
  std::mutex mutex_;
  std::string text_;
  bool leave_ = false;
  bool done_ = false;
  Result<HttpReply> reply_ = Status::Error("not done");
  std::thread thread_;
};

class EventStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok());
    store_ = std::make_unique<ServiceStore>(std::move(*storage));
    CoreOptions options;
    options.on_fatal = [](const std::string& why) { ADD_FAILURE() << why; };
    options.on_event = [this](const json& event) { bus_.Publish(event); };
    core_ = std::make_unique<ServiceCore>(store_.get(), &actions_, options, [] { return 1e9; });
    ASSERT_TRUE(core_->Recover().ok());
    core_->Subscribed("framework-1");
    info_.hostname = "127.0.0.1";
    info_.http_port = [this] { return server_.port(); };
    AddServiceApi(server_, core_.get(), &info_);
    AddEventRoutes(server_, &bus_, EventStreamOptions{0.02, [] { return 1e9 + 1; }});
    ASSERT_TRUE(server_.Start("127.0.0.1", 0).ok());
  }
  void TearDown() override { server_.Stop(); }

  HttpReply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", server_.port(), path, body);
    EXPECT_TRUE(reply.ok()) << reply.error();
    return reply.ok() ? *reply : HttpReply{};
  }
  // Waits until `reader` has read an event of `type` (for which `match` holds).
  bool Saw(
      EventReader& reader, const std::string& type,
      const std::function<bool(const json&)>& match = [](const json&) { return true; }) {
    return WaitFor([&] {
      for (const auto& event : reader.OfType(type)) {
        if (match(event)) return true;
      }
      return false;
    });
  }
  void Report(const std::string& task, TaskState state) {
    TaskStatus status;
    status.task_id = task;
    status.agent_id = "agent-1";
    status.state = state;
    status.message = std::string("now ") + ToString(state);
    core_->Update(status);
  }

  stoa::testing::TempDir dir_;
  EventBus bus_;  // outlives the server and the core
  Quiet actions_;
  std::unique_ptr<ServiceStore> store_;
  std::unique_ptr<ServiceCore> core_;
  ApiInfo info_;
  HttpServer server_;
};

TEST_F(EventStreamTest, StreamsAnAppsLifeInMarathonsShapes) {
  // Attached first, so that `reader` does not see it attach.
  EventReader heavy(server_.port(),
                    "/v2/events?event_type=deployment_info&event_type=event_stream_attached");
  ASSERT_TRUE(Saw(heavy, "event_stream_attached"));
  EventReader reader(server_.port(), "/v2/events?plan-format=light");
  ASSERT_TRUE(Saw(reader, "event_stream_attached")) << reader.text();
  json attached = reader.OfType("event_stream_attached").at(0);
  EXPECT_EQ(attached, (json{{"remoteAddress", "127.0.0.1"},
                            {"eventType", "event_stream_attached"},
                            {"timestamp", "2001-09-09T01:46:41.000Z"}}));

  HttpReply created = Call("POST", "/v2/apps", R"({"id": "/shop/web", "cmd": "serve",
    "cpus": 0.1, "mem": 32, "ports": [0]})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string deployment = created.headers["Marathon-Deployment-Id"];
  ASSERT_TRUE(Saw(reader, "api_post_event")) << reader.text();
  json post = reader.OfType("api_post_event").at(0);
  EXPECT_EQ(post["clientIp"], "127.0.0.1");
  EXPECT_EQ(post["uri"], "/v2/apps");
  EXPECT_EQ(post["appDefinition"]["id"], "/shop/web");
  EXPECT_EQ(post["appDefinition"]["cmd"], "serve");
  EXPECT_EQ(post["appDefinition"]["version"], json::parse(created.body)["version"]);
  EXPECT_EQ(post["timestamp"], "2001-09-09T01:46:40.000Z");  // the core's clock

  // deployment_info for each step, in order, with the plan in Marathon's light format.
  auto infos = reader.OfType("deployment_info");
  ASSERT_EQ(infos.size(), 2u) << reader.text();
  json steps = json::array(
      {{{"actions", json::array({{{"action", "StartApplication"}, {"app", "/shop/web"}}})}},
       {{"actions", json::array({{{"action", "ScaleApplication"}, {"app", "/shop/web"}}})}}});
  EXPECT_EQ(
      infos[0]["plan"],
      (json{{"id", deployment}, {"steps", steps}, {"version", post["appDefinition"]["version"]}}));
  EXPECT_EQ(infos[0]["currentStep"], steps[0]);
  EXPECT_EQ(infos[1]["currentStep"], steps[1]);
  // Without plan-format=light, as Marathon 1.4 (and marathon-python, which
  // needs them): the plan's original and target, with the apps it changes.
  ASSERT_TRUE(Saw(heavy, "deployment_info")) << heavy.text();
  json plan = heavy.OfType("deployment_info").at(0)["plan"];
  EXPECT_EQ(plan["steps"], steps);
  EXPECT_EQ(plan["original"]["id"], "/");
  EXPECT_EQ(plan["original"]["apps"], json::array());  // a new app
  ASSERT_EQ(plan["target"]["apps"].size(), 1u) << plan.dump();
  EXPECT_EQ(plan["target"]["apps"][0]["id"], "/shop/web");
  EXPECT_EQ(plan["target"]["apps"][0]["cmd"], "serve");
  EXPECT_EQ(plan["target"]["groups"], json::array());

  // The task: staged at launch, then running; the deployment is then done.
  Offer offer;
  offer.id = "o1";
  offer.agent_id = "agent-1";
  offer.hostname = "node1";
  offer.resources = *Resources::Parse("cpus:8;mem:8192;disk:1000;ports:[31000-31099]");
  core_->Offers({offer});
  ASSERT_EQ(actions_.launched.size(), 1u);
  std::string task = actions_.launched[0].task_id;
  Report(task, TaskState::kRunning);
  ASSERT_TRUE(Saw(reader, "deployment_success")) << reader.text();
  auto updates = reader.OfType("status_update_event");
  ASSERT_EQ(updates.size(), 2u) << reader.text();
  EXPECT_EQ(updates[0]["taskStatus"], "TASK_STAGING");
  json running = updates[1];
  EXPECT_EQ(running["taskStatus"], "TASK_RUNNING");
  EXPECT_EQ(running["slaveId"], "agent-1");
  EXPECT_EQ(running["taskId"], task);
  EXPECT_EQ(running["message"], "now TASK_RUNNING");
  EXPECT_EQ(running["appId"], "/shop/web");
  EXPECT_EQ(running["host"], "node1");
  EXPECT_EQ(running["ipAddresses"], json::array());
  ASSERT_EQ(running["ports"].size(), 1u);
  EXPECT_GE(running["ports"][0].get<int>(), 31000);
  EXPECT_EQ(running["version"], post["appDefinition"]["version"]);
  auto changes = reader.OfType("instance_changed_event");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1], (json{{"instanceId", task},
                              {"condition", "Running"},
                              {"runSpecId", "/shop/web"},
                              {"agentId", "agent-1"},
                              {"host", "node1"},
                              {"runSpecVersion", post["appDefinition"]["version"]},
                              {"eventType", "instance_changed_event"},
                              {"timestamp", "2001-09-09T01:46:40.000Z"}}));
  json success = reader.OfType("deployment_success").at(0);
  EXPECT_EQ(success["id"], deployment);
  EXPECT_EQ(success["plan"], infos[0]["plan"]);

  // Every event's data names its own type, and they came in the order they happened.
  std::vector<std::string> order;
  for (auto [type, data] : reader.Events()) {
    EXPECT_EQ(data["eventType"], type);
    order.push_back(type);
  }
  // Each step begins (deployment_info) and ends (deployment_step_success):
  // StartApplication at once, ScaleApplication once the task runs.
  EXPECT_EQ(order, (std::vector<std::string>{
                       "event_stream_attached", "group_change_success", "deployment_info",
                       "deployment_step_success", "deployment_info", "api_post_event",
                       "status_update_event", "instance_changed_event", "status_update_event",
                       "instance_changed_event", "deployment_step_success", "deployment_success"}));
  json group = reader.OfType("group_change_success").at(0);
  EXPECT_EQ(group["groupId"], "/shop");  // as Marathon: the app's group changed
  EXPECT_EQ(group["version"], post["appDefinition"]["version"]);
  auto step_ends = reader.OfType("deployment_step_success");
  EXPECT_EQ(step_ends[0]["currentStep"]["actions"][0]["action"], "StartApplication");
  EXPECT_EQ(step_ends[1]["currentStep"]["actions"][0]["action"], "ScaleApplication");
  EXPECT_EQ(step_ends[1]["plan"]["id"], deployment);

  // Deleted: api_post_event at once, app_terminated_event once its task ended.
  HttpReply deleted = Call("DELETE", "/v2/apps/shop/web");
  ASSERT_EQ(deleted.status, 200);
  ASSERT_TRUE(Saw(reader, "api_post_event", [](json e) { return e["uri"] == "/v2/apps/shop/web"; }))
      << reader.text();
  ASSERT_TRUE(Saw(reader, "deployment_info", [](json e) {
    return e["currentStep"]["actions"][0]["action"] == "StopApplication";
  }));
  ASSERT_TRUE(Saw(heavy, "deployment_info", [](json e) {
    return e["currentStep"]["actions"][0]["action"] == "StopApplication" &&
           e["plan"].contains("original") && e["plan"].contains("target");
  })) << heavy.text();
  EXPECT_TRUE(reader.OfType("app_terminated_event").empty());
  Report(task, TaskState::kKilled);
  ASSERT_TRUE(Saw(reader, "app_terminated_event")) << reader.text();
  EXPECT_EQ(reader.OfType("app_terminated_event").at(0)["appId"], "/shop/web");
  ASSERT_TRUE(Saw(reader, "deployment_success",
                  [&](json e) { return e["id"] == json::parse(deleted.body)["deploymentId"]; }));
  ASSERT_TRUE(
      Saw(reader, "status_update_event", [](json e) { return e["taskStatus"] == "TASK_KILLED"; }));
}

TEST_F(EventStreamTest, FiltersByEventTypeAndTellsOthersOfClientsThatCome) {
  EventReader all(server_.port(), "/v2/events");
  ASSERT_TRUE(Saw(all, "event_stream_attached"));
  {
    EventReader filtered(server_.port(),
                         "/v2/events?event_type=deployment_success&event_type=app_terminated_"
                         "event&plan-format=light");
    ASSERT_TRUE(Saw(all, "event_stream_attached",
                    [&](const json&) { return all.OfType("event_stream_attached").size() == 2; }));
    ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/empty", "cmd": "x", "instances": 0})").status,
              201);
    ASSERT_EQ(Call("DELETE", "/v2/apps/empty").status, 200);
    ASSERT_TRUE(Saw(filtered, "app_terminated_event")) << filtered.text();
    ASSERT_TRUE(Saw(all, "app_terminated_event"));
    std::vector<std::string> types;
    for (const auto& [type, data] : filtered.Events()) types.push_back(type);
    EXPECT_EQ(types, (std::vector<std::string>{"deployment_success", "app_terminated_event",
                                               "deployment_success"}));
    // Idle, it still hears from the server: keep-alive comments.
    ASSERT_TRUE(WaitFor([&] { return filtered.text().find("\n:") != std::string::npos; }));
  }
  // The filtered client left: the other hears of it.
  ASSERT_TRUE(Saw(all, "event_stream_detached")) << all.text();
  EXPECT_EQ(all.OfType("event_stream_detached").at(0)["remoteAddress"], "127.0.0.1");
}

TEST_F(EventStreamTest, AnswersClientsThatDoNotAcceptAnEventStreamWith405) {
  EventReader plain(server_.port(), "/v2/events", {{"Accept", "application/json"}});
  ASSERT_TRUE(WaitFor([&] { return plain.done(); }));
  ASSERT_TRUE(plain.reply().ok()) << plain.reply().error();
  EXPECT_EQ(plain.reply()->status, 405);
  EXPECT_EQ(plain.reply()->headers["Content-Type"], "text/html");
  EXPECT_NE(plain.text().find("Accept: text/event-stream"), std::string::npos) << plain.text();
  // Accept headers that list it among others, as browsers' EventSource and curl users send.
  EventReader listed(server_.port(), "/v2/events",
                     {{"Accept", "application/json, text/event-stream;q=0.9"}});
  EXPECT_TRUE(Saw(listed, "event_stream_attached")) << listed.text();
}

TEST_F(EventStreamTest, StoppingTheServerEndsOpenStreams) {
  EventReader reader(server_.port(), "/v2/events");
  ASSERT_TRUE(Saw(reader, "event_stream_attached"));
  server_.Stop();
  ASSERT_TRUE(WaitFor([&] { return reader.done(); }));
  EXPECT_TRUE(reader.reply().ok()) << reader.reply().error();
  EXPECT_EQ(bus_.subscribers(), 0u);
}

}  // namespace
}  // namespace stoa::service

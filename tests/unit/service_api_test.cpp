// Marathon's REST API over a real HTTP server and the service core (the
// master's side recorded): status codes, headers, error bodies with paths,
// embeds, filters, capitalised booleans, and ids with double slashes.
#include <gtest/gtest.h>

#include "common/http_server.hpp"
#include "frameworks/service/api.hpp"
#include "tests/test_util.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

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

class ServiceApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = OpenLevelDbStorage(dir_.path() + "/state");
    ASSERT_TRUE(storage.ok());
    store_ = std::make_unique<ServiceStore>(std::move(*storage));
    CoreOptions options;
    options.on_fatal = [](const std::string& why) { ADD_FAILURE() << why; };
    core_ = std::make_unique<ServiceCore>(store_.get(), &actions_, options, [] { return 1e9; });
    ASSERT_TRUE(core_->Recover().ok());
    core_->Subscribed("framework-1");
    info_.hostname = "127.0.0.1";
    info_.http_port = [this] { return server_.port(); };
    AddServiceApi(server_, core_.get(), &info_);
    ASSERT_TRUE(server_.Start("127.0.0.1", 0).ok());
  }

  HttpReply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", server_.port(), path, body);
    EXPECT_TRUE(reply.ok()) << reply.error();
    return reply.ok() ? *reply : HttpReply{};
  }
  json Json(const HttpReply& reply) { return json::parse(reply.body, nullptr, false); }

  // Runs the app's wanted tasks on one offer and reports them RUNNING.
  void RunTasks() {
    Offer offer;
    offer.id = "o" + std::to_string(offers_++);
    offer.agent_id = "agent-1";
    offer.hostname = "node1";
    offer.resources = *Resources::Parse("cpus:8;mem:8192;disk:1000;ports:[31000-31099]");
    size_t before = actions_.launched.size();
    core_->Offers({offer});
    for (size_t i = before; i < actions_.launched.size(); ++i) {
      TaskStatus status;
      status.task_id = actions_.launched[i].task_id;
      status.state = TaskState::kRunning;
      core_->Update(status);
    }
  }

  stoa::testing::TempDir dir_;
  Quiet actions_;
  std::unique_ptr<ServiceStore> store_;
  std::unique_ptr<ServiceCore> core_;
  ApiInfo info_;
  HttpServer server_;
  int offers_ = 0;
};

TEST_F(ServiceApiTest, CreatesAnAppAsMarathonAnswers) {
  HttpReply created = Call("POST", "/v2/apps",
                           R"({"id": "//shop//web/", "cmd": "serve", "instances": 2,
                               "cpus": 0.1, "mem": 32, "ports": [0, 0]})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.headers["Location"], "/v2/apps/shop/web");
  ASSERT_FALSE(created.headers["Marathon-Deployment-Id"].empty());
  json app = Json(created);
  EXPECT_EQ(app["id"], "/shop/web");
  EXPECT_EQ(app["deployments"][0]["id"], created.headers["Marathon-Deployment-Id"]);
  EXPECT_EQ(app["tasksRunning"], 0);
  EXPECT_EQ(app["ports"], json::array({10000, 10001}));
  EXPECT_EQ(app["version"].get<std::string>().back(), 'Z');

  HttpReply again = Call("POST", "/v2/apps", R"({"id": "/shop/web", "cmd": "serve"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Json(again)["message"], "An app with id [/shop/web] already exists.");

  HttpReply deployments = Call("GET", "/v2/deployments");
  ASSERT_EQ(deployments.status, 200);
  ASSERT_EQ(Json(deployments).size(), 1u);
  EXPECT_EQ(Json(deployments)[0]["affectedApps"], json::array({"/shop/web"}));
  EXPECT_EQ(Json(deployments)[0]["currentActions"][0]["action"], "ScaleApplication");
}

TEST_F(ServiceApiTest, RefusesMalformedAppsWithPaths) {
  HttpReply not_json = Call("POST", "/v2/apps", "{\"id\": ");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(Json(not_json)["message"], "Invalid JSON");
  EXPECT_EQ(Json(not_json)["details"][0]["path"], "/");

  HttpReply negative = Call("POST", "/v2/apps", R"({"id": "/a", "cmd": "x", "cpus": -1,
    "constraints": [["hostname", "SOMETIMES"]]})");
  ASSERT_EQ(negative.status, 422);
  json body = Json(negative);
  EXPECT_EQ(body["message"], "Object is not valid");
  std::set<std::string> paths;
  for (const auto& detail : body["details"]) paths.insert(detail["path"]);
  EXPECT_EQ(paths, (std::set<std::string>{"/cpus", "/constraints(0)"}));

  HttpReply typed = Call("POST", "/v2/apps", R"({"id": "/a", "cmd": "x", "mem": "lots"})");
  ASSERT_EQ(typed.status, 422);
  EXPECT_EQ(Json(typed)["message"], "Invalid JSON");
  EXPECT_EQ(Json(typed)["details"][0]["path"], "/mem");
  // The service goes on serving.
  EXPECT_EQ(Call("GET", "/ping").body, "pong");
}

TEST_F(ServiceApiTest, ShowsListsAndFiltersApps) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/shop/web", "cmd": "python3 -m http.server",
    "labels": {"tier": "frontend", "env": "prod"}, "cpus": 0.1, "instances": 2})")
                .status,
            201);
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/shop/db", "cmd": "postgres",
    "labels": {"tier": "backend"}, "cpus": 0.1})")
                .status,
            201);
  RunTasks();

  json shown = Json(Call("GET", "/v2/apps//shop//web"));
  ASSERT_TRUE(shown.contains("app")) << shown.dump();
  EXPECT_EQ(shown["app"]["tasksRunning"], 2);
  EXPECT_EQ(shown["app"]["tasks"].size(), 2u);
  EXPECT_EQ(shown["app"]["tasks"][0]["ports"].size(), 1u);
  EXPECT_EQ(shown["app"]["tasks"][0]["state"], "TASK_RUNNING");
  EXPECT_EQ(shown["app"]["deployments"], json::array());

  HttpReply missing = Call("GET", "/v2/apps/x");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json(missing)["message"], "App '/x' does not exist");

  auto ids = [&](const std::string& query) {
    std::set<std::string> out;
    json apps = Json(Call("GET", "/v2/apps" + query));
    for (const auto& app : apps["apps"]) out.insert(app["id"]);
    return out;
  };
  EXPECT_EQ(ids(""), (std::set<std::string>{"/shop/web", "/shop/db"}));
  EXPECT_EQ(ids("?cmd=HTTP.server"), (std::set<std::string>{"/shop/web"}));
  EXPECT_EQ(ids("?id=db"), (std::set<std::string>{"/shop/db"}));
  EXPECT_EQ(ids("?label=tier==backend"), (std::set<std::string>{"/shop/db"}));
  EXPECT_EQ(ids("?label=env"), (std::set<std::string>{"/shop/web"}));
  EXPECT_EQ(ids("?label=tier%20in%20(frontend,%20backend)"),
            (std::set<std::string>{"/shop/web", "/shop/db"}));
  EXPECT_EQ(ids("?label=tier!=frontend"), (std::set<std::string>{"/shop/db"}));
  EXPECT_EQ(Call("GET", "/v2/apps?label=tier%20in%20(").status, 422);

  json plain = Json(Call("GET", "/v2/apps"));
  EXPECT_FALSE(plain["apps"][0].contains("tasks"));
  EXPECT_TRUE(plain["apps"][0].contains("tasksRunning"));  // counts always come
  json embedded = Json(Call("GET", "/v2/apps?embed=apps.tasks&embed=apps.counts"));
  for (const auto& app : embedded["apps"]) {
    EXPECT_EQ(app["tasks"].size(), app["instances"].get<size_t>()) << app.dump();
  }
  json tasks = Json(Call("GET", "/v2/tasks?status=running"));
  EXPECT_EQ(tasks["tasks"].size(), 3u);
  EXPECT_EQ(tasks["tasks"][0]["servicePorts"].size(), 1u);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/shop/web/tasks"))["tasks"].size(), 2u);
}

TEST_F(ServiceApiTest, ChangesAppsWithDeploymentResults) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/web", "cmd": "serve", "cpus": 0.1})").status, 201);
  // Locked by the app's first deployment until its task runs.
  HttpReply locked = Call("PUT", "/v2/apps/web?force=False", R"({"instances": 2})");
  EXPECT_EQ(locked.status, 409);
  EXPECT_EQ(Json(locked)["deployments"].size(), 1u);
  EXPECT_EQ(Call("PUT", "/v2/apps/web?force=maybe", R"({"instances": 2})").status, 400);
  RunTasks();

  HttpReply scaled = Call("PUT", "/v2/apps/web", R"({"instances": 3})");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  json result = Json(scaled);
  EXPECT_EQ(result["deploymentId"], scaled.headers["Marathon-Deployment-Id"]);
  EXPECT_FALSE(result["version"].get<std::string>().empty());
  json app = Json(Call("GET", "/v2/apps/web"))["app"];
  EXPECT_EQ(app["instances"], 3);
  EXPECT_EQ(app["cmd"], "serve");  // a partial update keeps the rest
  EXPECT_NE(app["versionInfo"]["lastScalingAt"], app["versionInfo"]["lastConfigChangeAt"]);

  HttpReply patched = Call("PATCH", "/v2/apps/web?force=true", R"({"cmd": "serve --v2"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  app = Json(Call("GET", "/v2/apps/web"))["app"];
  EXPECT_EQ(app["cmd"], "serve --v2");
  EXPECT_EQ(app["versionInfo"]["lastConfigChangeAt"], app["version"]);
  EXPECT_EQ(Call("PATCH", "/v2/apps/nope", R"({"cmd": "x"})").status, 404);

  HttpReply bad = Call("PUT", "/v2/apps/web?force=true", R"({"instances": -1})");
  ASSERT_EQ(bad.status, 422);
  EXPECT_EQ(Json(bad)["details"][0]["path"], "/instances");

  // PUT of an unknown app creates it; the URL names it.
  HttpReply created =
      Call("PUT", "/v2/apps/other", R"({"id": "/ignored", "cmd": "x", "cpus": 0.1})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.headers["Location"], "/v2/apps/other");
  EXPECT_EQ(Call("GET", "/v2/apps/other").status, 200);
  // A full replacement resets what it leaves out.
  ASSERT_EQ(Call("PUT", "/v2/apps/other?partialUpdate=false&force=true",
                 R"({"cmd": "y", "instances": 0})")
                .status,
            200);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/other"))["app"]["cpus"], 1.0);

  HttpReply deleted = Call("DELETE", "/v2/apps/web");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_FALSE(deleted.headers["Marathon-Deployment-Id"].empty());
  EXPECT_EQ(Call("GET", "/v2/apps/web").status, 404);
  EXPECT_EQ(Call("DELETE", "/v2/apps/web").status, 404);
}

TEST_F(ServiceApiTest, KillsTasksWithAndWithoutScaling) {
  ASSERT_EQ(
      Call("POST", "/v2/apps", R"({"id": "/web", "cmd": "serve", "cpus": 0.1, "instances": 3})")
          .status,
      201);
  RunTasks();
  json tasks = Json(Call("GET", "/v2/apps/web/tasks"))["tasks"];
  ASSERT_EQ(tasks.size(), 3u);
  std::string first = tasks[0]["id"];

  HttpReply one = Call("DELETE", "/v2/apps/web/tasks/" + first);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Json(one)["task"]["id"], first);
  EXPECT_EQ(actions_.killed, (std::vector<TaskId>{first}));
  EXPECT_EQ(Call("DELETE", "/v2/apps/web/tasks/web.instance-nope").status, 404);
  EXPECT_EQ(Call("DELETE", "/v2/apps/web/tasks?scale=true&wipe=true").status, 400);

  std::string second = tasks[1]["id"];
  HttpReply scaled = Call("DELETE", "/v2/apps/web/tasks/" + second + "?scale=True");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_TRUE(Json(scaled).contains("deploymentId"));
  EXPECT_EQ(Json(Call("GET", "/v2/apps/web"))["app"]["instances"], 2);

  HttpReply all = Call("DELETE", "/v2/apps/web/tasks?host=node1&force=true");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(Json(all)["tasks"].size(), 1u);  // the one not being killed yet
  EXPECT_EQ(Call("GET", "/v2/apps/nope/tasks").status, 404);
}

TEST_F(ServiceApiTest, ListsVersionsAndRollsBackToOne) {
  ASSERT_EQ(Call("POST", "/v2/apps", R"({"id": "/web", "cmd": "v1", "cpus": 0.1})").status, 201);
  std::string first = Json(Call("GET", "/v2/apps/web"))["app"]["version"];
  ASSERT_EQ(Call("PUT", "/v2/apps/web?force=true", R"({"cmd": "v2"})").status, 200);
  json versions = Json(Call("GET", "/v2/apps/web/versions"));
  ASSERT_EQ(versions["versions"].size(), 2u);
  EXPECT_EQ(versions["versions"][1], first);  // newest first
  json old = Json(Call("GET", "/v2/apps/web/versions/" + first));
  EXPECT_EQ(old["cmd"], "v1");
  EXPECT_EQ(Call("GET", "/v2/apps/web/versions/2001-01-01T00:00:00.000Z").status, 404);
  EXPECT_EQ(Call("GET", "/v2/apps/nope/versions").status, 404);

  HttpReply mixed =
      Call("PUT", "/v2/apps/web?force=true", R"({"version": ")" + first + R"(", "cmd": "v3"})");
  EXPECT_EQ(mixed.status, 422);
  HttpReply rolled = Call("PUT", "/v2/apps/web?force=true", R"({"version": ")" + first + R"("})");
  ASSERT_EQ(rolled.status, 200) << rolled.body;
  json app = Json(Call("GET", "/v2/apps/web"))["app"];
  EXPECT_EQ(app["cmd"], "v1");
  EXPECT_NE(app["version"], first);  // a rollback is a new version of its own
  EXPECT_EQ(
      Call("PUT", "/v2/apps/web?force=true", R"({"version": "2001-01-01T00:00:00.000Z"})").status,
      404);
}

TEST_F(ServiceApiTest, AnswersInfoLeaderAndPing) {
  json info = Json(Call("GET", "/v2/info"));
  EXPECT_EQ(info["frameworkId"], "framework-1");
  EXPECT_EQ(info["leader"], "127.0.0.1:" + std::to_string(server_.port()));
  EXPECT_TRUE(info.contains("marathon_config"));
  EXPECT_EQ(Json(Call("GET", "/v2/leader"))["leader"], info["leader"]);
  HttpReply ping = Call("GET", "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong");
}

}  // namespace
}  // namespace stoa::service

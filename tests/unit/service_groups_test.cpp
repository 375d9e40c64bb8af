// /v2/groups and PUT/PATCH /v2/apps with several apps, over real HTTP: groups
// with nested apps and relative ids, one deployment per change, Marathon's
// answers for conflicts and bad bodies (with paths), and explicit groups that
// survive a restart.
#include <set>

#include "tests/unit/service_api_fixture.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

class ServiceGroupsTest : public ServiceApiFixture {
 protected:
  std::set<std::string> Affected(const std::string& deployment_id) {
    for (const auto& deployment : Json(Call("GET", "/v2/deployments"))) {
      if (deployment["id"] == deployment_id) {
        return deployment["affectedApps"].get<std::set<std::string>>();
      }
    }
    return {};
  }
  json Group(const std::string& path) { return Json(Call("GET", "/v2/groups" + path)); }
  std::vector<std::string> Ids(const json& list) {
    std::vector<std::string> ids;
    for (const auto& item : list) ids.push_back(item["id"]);
    return ids;
  }
};

constexpr const char* kShop = R"({"id": "shop",
  "apps": [{"id": "web", "cmd": "serve", "cpus": 0.1, "instances": 2},
           {"id": "/shop/db", "cmd": "db", "cpus": 0.1}],
  "groups": [{"id": "cache", "apps": [{"id": "redis", "cmd": "redis", "cpus": 0.1}]},
             {"id": "empty"}]})";

TEST_F(ServiceGroupsTest, CreatesAGroupWithNestedAppsAndGroupsInOneDeployment) {
  HttpReply created = Call("POST", "/v2/groups", kShop);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.headers["Location"], "/v2/groups/shop");
  std::string deployment = created.headers["Marathon-Deployment-Id"];
  EXPECT_EQ(Json(created)["deploymentId"], deployment);
  EXPECT_EQ(AppIds(), (std::vector<std::string>{"/shop/cache/redis", "/shop/db", "/shop/web"}));
  EXPECT_EQ(Affected(deployment),
            (std::set<std::string>{"/shop/cache/redis", "/shop/db", "/shop/web"}));
  json deployments = Json(Call("GET", "/v2/deployments"));
  ASSERT_EQ(deployments.size(), 1u);
  // Marathon's plan: every app starts, then every app scales.
  ASSERT_EQ(deployments[0]["steps"].size(), 2u);
  EXPECT_EQ(deployments[0]["steps"][0]["actions"].size(), 3u);
  EXPECT_EQ(deployments[0]["steps"][0]["actions"][0]["action"], "StartApplication");
  EXPECT_EQ(deployments[0]["steps"][1]["actions"][0]["action"], "ScaleApplication");
  EXPECT_EQ(deployments[0]["currentActions"].size(), 3u);

  json root = Group("");
  EXPECT_EQ(root["id"], "/");
  EXPECT_EQ(root["apps"], json::array());
  ASSERT_EQ(Ids(root["groups"]), (std::vector<std::string>{"/shop"}));
  json shop = root["groups"][0];
  EXPECT_EQ(Ids(shop["apps"]), (std::vector<std::string>{"/shop/db", "/shop/web"}));
  EXPECT_EQ(Ids(shop["groups"]), (std::vector<std::string>{"/shop/cache", "/shop/empty"}));
  EXPECT_EQ(Ids(shop["groups"][0]["apps"]), (std::vector<std::string>{"/shop/cache/redis"}));
  EXPECT_EQ(shop["version"], Json(created)["version"]);
  EXPECT_EQ(shop["dependencies"], json::array());
  EXPECT_FALSE(shop["apps"][0].contains("tasksRunning"));  // no app embeds asked for

  json only_apps = Group("/shop?embed=group.apps&embed=group.apps.counts");
  EXPECT_FALSE(only_apps.contains("groups"));
  EXPECT_EQ(only_apps["apps"][1]["tasksRunning"], 0);
  json only_groups = Group("//shop/?embed=group.groups");
  EXPECT_FALSE(only_groups.contains("apps"));
  EXPECT_EQ(Group("/shop/empty"), (json{{"id", "/shop/empty"},
                                        {"apps", json::array()},
                                        {"groups", json::array()},
                                        {"dependencies", json::array()},
                                        {"version", shop["version"]}}));
  HttpReply missing = Call("GET", "/v2/groups/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json(missing)["message"], "Group '/nope' does not exist");
  EXPECT_EQ(Call("GET", "/v2/groups/shop/web").status, 404);  // an app is no group

  // The apps beneath a group, at any depth.
  json beneath = Json(Call("GET", "/v2/apps/shop/*"));
  EXPECT_EQ(Ids(beneath["*"]),
            (std::vector<std::string>{"/shop/cache/redis", "/shop/db", "/shop/web"}));
  EXPECT_EQ(beneath["*"][0]["tasksRunning"], 0);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/*"))["*"].size(), 3u);
  EXPECT_EQ(Call("GET", "/v2/apps/nope/*").status, 404);
}

TEST_F(ServiceGroupsTest, RefusesConflictsAndBadBodiesAsMarathonDoes) {
  ASSERT_EQ(Call("POST", "/v2/groups", kShop).status, 201);
  HttpReply again = Call("POST", "/v2/groups", R"({"id": "/shop"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Json(again)["message"],
            "Group /shop is already created. Use PUT to change this group.");
  HttpReply root = Call("POST", "/v2/groups", "{}");
  EXPECT_EQ(root.status, 409);
  EXPECT_EQ(Json(root)["message"], "Group / is already created. Use PUT to change this group.");
  // POST /v2/groups/{id}: the body's id is seen from the URL's group.
  HttpReply on_app = Call("POST", "/v2/groups/shop", R"({"id": "web"})");
  EXPECT_EQ(on_app.status, 409);
  EXPECT_EQ(Json(on_app)["message"], "An app with the path /shop/web already exists.");

  HttpReply not_child = Call("POST", "/v2/groups", R"({"id": "x",
    "apps": [{"id": "/y/z", "cmd": "c"}], "groups": [{"id": "../up"}]})");
  ASSERT_EQ(not_child.status, 422) << not_child.body;
  json body = Json(not_child);
  EXPECT_EQ(body["message"], "Object is not valid");
  std::map<std::string, std::string> errors;
  for (const auto& detail : body["details"]) errors[detail["path"]] = detail["errors"][0];
  EXPECT_EQ(errors["/apps(0)/id"], "identifier /y/z is not child of /x. Hint: use relative paths.");
  EXPECT_EQ(errors["/groups(0)/id"],
            "identifier ../up is not child of /x. Hint: use relative paths.");

  HttpReply nested = Call("POST", "/v2/groups", R"({"id": "x", "groups": [{"id": "y",
    "apps": [{"id": "ok", "cmd": "c"}, {"id": "bad", "cmd": "c", "cpus": -1}]}]})");
  ASSERT_EQ(nested.status, 422);
  EXPECT_EQ(Json(nested)["details"][0]["path"], "/groups(0)/apps(1)/cpus");
  HttpReply typed = Call("POST", "/v2/groups", R"({"id": "x", "apps": {"id": "a"}})");
  ASSERT_EQ(typed.status, 422);
  EXPECT_EQ(Json(typed)["message"], "Invalid JSON");
  EXPECT_EQ(Json(typed)["details"][0]["path"], "/apps");
  EXPECT_EQ(Call("POST", "/v2/groups", "[1, 2").status, 400);
  EXPECT_EQ(Call("POST", "/v2/groups", R"({"id": "Bad_Name"})").status, 422);

  // An app where a group is, and a group where an app is.
  HttpReply app_on_group = Call("POST", "/v2/apps", R"({"id": "/shop/empty", "cmd": "x"})");
  ASSERT_EQ(app_on_group.status, 422) << app_on_group.body;
  EXPECT_NE(Json(app_on_group)["details"][0]["errors"][0].get<std::string>().find(
                "Groups and Applications may not have the same identifier."),
            std::string::npos);
  HttpReply group_on_app = Call("PUT", "/v2/groups/shop/web", R"({"apps": []})");
  ASSERT_EQ(group_on_app.status, 422) << group_on_app.body;
  EXPECT_EQ(Json(group_on_app)["details"][0]["path"], "/");
  HttpReply beneath_app = Call("POST", "/v2/groups", R"({"id": "/shop/web/inner"})");
  EXPECT_EQ(beneath_app.status, 422) << beneath_app.body;
  // Nothing of the refused changes took effect.
  EXPECT_EQ(AppIds(), (std::vector<std::string>{"/shop/cache/redis", "/shop/db", "/shop/web"}));
  EXPECT_EQ(Call("GET", "/v2/groups/x").status, 404);
}

TEST_F(ServiceGroupsTest, UpdatesScalesAndDeletesGroups) {
  ASSERT_EQ(Call("POST", "/v2/groups", kShop).status, 201);
  RunTasks();
  ASSERT_TRUE(Json(Call("GET", "/v2/deployments")).empty());
  std::string web_version = Json(Call("GET", "/v2/apps/shop/web"))["app"]["version"];

  // The apps given replace the group's own: web the same, db gone, api new;
  // the subgroups stay, as "groups" is not given.
  HttpReply updated = Call("PUT", "/v2/groups/shop", R"({"apps": [
      {"id": "web", "cmd": "serve", "cpus": 0.1, "instances": 2},
      {"id": "api", "cmd": "api", "cpus": 0.1}]})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  std::string deployment = updated.headers["Marathon-Deployment-Id"];
  EXPECT_EQ(Affected(deployment), (std::set<std::string>{"/shop/api", "/shop/db"}));
  EXPECT_EQ(AppIds(), (std::vector<std::string>{"/shop/api", "/shop/cache/redis", "/shop/web"}));
  EXPECT_EQ(Json(Call("GET", "/v2/apps/shop/web"))["app"]["version"], web_version);
  EXPECT_EQ(actions_.killed.size(), 1u);  // db's task

  // Locked by that deployment unless forced.
  HttpReply locked = Call("PUT", "/v2/groups/shop", R"({"apps": []})");
  EXPECT_EQ(locked.status, 409);
  EXPECT_EQ(Json(locked)["deployments"][0]["id"], deployment);

  HttpReply dry = Call("PUT", "/v2/groups/shop?dryRun=true&force=true", R"({"groups": []})");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(Json(dry)["steps"][0]["actions"][0],
            (json{{"action", "StopApplication"}, {"app", "/shop/cache/redis"}}));
  EXPECT_EQ(Call("GET", "/v2/groups/shop/cache").status, 200);  // a dry run changes nothing

  HttpReply scaled = Call("PUT", "/v2/groups/shop?force=true", R"({"scaleBy": 1.5})");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_EQ(Json(Call("GET", "/v2/apps/shop/web"))["app"]["instances"], 3);  // ceil(2 * 1.5)
  EXPECT_EQ(Json(Call("GET", "/v2/apps/shop/cache/redis"))["app"]["instances"], 2);
  json web = Json(Call("GET", "/v2/apps/shop/web"))["app"];
  EXPECT_NE(web["versionInfo"]["lastScalingAt"], web["versionInfo"]["lastConfigChangeAt"]);
  EXPECT_EQ(Call("PUT", "/v2/groups/shop", R"({"scaleBy": 2, "apps": []})").status, 422);
  EXPECT_EQ(Call("PUT", "/v2/groups/shop", R"({"scaleBy": -1})").status, 422);
  EXPECT_EQ(Call("PUT", "/v2/groups/shop", R"({"version": "2020-01-01T00:00:00.000Z"})").status,
            422);
  EXPECT_EQ(Call("PUT", "/v2/groups/nope", R"({"scaleBy": 2})").status, 404);

  // PUT creates a group that is not there yet.
  HttpReply made = Call("PUT", "/v2/groups/tools", R"({"apps": [{"id": "ci", "cmd": "ci"}]})");
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(Call("GET", "/v2/apps/tools/ci").status, 200);

  // "groups" given replaces the subgroups: cache goes with its app.
  ASSERT_EQ(Call("PUT", "/v2/groups/shop?force=true", R"({"groups": [{"id": "empty"}]})").status,
            200);
  EXPECT_EQ(Call("GET", "/v2/groups/shop/cache").status, 404);
  EXPECT_EQ(Call("GET", "/v2/apps/shop/cache/redis").status, 404);

  HttpReply deleted = Call("DELETE", "/v2/groups/shop?force=true");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_FALSE(deleted.headers["Marathon-Deployment-Id"].empty());
  EXPECT_EQ(AppIds(), (std::vector<std::string>{"/tools/ci"}));
  EXPECT_EQ(Call("GET", "/v2/groups/shop").status, 404);
  EXPECT_EQ(Call("DELETE", "/v2/groups/shop").status, 404);

  // The group a deleted group was in stays, as in Marathon.
  ASSERT_EQ(Call("POST", "/v2/groups", R"({"id": "/a/b/c"})").status, 201);
  ASSERT_EQ(Call("DELETE", "/v2/groups/a/b/c").status, 200);
  EXPECT_EQ(Call("GET", "/v2/groups/a/b").status, 200);
  EXPECT_EQ(Call("GET", "/v2/groups/a/b/c").status, 404);

  // Deleting the root removes everything; the root stays.
  ASSERT_EQ(Call("DELETE", "/v2/groups?force=true").status, 200);
  EXPECT_TRUE(AppIds().empty());
  EXPECT_EQ(Group("")["groups"], json::array());
}

TEST_F(ServiceGroupsTest, ExplicitGroupsAndSeveralAppDeploymentsSurviveARestart) {
  ASSERT_EQ(Call("POST", "/v2/groups", kShop).status, 201);
  ASSERT_EQ(Call("POST", "/v2/groups", R"({"id": "/lone", "dependencies": ["/shop", "x"]})").status,
            201);
  std::string deployment = Json(Call("GET", "/v2/deployments"))[0]["id"];
  Open();
  EXPECT_EQ(Group("/shop/empty")["id"], "/shop/empty");
  EXPECT_EQ(Group("/lone")["dependencies"], json::parse(R"(["/shop", "/lone/x"])"));
  EXPECT_EQ(Affected(deployment),
            (std::set<std::string>{"/shop/cache/redis", "/shop/db", "/shop/web"}));
  RunTasks();  // every app of it reaches its goal: it ends
  EXPECT_TRUE(Json(Call("GET", "/v2/deployments")).empty());
}

TEST_F(ServiceGroupsTest, PutsSeveralAppsInOneDeployment) {
  HttpReply created = Call("PUT", "/v2/apps", R"([
      {"id": "/a", "cmd": "a", "cpus": 0.1, "ports": [0]},
      {"id": "b", "cmd": "b", "cpus": 0.1, "ports": [0]}])");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(Affected(created.headers["Marathon-Deployment-Id"]),
            (std::set<std::string>{"/a", "/b"}));
  // Service ports are handed out across the apps of one change.
  EXPECT_EQ(Json(Call("GET", "/v2/apps/a"))["app"]["ports"], json::parse("[10000]"));
  EXPECT_EQ(Json(Call("GET", "/v2/apps/b"))["app"]["ports"], json::parse("[10001]"));
  RunTasks();

  // Partial updates, as PUT /v2/apps/{id}: a scales, b restarts.
  HttpReply changed = Call("PUT", "/v2/apps", R"([{"id": "/a", "instances": 2},
                                                 {"id": "/b", "cmd": "b --v2"}])");
  ASSERT_EQ(changed.status, 200) << changed.body;
  json deployment = Json(Call("GET", "/v2/deployments"))[0];
  EXPECT_EQ(deployment["steps"], json::parse(R"([{"actions": [
      {"action": "ScaleApplication", "app": "/a"},
      {"action": "RestartApplication", "app": "/b"}]}])"));
  EXPECT_EQ(Json(Call("GET", "/v2/apps/b"))["app"]["cpus"], 0.1);  // the rest kept
  EXPECT_EQ(Call("PUT", "/v2/apps", R"([{"id": "/a", "instances": 3}])").status, 409);

  // partialUpdate=false replaces each app whole.
  ASSERT_EQ(Call("PUT", "/v2/apps?partialUpdate=false&force=true", R"([{"id": "/a", "cmd": "x"}])")
                .status,
            200);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/a"))["app"]["cpus"], 1.0);
  // PATCH changes existing apps only.
  EXPECT_EQ(Call("PATCH", "/v2/apps?force=true", R"([{"id": "/nope", "cmd": "x"}])").status, 404);
  ASSERT_EQ(Call("PATCH", "/v2/apps?force=true", R"([{"id": "/b", "instances": 0}])").status, 200);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/b"))["app"]["instances"], 0);

  HttpReply no_id = Call("PUT", "/v2/apps?force=true", R"([{"id": "/a"}, {"cmd": "x"}])");
  ASSERT_EQ(no_id.status, 422);
  EXPECT_EQ(Json(no_id)["details"][0]["path"], "(1)/id");
  HttpReply bad = Call("PUT", "/v2/apps?force=true", R"([{"id": "/c", "cmd": "c", "cpus": -1}])");
  ASSERT_EQ(bad.status, 422);
  EXPECT_EQ(Json(bad)["details"][0]["path"], "(0)/cpus");
  EXPECT_EQ(Call("PUT", "/v2/apps", R"({"id": "/c"})").status, 422);
  EXPECT_EQ(Call("GET", "/v2/apps/c").status, 404);
}

}  // namespace
}  // namespace stoa::service

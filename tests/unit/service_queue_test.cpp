// Why apps wait (/v2/queue, Marathon 1.4's reasons and funnel, the backoff
// and its reset), kills by task id across apps (POST /v2/tasks/delete, scale
// and wipe), and /metrics in Prometheus' text, checked by promtool.
#include <cstdio>
#include <fstream>

#include "frameworks/service/metrics.hpp"
#include "tests/unit/service_api_fixture.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

class ServiceQueueTest : public ServiceApiFixture {
 protected:
  void Create(const std::string& app) { ASSERT_EQ(Call("POST", "/v2/apps", app).status, 201); }
  // The first reason each unused offer of the app's queue entry was counted under.
  ReasonCounts Rejected(const std::string& app) {
    for (const auto& queued : core_->LaunchQueue()) {
      if (queued.app.id == PathId::Parse(app)) return queued.offers.rejected;
    }
    ADD_FAILURE() << app << " does not wait";
    return {};
  }
  static int Count(const ReasonCounts& counts, NoMatchReason reason) {
    return counts[static_cast<int>(reason)];
  }
  std::vector<std::string> TaskIds(const std::string& app) {
    std::vector<std::string> ids;
    json tasks = Json(Call("GET", "/v2/apps" + app + "/tasks"));
    for (const auto& task : tasks["tasks"]) {
      ids.push_back(task["id"]);
    }
    return ids;
  }
};

TEST_F(ServiceQueueTest, TheCoreSaysWhyEachOfferDidNotFit) {
  Create(R"({"id": "/big", "cmd": "x", "cpus": 2, "mem": 64})");
  core_->Offers({MakeOffer("a1", "cpus:1;mem:1024;ports:[31000-31009]")});
  EXPECT_EQ(Count(Rejected("/big"), NoMatchReason::kInsufficientCpus), 1);

  Create(R"({"id": "/placed", "cmd": "x", "cpus": 0.1, "mem": 16,
             "constraints": [["hostname", "LIKE", "host-b.*"]]})");
  core_->Offers({MakeOffer("a2")});
  EXPECT_EQ(Count(Rejected("/placed"), NoMatchReason::kUnfulfilledConstraint), 1);
  // /big took a2, so it waits no more and its statistics went.
  for (const auto& queued : core_->LaunchQueue()) EXPECT_NE(queued.app.id.ToString(), "/big");

  // Several reasons: the first in Marathon's funnel counts, all are listed.
  core_->Offers({MakeOffer("a3", "cpus:0.05;mem:1")});
  ReasonCounts placed = Rejected("/placed");
  EXPECT_EQ(Count(placed, NoMatchReason::kUnfulfilledConstraint), 2);
  EXPECT_EQ(Count(placed, NoMatchReason::kInsufficientCpus), 0);
  for (const auto& queued : core_->LaunchQueue()) {
    if (!(queued.app.id == PathId::Parse("/placed"))) continue;
    EXPECT_EQ(queued.offers.processed, 2);
    EXPECT_EQ(queued.offers.last_unused.at("a3").reasons,
              (std::vector<NoMatchReason>{NoMatchReason::kUnfulfilledConstraint,
                                          NoMatchReason::kInsufficientCpus,
                                          NoMatchReason::kInsufficientMemory}));
  }

  Create(R"({"id": "/roles", "cmd": "x", "cpus": 0.1, "mem": 16,
             "acceptedResourceRoles": ["web"], "ports": []})");
  Create(R"({"id": "/scarce", "cmd": "x", "cpus": 0.1, "mem": 16,
             "labels": {"GPU_SCHEDULING_BEHAVIOR": "restricted"}})");
  Create(R"({"id": "/fixed", "cmd": "x", "cpus": 0.1, "mem": 16, "requirePorts": true,
             "ports": [32500]})");
  core_->Offers({MakeOffer("g1", "cpus:0.3;mem:1024;gpus:1;ports:[31000-31009]")});
  EXPECT_EQ(Count(Rejected("/roles"), NoMatchReason::kUnfulfilledRole), 1);
  EXPECT_EQ(Count(Rejected("/scarce"), NoMatchReason::kDeclinedScarceResources), 1);
  EXPECT_EQ(Count(Rejected("/fixed"), NoMatchReason::kInsufficientPorts), 1);
  // Resources of an accepted role fit.
  size_t launched = actions_.launched.size();
  core_->Offers({MakeOffer("r1", "cpus(web):1;mem(web):1024")});
  EXPECT_EQ(actions_.launched.size(), launched + 1);
  for (const auto& queued : core_->LaunchQueue()) EXPECT_NE(queued.app.id.ToString(), "/roles");
}

TEST_F(ServiceQueueTest, ShowsTheQueueWithMarathonsSummaryAndResetsTheDelay) {
  Create(R"({"id": "/web", "cmd": "x", "cpus": 1, "mem": 512, "backoffSeconds": 60})");
  core_->Offers({MakeOffer("a1", "cpus:0.5;mem:1024;ports:[31000-31009]"),
                 MakeOffer("a2", "cpus:4;mem:256;ports:[31000-31009]")});
  json queue = Json(Call("GET", "/v2/queue"))["queue"];
  ASSERT_EQ(queue.size(), 1u);
  json item = queue[0];
  EXPECT_EQ(item["app"]["id"], "/web");
  EXPECT_EQ(item["count"], 1);
  EXPECT_EQ(item["delay"], (json{{"timeLeftSeconds", 0}, {"overdue", true}}));
  EXPECT_EQ(item["since"], "2001-09-09T01:46:40.000Z");
  EXPECT_FALSE(item.contains("lastUnusedOffers"));
  json summary = item["processedOffersSummary"];
  EXPECT_EQ(summary["processedOffersCount"], 2);
  EXPECT_EQ(summary["unusedOffersCount"], 2);
  EXPECT_EQ(summary["lastUnusedOfferAt"], "2001-09-09T01:46:40.000Z");
  EXPECT_FALSE(summary.contains("lastUsedOfferAt"));
  json funnel = summary["rejectSummaryLaunchAttempt"];
  ASSERT_EQ(funnel.size(), 10u);
  EXPECT_EQ(funnel[0], (json{{"reason", "UnfulfilledRole"}, {"declined", 0}, {"processed", 2}}));
  EXPECT_EQ(funnel[4], (json{{"reason", "InsufficientCpus"}, {"declined", 1}, {"processed", 2}}));
  EXPECT_EQ(funnel[5], (json{{"reason", "InsufficientMemory"}, {"declined", 1}, {"processed", 1}}));
  EXPECT_EQ(funnel[6], (json{{"reason", "InsufficientDisk"}, {"declined", 0}, {"processed", 0}}));
  EXPECT_EQ(funnel[9]["reason"], "DeclinedScarceResources");
  EXPECT_EQ(summary["rejectSummaryLastOffers"], funnel);  // one offer per agent so far

  json embedded = Json(Call("GET", "/v2/queue?embed=lastUnusedOffers"))["queue"][0];
  ASSERT_EQ(embedded["lastUnusedOffers"].size(), 2u);
  json unused = embedded["lastUnusedOffers"][0];
  EXPECT_EQ(unused["reason"], json::parse(R"(["InsufficientCpus"])"));
  EXPECT_EQ(unused["offer"]["agentId"], "a1");
  EXPECT_EQ(unused["offer"]["hostname"], "host-a1");
  std::map<std::string, json> resources;
  for (const auto& resource : unused["offer"]["resources"]) resources[resource["name"]] = resource;
  EXPECT_EQ(resources["cpus"], (json{{"name", "cpus"}, {"role", "*"}, {"scalar", 0.5}}));
  EXPECT_EQ(resources["ports"]["ranges"], json::parse(R"([{"begin": 31000, "end": 31009}])"));

  // A fitting offer: the app waits no more, and its statistics go.
  core_->Offers({MakeOffer("a3")});
  EXPECT_TRUE(Json(Call("GET", "/v2/queue"))["queue"].empty());
  HttpReply none = Call("DELETE", "/v2/queue/web/delay");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(Json(none)["message"], "Application /web not found in tasks queue.");

  // A failed task delays the next launch; the reset ends the delay at once.
  ASSERT_EQ(TaskIds("/web").size(), 1u);
  TaskStatus failed;
  failed.task_id = TaskIds("/web")[0];
  failed.state = TaskState::kFailed;
  core_->Update(failed);
  item = Json(Call("GET", "/v2/queue"))["queue"][0];
  EXPECT_EQ(item["delay"], (json{{"timeLeftSeconds", 60}, {"overdue", false}}));
  EXPECT_EQ(item["processedOffersSummary"]["processedOffersCount"], 0);  // a new wait
  size_t launched = actions_.launched.size();
  core_->Offers({MakeOffer("a5")});
  EXPECT_EQ(actions_.launched.size(), launched);  // backing off
  HttpReply reset = Call("DELETE", "/v2/queue//web/delay");
  EXPECT_EQ(reset.status, 204);
  EXPECT_TRUE(reset.body.empty());
  EXPECT_EQ(Json(Call("GET", "/v2/queue"))["queue"][0]["delay"]["overdue"], true);
  core_->Offers({MakeOffer("a6")});
  EXPECT_EQ(actions_.launched.size(), launched + 1);
}

TEST_F(ServiceQueueTest, DeletesTasksOfSeveralAppsWithScaleAndWipe) {
  Create(R"({"id": "/a", "cmd": "a", "cpus": 0.1, "instances": 2})");
  Create(R"({"id": "/b", "cmd": "b", "cpus": 0.1, "instances": 2})");
  RunTasks();
  std::vector<std::string> a = TaskIds("/a"), b = TaskIds("/b");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);

  HttpReply killed =
      Call("POST", "/v2/tasks/delete", json{{"ids", {a[0], b[0], "a.instance-unknown"}}}.dump());
  ASSERT_EQ(killed.status, 200) << killed.body;
  EXPECT_EQ(Json(killed)["tasks"].size(), 2u);
  EXPECT_EQ(Json(killed)["tasks"][0]["appId"], "/a");
  EXPECT_EQ(actions_.killed, (std::vector<TaskId>{a[0], b[0]}));

  HttpReply scaled =
      Call("POST", "/v2/tasks/delete?scale=true", json{{"ids", {a[1], b[1]}}}.dump());
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  std::string deployment = scaled.headers["Marathon-Deployment-Id"];
  EXPECT_EQ(Json(scaled)["deploymentId"], deployment);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/a"))["app"]["instances"], 1);
  EXPECT_EQ(Json(Call("GET", "/v2/apps/b"))["app"]["instances"], 1);
  json deployments = Json(Call("GET", "/v2/deployments"));
  ASSERT_EQ(deployments.size(), 1u);
  EXPECT_EQ(deployments[0]["affectedApps"], json::parse(R"(["/a", "/b"])"));

  // wipe: the record is forgotten at once and the app replaces the task.
  Create(R"({"id": "/c", "cmd": "c", "cpus": 0.1})");
  RunTasks();
  std::vector<std::string> c = TaskIds("/c");
  ASSERT_EQ(c.size(), 1u);
  HttpReply wiped = Call("POST", "/v2/tasks/delete?wipe=true", json{{"ids", {c[0]}}}.dump());
  ASSERT_EQ(wiped.status, 200) << wiped.body;
  EXPECT_EQ(actions_.killed.back(), c[0]);
  EXPECT_TRUE(TaskIds("/c").empty());
  RunTasks();
  ASSERT_EQ(TaskIds("/c").size(), 1u);
  EXPECT_NE(TaskIds("/c")[0], c[0]);
  // The same on DELETE /v2/apps/{id}/tasks/{task}.
  std::string replacement = TaskIds("/c")[0];
  ASSERT_EQ(Call("DELETE", "/v2/apps/c/tasks/" + replacement + "?wipe=true").status, 200);
  EXPECT_TRUE(TaskIds("/c").empty());
  EXPECT_EQ(Call("DELETE", "/v2/apps/nope/tasks?wipe=true").status, 404);

  // A global app runs one instance per agent: it cannot be scaled by a kill.
  Create(R"({"id": "/everywhere", "cmd": "x", "cpus": 0.1, "global": true})");
  RunTasks();
  ASSERT_EQ(TaskIds("/everywhere").size(), 1u);
  HttpReply global = Call("POST", "/v2/tasks/delete?scale=true",
                          json{{"ids", {TaskIds("/everywhere")[0]}}}.dump());
  EXPECT_EQ(global.status, 422) << global.body;
  EXPECT_EQ(Json(global)["details"][0]["path"], "/instances");

  EXPECT_EQ(Call("POST", "/v2/tasks/delete?scale=true&wipe=true", R"({"ids": []})").status, 400);
  HttpReply not_ids = Call("POST", "/v2/tasks/delete", R"({"ids": "x"})");
  EXPECT_EQ(not_ids.status, 422);
  EXPECT_EQ(Json(not_ids)["details"][0]["path"], "/ids");
  HttpReply not_string = Call("POST", "/v2/tasks/delete", R"({"ids": [1]})");
  EXPECT_EQ(Json(not_string)["details"][0]["path"], "/ids(0)");
  EXPECT_EQ(Call("POST", "/v2/tasks/delete", "{}").status, 422);
  HttpReply invalid = Call("POST", "/v2/tasks/delete", R"({"ids": ["garbage"]})");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(Json(invalid)["message"].get<std::string>().find("garbage"), std::string::npos);
}

// The value of the sample `series` ("name{labels}") in Prometheus text, or -1.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST_F(ServiceQueueTest, ServesMetricsInPrometheusText) {
  Create(R"({"id": "/a", "cmd": "a", "cpus": 0.1, "instances": 2})");
  Create(R"({"id": "/g/b", "cmd": "b", "cpus": 100})");  // never fits: it waits
  RunTasks();
  core_->Offers({MakeOffer("small", "cpus:0.01;mem:1")});
  EXPECT_EQ(Call("GET", "/v2/apps/nope").status, 404);

  HttpReply metrics = Call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& text = metrics.body;
  EXPECT_EQ(Sample(text, metric::kApps.name), 2);
  EXPECT_EQ(Sample(text, metric::kGroups.name), 2);  // the root and /g
  EXPECT_EQ(Sample(text, metric::kInstances.name), 3);
  EXPECT_EQ(Sample(text, std::string(metric::kTasks.name) + "{state=\"TASK_RUNNING\"}"), 2);
  EXPECT_EQ(Sample(text, std::string(metric::kTasks.name) + "{state=\"TASK_FAILED\"}"), 0);
  EXPECT_EQ(Sample(text, metric::kLaunches.name), 2);
  EXPECT_EQ(Sample(text, std::string(metric::kOffers.name) + "{result=\"used\"}"), 1);
  EXPECT_EQ(Sample(text, std::string(metric::kOffers.name) + "{result=\"declined\"}"), 1);
  EXPECT_EQ(Sample(text, metric::kDeployments.name), 1);  // /g/b's
  EXPECT_EQ(Sample(text, metric::kDeploymentsStarted.name), 2);
  EXPECT_EQ(Sample(text, metric::kQueueApps.name), 1);
  EXPECT_EQ(Sample(text, metric::kSubscribed.name), 1);
  EXPECT_EQ(
      Sample(text, std::string(metric::kHttpRequests.name) + "{method=\"GET\",status=\"404\"}"), 1);
  EXPECT_EQ(
      Sample(text, std::string(metric::kHttpRequests.name) + "{method=\"POST\",status=\"201\"}"),
      2);
  EXPECT_EQ(Call("GET", "/metrics/prometheus").body.substr(0, 20), text.substr(0, 20));
  // A Marathon client asking for JSON (marathon-python's get_metrics) gets
  // Marathon's shape with the same figures.
  auto as_json = HttpCall("GET", "127.0.0.1", server_->port(), "/metrics", "",
                          {{"Accept", "application/json"}});
  ASSERT_TRUE(as_json.ok());
  json metrics_json = json::parse(as_json->body, nullptr, false);
  EXPECT_EQ(metrics_json["version"], "4.0.0");
  EXPECT_EQ(metrics_json["gauges"][metric::kApps.name]["value"], 2);
  EXPECT_EQ(metrics_json["counters"][metric::kDeploymentsStarted.name]["count"], 2);
  EXPECT_EQ(metrics_json["gauges"][std::string(metric::kTasks.name) + "{state=\"TASK_RUNNING\"}"]
                        ["value"],
            Sample(text, std::string(metric::kTasks.name) + "{state=\"TASK_RUNNING\"}"));
  EXPECT_TRUE(metrics_json["timers"].is_object());
  ASSERT_EQ(Call("DELETE", "/v2/apps/a").status, 200);
  EXPECT_EQ(Sample(Call("GET", "/metrics").body, metric::kKills.name), 2);

  // Prometheus' own checker takes it as it is.
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian's prometheus package has it)";
  }
  std::string file = dir_.path() + "/metrics.txt";
  std::ofstream(file) << text;
  std::string command = "promtool check metrics < " + file + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  int status = pclose(pipe);
  EXPECT_EQ(status, 0) << "promtool check metrics says:\n" << output << "\nof:\n" << text;
}

}  // namespace
}  // namespace stoa::service

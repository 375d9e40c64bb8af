// `stoa up --demo`: what a new user sees the cluster do once it is up: one-off
// tasks, a web service, and batch jobs beside it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/app_client.hpp"
#include "cli/up.hpp"
#include "common/http_server.hpp"

namespace stoa::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kDemoApp = "/demo/web";
constexpr const char* kDemoBatchJob = "demo.short-tasks";
constexpr const char* kDemoScheduledJob = "demo.clock";
constexpr int kDemoTasks = 200;
constexpr int kDemoParallelism = 20;

// The program's absolute path on $PATH, or empty.
std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, colon - start) + "/" + program;
    if (colon > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return "";
}

// The demo web service's definition: busybox's httpd serving `www` on the
// port the service framework gives each task, checked over HTTP by the executor.
json DemoWebApp(const std::string& busybox, const std::string& www) {
  return {{"id", kDemoApp},
          {"instances", 2},
          {"cpus", 0.1},
          {"mem", 32},
          {"cmd", busybox + " httpd -f -p $PORT0 -h " + www},
          {"portDefinitions", json::array({{{"port", 0}, {"name", "http"}}})},
          {"healthChecks", json::array({{{"protocol", "MESOS_HTTP"},
                                         {"portIndex", 0},
                                         {"path", "/"},
                                         {"gracePeriodSeconds", 30},
                                         {"intervalSeconds", 5},
                                         {"timeoutSeconds", 2},
                                         {"delaySeconds", 1}}})}};
}

void PrintTaskUrls(const UpCluster& cluster) {
  ServiceClient client({cluster.ip, cluster.service_port});
  auto app = client.Json("GET", AppPath(kDemoApp));
  if (!app.ok()) return;
  std::string urls;
  for (const auto& task : app->value("app", json::object()).value("tasks", json::array())) {
    for (const auto& port : task.value("ports", json::array())) {
      urls += "  http://" + cluster.ip + ":" + port.dump() + "/\n";
    }
  }
  std::printf("the demo web service answers at:\n%s", urls.c_str());
  const json ports = app->value("app", json::object()).value("ports", json::array());
  if (cluster.lb_admin_port > 0 && !ports.empty()) {
    std::printf("  http://%s:%s/ (its service port, through HAProxy)\n", cluster.ip.c_str(),
                ports[0].dump().c_str());
  }
  if (cluster.dns_port > 0) {
    std::printf("  dig @%s -p %d +short _web.demo._tcp.service.stoa SRV\n", cluster.ip.c_str(),
                cluster.dns_port);
  }
}

}  // namespace

bool RunDemo(const UpCluster& cluster) {
  std::printf("\n--- demo: 4 tasks that say hello ---\n");
  std::fflush(stdout);
  int code =
      WaitForChild(Spawn({cluster.self, "execute", "--master=" + cluster.master, "--instances=4",
                          "--name=demo", "--command=echo hello from $(hostname)"},
                         ""));
  std::printf("--- demo %s ---\n", code == 0 ? "finished" : "failed");

  std::string busybox = FindOnPath("busybox");
  if (busybox.empty()) {
    std::printf(
        "(the demo web service is skipped: busybox is not on PATH; scripts/install-deps.sh "
        "installs busybox-static)\n");
    std::fflush(stdout);
    return false;
  }
  std::string www = cluster.work_dir + "/demo-www";
  std::string file = cluster.work_dir + "/demo-web.json";
  std::error_code error;
  fs::create_directories(www, error);
  std::ofstream(www + "/index.html") << "<h1>hello from a service on Stoa</h1>\n";
  std::ofstream(file) << DemoWebApp(busybox, www).dump(2) << "\n";
  std::printf("\n--- demo: a web service, 2 instances with an HTTP health check (%s) ---\n",
              file.c_str());
  std::fflush(stdout);
  code = WaitForChild(Spawn(
      {cluster.self, "app", "deploy", "--service=" + cluster.service_url, "--timeout=2mins", file},
      ""));
  if (code == 0) PrintTaskUrls(cluster);
  std::printf("--- demo web service %s ---\n",
              code == 0 ? "deployed" : "failed: `stoa app show /demo/web` says why");
  std::fflush(stdout);
  return true;
}

void RunBatchDemo(const UpCluster& cluster) {
  std::printf("\n--- demo: a batch job of %d short tasks, %d at once, and a job every minute ---\n",
              kDemoTasks, kDemoParallelism);
  std::fflush(stdout);
  auto call = [&](const std::string& method, const std::string& path, const json& body) {
    auto reply =
        HttpCall(method, cluster.ip, cluster.batch_port, path, body.is_null() ? "" : body.dump());
    return reply.ok() ? *reply : HttpReply{};
  };
  json many = {{"id", kDemoBatchJob},
               {"description", "Stoa's demo: many short tasks in one run"},
               {"run",
                {{"cmd", "true"},
                 {"cpus", 0.01},
                 {"mem", 32},
                 {"disk", 0},
                 {"completions", kDemoTasks},
                 {"parallelism", kDemoParallelism}}}};
  json clock = {{"id", kDemoScheduledJob},
                {"description", "Stoa's demo: says the time every minute"},
                {"run", {{"cmd", "date"}, {"cpus", 0.01}, {"mem", 32}, {"disk", 0}}}};
  json schedule = {{"id", "every-minute"}, {"cron", "* * * * *"}, {"timezone", "UTC"}};
  HttpReply created = call("POST", "/v1/jobs", many);
  HttpReply clocked = call("POST", "/v1/jobs", clock);
  HttpReply scheduled =
      call("POST", std::string("/v1/jobs/") + kDemoScheduledJob + "/schedules", schedule);
  if (created.status != 201 || clocked.status != 201 || scheduled.status != 201) {
    std::printf("--- batch demo failed: the batch framework answered %d %s ---\n", created.status,
                created.body.c_str());
    std::fflush(stdout);
    return;
  }
  auto started = std::chrono::steady_clock::now();
  HttpReply run = call("POST", std::string("/v1/jobs/") + kDemoBatchJob + "/runs", json());
  std::string run_id = json::parse(run.body, nullptr, false).value("id", "");
  std::string status = "ACTIVE";
  for (int i = 0; i < 1200 && status != "SUCCESS" && status != "FAILED"; ++i) {
    usleep(100 * 1000);
    HttpReply now =
        call("GET", std::string("/v1/jobs/") + kDemoBatchJob + "/runs/" + run_id, json());
    status = json::parse(now.body, nullptr, false).value("status", status);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("run %s of %s: %s, %d tasks in %.1f s\n", run_id.c_str(), kDemoBatchJob,
              status.c_str(), kDemoTasks, seconds);
  std::printf("  %s/v1/jobs/%s?embed=history\n", cluster.batch_url.c_str(), kDemoBatchJob);
  std::printf("  %s/v1/jobs/%s/schedules   (runs `date` every minute)\n", cluster.batch_url.c_str(),
              kDemoScheduledJob);
  std::printf("--- batch demo %s ---\n", status == "SUCCESS" ? "finished" : "failed");
  std::fflush(stdout);
}

void RemoveDemo(const UpCluster& cluster, bool web_service) {
  std::printf("removing the demo's jobs%s...\n", web_service ? " and web service" : "");
  std::fflush(stdout);
  for (const char* job : {kDemoBatchJob, kDemoScheduledJob}) {
    HttpCall("DELETE", cluster.ip, cluster.batch_port,
             std::string("/v1/jobs/") + job + "?stopCurrentJobRuns=true");
  }
  if (!web_service) return;
  WaitForChild(Spawn({cluster.self, "app", "remove", "--service=" + cluster.service_url,
                      "--timeout=30secs", kDemoApp},
                     ""));
}

}  // namespace stoa::cli

// `stoa up --demo`: what a new user sees the cluster do once it is up.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/app_client.hpp"
#include "cli/up.hpp"

namespace stoa::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kDemoApp = "/demo/web";

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

void RemoveDemo(const UpCluster& cluster) {
  std::printf("removing the demo web service...\n");
  std::fflush(stdout);
  WaitForChild(Spawn({cluster.self, "app", "remove", "--service=" + cluster.service_url,
                      "--timeout=30secs", kDemoApp},
                     ""));
}

}  // namespace stoa::cli

// `stoa up --demo` as a new user runs it: a master, two agents and the
// service framework as real processes, the demo's one-off tasks and its web
// service of two instances that answer HTTP, and everything stopped on SIGTERM.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "common/http_server.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return free;
}

// `count` consecutive ports that were free a moment ago (stoa up takes its
// master's and agents' ports one after the other).
int ConsecutiveFreePorts(int count) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int first = FreePort();
    bool all = first + count < 65536;
    for (int i = 1; all && i < count; ++i) all = PortFree(first + i);
    if (all) return first;
  }
  return 0;
}

bool Has(const std::string& output, const std::string& text) {
  return output.find(text) != std::string::npos;
}

TEST(UpTest, StartsAClusterWithTheServiceAndTheDemoWebServiceAnswersHttp) {
  ASSERT_EQ(access("/usr/bin/busybox", X_OK), 0)
      << "the demo serves HTTP with busybox: install busybox-static (scripts/install-deps.sh)";
  stoa::testing::TempDir dir;
  stoa::testing::CgroupRoot cgroups;
  int port = ConsecutiveFreePorts(4);
  ASSERT_NE(port, 0);
  int service_port = FreePort();
  int batch_port = FreePort();
  // Task ports away from the other tests' 31000s, different for each run.
  int task_ports = 20000 + static_cast<int>(getpid() % 1000) * 10;
  Process up({stoa::testing::BinDir() + "/stoa", "up", "--agents=2",
              "--port=" + std::to_string(port), "--service_port=" + std::to_string(service_port),
              "--batch_port=" + std::to_string(batch_port),
              "--agent_ports=" + std::to_string(task_ports) + "-" + std::to_string(task_ports + 9),
              "--agent_resources=cpus:2;mem:1024;disk:1024", "--cgroups_root=" + cgroups.name(),
              "--work_dir=" + dir.path() + "/up", "--demo"},
             dir.path() + "/up.out");
  ASSERT_TRUE(WaitFor([&] { return Has(up.Output(), "Press Ctrl-C") || !up.running(); },
                      std::chrono::seconds(180)))
      << up.Output();
  std::string output = up.Output();
  ASSERT_TRUE(up.running()) << output;
  std::string url = "http://127.0.0.1:" + std::to_string(service_port);
  EXPECT_TRUE(Has(output, "service     " + url + "/v2/apps")) << output;
  EXPECT_TRUE(Has(output, "service framework (Marathon's API): " + url)) << output;
  EXPECT_TRUE(Has(output, "--- demo finished ---")) << output;
  // The batch demo: 200 short tasks in one run, and a job on a schedule.
  std::string batch_url = "http://127.0.0.1:" + std::to_string(batch_port);
  EXPECT_TRUE(Has(output, "batch framework (Metronome's API): " + batch_url)) << output;
  EXPECT_TRUE(Has(output, "--- batch demo finished ---")) << output;
  auto history =
      HttpCall("GET", "127.0.0.1", batch_port, "/v1/jobs/demo.short-tasks?embed=history");
  ASSERT_TRUE(history.ok()) << history.error();
  json short_tasks = json::parse(history->body, nullptr, false);
  EXPECT_EQ(short_tasks["history"]["successCount"], 1) << history->body.substr(0, 1000);
  EXPECT_EQ(short_tasks["history"]["successfulFinishedRuns"][0]["tasksSucceeded"], 200);
  auto schedules = HttpCall("GET", "127.0.0.1", batch_port, "/v1/jobs/demo.clock/schedules");
  ASSERT_TRUE(schedules.ok());
  EXPECT_EQ(json::parse(schedules->body, nullptr, false)[0]["cron"], "* * * * *")
      << schedules->body;
  EXPECT_TRUE(Has(output, "deploying /demo/web: 0/2 running") ||
              Has(output, "deploying /demo/web: 1/2 running") ||
              Has(output, "deploying /demo/web: 2/2 running"))
      << output;
  EXPECT_TRUE(Has(output, "deployed /demo/web: 2/2 running")) << output;
  EXPECT_TRUE(Has(output, "--- demo web service deployed ---")) << output;

  // Two instances running, on ports of the range given, each serving the page.
  auto reply = HttpCall("GET", "127.0.0.1", service_port, "/v2/apps/demo/web");
  ASSERT_TRUE(reply.ok()) << reply.error();
  json app = json::parse(reply->body, nullptr, false)["app"];
  ASSERT_EQ(app["tasks"].size(), 2u) << reply->body;
  EXPECT_EQ(app["healthChecks"][0]["protocol"], "MESOS_HTTP");
  for (const auto& task : app["tasks"]) {
    EXPECT_EQ(task["state"], "TASK_RUNNING") << task.dump();
    int task_port = task["ports"][0];
    EXPECT_GE(task_port, task_ports);
    EXPECT_LE(task_port, task_ports + 9);
    EXPECT_TRUE(Has(output, "http://127.0.0.1:" + std::to_string(task_port) + "/")) << output;
    Result<std::string> page = HttpGet("127.0.0.1", task_port, "/");
    ASSERT_TRUE(page.ok()) << page.error();
    EXPECT_TRUE(Has(*page, "hello from a service on Stoa")) << *page;
  }

  // DNS gives both instances' ports; HAProxy serves the page on the app's service port.
  size_t dns_at = output.find("dns         127.0.0.1:");
  ASSERT_NE(dns_at, std::string::npos) << output;
  int dns_port = std::atoi(output.c_str() + dns_at + 22);
  std::set<int> task_port_set, srv_ports;
  for (const auto& task : app["tasks"]) task_port_set.insert(task["ports"][0].get<int>());
  std::string dig = "dig @127.0.0.1 -p " + std::to_string(dns_port) +
                    " +short +time=1 +tries=1 _web.demo._tcp.service.stoa SRV";
  EXPECT_TRUE(WaitFor([&] {
    srv_ports.clear();
    FILE* pipe = popen(dig.c_str(), "r");
    int priority, weight, srv_port;
    char target[256];
    while (pipe && fscanf(pipe, "%d %d %d %255s", &priority, &weight, &srv_port, target) == 4) {
      srv_ports.insert(srv_port);
    }
    if (pipe) pclose(pipe);
    return srv_ports == task_port_set;
  })) << dig
      << " gave " << srv_ports.size() << " records\n"
      << output;
  int service_port_of_app = app["ports"][0];
  EXPECT_TRUE(Has(output, "http://127.0.0.1:" + std::to_string(service_port_of_app) +
                              "/ (its service port, through HAProxy)"))
      << output;
  EXPECT_TRUE(WaitFor([&] {
    Result<std::string> page = HttpGet("127.0.0.1", service_port_of_app, "/");
    return page.ok() && Has(*page, "hello from a service on Stoa");
  })) << "through HAProxy";

  // Every daemon serves /metrics that Prometheus' own checker accepts.
  std::regex daemon_line(
      R"(^(master|agent\d+|service|batch|dns|lb) .*?http://127\.0\.0\.1:(\d+)/)");
  std::set<std::string> checked;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (!std::regex_search(line, match, daemon_line)) continue;
    std::string name = match[1];
    Result<std::string> metrics = HttpGet("127.0.0.1", std::stoi(match[2]), "/metrics");
    ASSERT_TRUE(metrics.ok()) << name << ": " << metrics.error();
    std::string file = dir.path() + "/" + name + ".metrics";
    std::ofstream(file) << *metrics;
    std::string check = "promtool check metrics < " + file + " > " + file + ".check 2>&1";
    EXPECT_EQ(std::system(check.c_str()), 0)
        << name << "'s /metrics:\n"
        << stoa::testing::ReadFile(file + ".check") << *metrics;
    EXPECT_NE(metrics->find("# TYPE stoa_"), std::string::npos) << name << ": " << *metrics;
    checked.insert(name);
  }
  EXPECT_EQ(checked,
            (std::set<std::string>{"master", "agent1", "agent2", "service", "batch", "dns", "lb"}))
      << output;

  // SIGTERM: the demo app is removed, then every daemon stops.
  up.Kill(SIGTERM);
  EXPECT_EQ(up.Wait(std::chrono::seconds(90)), 0) << up.Output();
  output = up.Output();
  EXPECT_TRUE(Has(output, "removed /demo/web: its tasks are gone")) << output;
  EXPECT_TRUE(Has(output, "stopped.")) << output;
  EXPECT_TRUE(Has(output, "removing the demo's jobs and web service")) << output;
  for (const auto& task : app["tasks"]) {
    EXPECT_FALSE(HttpGet("127.0.0.1", task["ports"][0], "/").ok()) << task.dump();
  }
}

}  // namespace
}  // namespace stoa

// `stoa lb` in front of a real cluster: curl through a real HAProxy reaches
// every healthy instance of an app and never an unhealthy one; an app created
// after the balancer started gets its frontend.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "tests/system/service_cluster.hpp"

namespace stoa::system_test {
namespace {

using Clock = std::chrono::steady_clock;

// An app of busybox httpd instances answering their task id at /, with a
// COMMAND health check that fails once the sandbox holds a file "sick".
std::string WebApp(const std::string& id, int instances, int service_port) {
  return R"({"id": ")" + id + R"(", "instances": )" + std::to_string(instances) +
         R"(, "cpus": 0.1, "mem": 16,
    "cmd": "mkdir -p www && echo $MESOS_TASK_ID > www/index.html && exec busybox httpd -f -p $HOST:$PORT0 -h www",
    "portDefinitions": [{"port": )" +
         std::to_string(service_port) + R"(, "name": "http"}],
    "labels": {"HAPROXY_0_MODE": "http"},
    "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test ! -e $MESOS_SANDBOX/sick"},
      "gracePeriodSeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1,
      "maxConsecutiveFailures": 1000, "delaySeconds": 0}]})";
}

class LbTest : public LoopbackAgentsTest {
 protected:
  // The balancer first (it waits for the service), then the service, which
  // reads the balancer's request rates for request-rate autoscaling.
  void SetUp() override {
    StartAgents();
    service_http_ = FreePort();
    lb_ = std::make_unique<Process>(
        std::vector<std::string>{
            bin_ + "/stoa", "lb", "--service=http://127.0.0.1:" + std::to_string(service_http_),
            "--work_dir=" + dir_.path() + "/lb", "--bind_ip=127.0.0.1", "--admin_port=0"},
        dir_.path() + "/lb.log");
    // Its admin port, from its log ("admin on 127.0.0.1:PORT").
    ASSERT_TRUE(WaitFor([&] {
      std::string log = Log("lb");
      size_t at = log.find("admin on 127.0.0.1:");
      if (at != std::string::npos) lb_admin_ = std::atoi(log.c_str() + at + 19);
      return lb_admin_ > 0 && HttpGet("127.0.0.1", lb_admin_, "/v1/backends").ok();
    })) << Log("lb");
    StartServiceAndWait(
        {"--lb=http://127.0.0.1:" + std::to_string(lb_admin_), "--autoscale_interval=1secs"});
  }

  // The task ids of the servers the balancer has for `app`.
  std::set<std::string> Servers(const std::string& app) {
    std::set<std::string> ids;
    auto body = HttpGet("127.0.0.1", lb_admin_, "/v1/backends");
    json backends = body.ok() ? json::parse(*body, nullptr, false) : json();
    for (const auto& backend : backends.value("backends", json::array())) {
      if (backend["appId"] != app) continue;
      for (const auto& server : backend["servers"]) ids.insert(server["taskId"]);
    }
    return ids;
  }
  std::set<std::string> HealthyTasks(const std::string& app) {
    std::set<std::string> ids;
    for (const auto& [id, task] : Tasks(app)) {
      const json& results = task.value("healthCheckResults", json::array());
      if (!results.empty() && results[0].value("alive", false)) ids.insert(id);
    }
    return ids;
  }
  // Who answers `count` requests through the balancer's port (failed ones as "").
  std::multiset<std::string> Answers(int port, int count) {
    std::multiset<std::string> answers;
    for (int i = 0; i < count; ++i) {
      auto body = HttpGet("127.0.0.1", port, "/index.html");
      std::string text = body.ok() ? *body : "";
      while (!text.empty() && text.back() == '\n') text.pop_back();
      answers.insert(text);
    }
    return answers;
  }

  int lb_admin_ = 0;
  std::unique_ptr<Process> lb_;
};

TEST_F(LbTest, ReachesEveryHealthyInstanceAndNeverAnUnhealthyOne) {
  int port = FreePort();
  ASSERT_EQ(Call("POST", "/v2/apps", WebApp("/shop/web", 3, port)).status, 201);
  ASSERT_TRUE(WaitFor([&] {
    auto healthy = HealthyTasks("/shop/web");
    return healthy.size() == 3 && Servers("/shop/web") == healthy;
  })) << Get("/v2/apps/shop/web/endpoints").dump()
      << Log("lb");
  std::multiset<std::string> answers = Answers(port, 30);
  std::set<std::string> answered(answers.begin(), answers.end());
  EXPECT_EQ(answered, HealthyTasks("/shop/web")) << "round robin reaches each instance";

  // One turns unhealthy (and stays running): it gets no request any more.
  std::string sick = *HealthyTasks("/shop/web").begin();
  std::ofstream(Sandbox(sick) + "/sick") << "1";
  ASSERT_TRUE(WaitFor([&] { return Servers("/shop/web").size() == 2; })) << Log("lb");
  EXPECT_EQ(Tasks("/shop/web").at(sick)["state"], "TASK_RUNNING");
  answers = Answers(port, 30);
  EXPECT_EQ(answers.count(sick), 0u);
  EXPECT_EQ(answers.count(""), 0u) << "no failed request";
  answered = std::set<std::string>(answers.begin(), answers.end());
  EXPECT_EQ(answered.size(), 2u);

  // A fourth instance joins once healthy, through the runtime API; the figure
  // is from the service showing it healthy to the balancer having applied it.
  ASSERT_EQ(Call("PUT", "/v2/apps/shop/web", R"({"instances": 4})").status, 200);
  Clock::time_point healthy_at{};
  ASSERT_TRUE(WaitFor([&] {
    if (HealthyTasks("/shop/web").size() < 3) return false;
    if (healthy_at == Clock::time_point{}) healthy_at = Clock::now();
    return Servers("/shop/web").size() == 3;
  })) << Log("lb");
  std::printf("[ figure ] new instance healthy -> its HAProxy server up: %.3f s\n",
              std::chrono::duration<double>(Clock::now() - healthy_at).count());

  // An app created after the balancer started gets its frontend (a reload).
  int other_port = FreePort();
  ASSERT_EQ(Call("POST", "/v2/apps", WebApp("/other", 1, other_port)).status, 201);
  ASSERT_TRUE(WaitFor([&] { return Servers("/other").size() == 1; })) << Log("lb");
  answers = Answers(other_port, 3);
  EXPECT_EQ(answers.count(*Servers("/other").begin()), 3u);
  EXPECT_EQ(Answers(port, 10).count(""), 0u) << "the reload left the first app serving";

  auto metrics = HttpGet("127.0.0.1", lb_admin_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  auto value = [&](const std::string& name) {
    size_t at = metrics->find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(metrics->substr(at + name.size() + 2));
  };
  // Each app's first servers and the second app came with a reload; the sick
  // instance leaving and the fourth joining went through the runtime API.
  EXPECT_EQ(value("stoa_lb_reloads_total"), 2) << *metrics << Log("lb");
  EXPECT_GE(value("stoa_lb_runtime_updates_total"), 2) << *metrics;
  EXPECT_EQ(value("stoa_lb_failures_total"), 0) << *metrics;
  std::ofstream(dir_.path() + "/lb.metrics") << *metrics;
  EXPECT_EQ(std::system(("promtool check metrics < " + dir_.path() + "/lb.metrics").c_str()), 0)
      << *metrics;
  std::string config = Read(dir_.path() + "/lb/haproxy.cfg");
  EXPECT_NE(config.find("frontend other_" + std::to_string(other_port)), std::string::npos)
      << config;
}

// A rolling update behind the balancer under a steady request loop (20 per
// second for the whole update): old instances leave the balancer before their
// kill (the service's drain), new ones join once healthy; no request fails.
TEST_F(LbTest, ARollingUpdateUnderLoadFailsNoRequest) {
  int port = FreePort();
  ASSERT_EQ(Call("POST", "/v2/apps", WebApp("/web", 3, port)).status, 201);
  ASSERT_TRUE(WaitFor([&] {
    auto healthy = HealthyTasks("/web");
    return healthy.size() == 3 && Servers("/web") == healthy;
  })) << Log("lb");
  std::set<std::string> old_tasks = HealthyTasks("/web");

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::mutex mutex;
  std::set<std::string> answered;
  std::thread load([&] {
    while (!stop) {
      auto body = HttpGet("127.0.0.1", port, "/index.html");
      sent++;
      if (!body.ok() || body->empty()) {
        failed++;
      } else {
        std::lock_guard<std::mutex> lock(mutex);
        answered.insert(body->substr(0, body->find('\n')));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::string update = WebApp("/web", 3, port);
  size_t cmd = update.find("exec busybox");
  update.replace(cmd, 4, "true && exec");  // a new config: every instance is replaced
  ASSERT_EQ(Call("PUT", "/v2/apps/web", update).status, 200);
  bool replaced = WaitFor(
      [&] {
        auto healthy = HealthyTasks("/web");
        for (const auto& id : healthy) {
          if (old_tasks.count(id)) return false;
        }
        return healthy.size() == 3 && Get("/v2/deployments").empty() && Servers("/web") == healthy;
      },
      std::chrono::seconds(90));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the new ones under load too
  stop = true;
  load.join();
  ASSERT_TRUE(replaced) << Get("/v2/apps/web?embed=apps.tasks").dump() << Log("lb");
  std::printf("[ figure ] rolling update of 3 behind stoa lb: %d requests, %d failed\n",
              sent.load(), failed.load());
  EXPECT_EQ(failed, 0) << Log("lb");
  EXPECT_GT(sent, 20);
  std::set<std::string> new_tasks = HealthyTasks("/web");
  bool reached_new = false;
  for (const auto& id : new_tasks) reached_new = reached_new || answered.count(id);
  EXPECT_TRUE(reached_new) << "requests reached the new instances";
}

// Autoscaling on requests per second: 20 requests/s through HAProxy against
// a target of 5 per instance grows the app from 1 to its maximum of 3; when
// the requests stop it shrinks back after the cooldown.
TEST_F(LbTest, ARequestRateTargetGrowsAndShrinksTheApp) {
  int port = FreePort();
  std::string app = WebApp("/busy", 1, port);
  app.insert(app.rfind('}'), R"(, "autoscale": {"minInstances": 1, "maxInstances": 3,
    "targetRequestsPerSecond": 5, "cooldownSeconds": 2})");
  HttpReply created = Call("POST", "/v2/apps", app);
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(WaitFor([&] { return Servers("/busy").size() == 1; })) << Log("lb");
  auto instances = [&] { return Get("/v2/apps/busy")["app"].value("instances", 0); };
  int failed = 0;
  bool grew = WaitFor(
      [&] {
        for (int i = 0; i < 4; ++i) {  // ~20 requests/s
          if (!HttpGet("127.0.0.1", port, "/index.html").ok()) ++failed;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return instances() == 3;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(grew) << Get("/v2/apps/busy").dump() << Log("service");
  EXPECT_EQ(failed, 0);
  json status = Get("/v2/apps/busy")["app"]["autoscaleStatus"];
  EXPECT_NE(status["lastChange"]["reason"].get<std::string>().find("requests/s per instance"),
            std::string::npos)
      << status;
  EXPECT_GT(status["requestsPerSecond"].get<double>(), 5) << status;
  ASSERT_TRUE(WaitFor([&] { return instances() == 1; }, std::chrono::seconds(60)))
      << Get("/v2/apps/busy").dump() << Log("service");
  EXPECT_EQ(Get("/v2/apps/busy")["app"]["autoscaleStatus"]["lastChange"]["to"], 1);
}

}  // namespace
}  // namespace stoa::system_test

// Autoscaling on a real cluster: a CPU-bound app with a 50% target grows
// from one instance while it burns CPU and shrinks back after the cooldown
// once it stops; the event stream and /v2/apps say why.
#include <fstream>

#include "tests/system/service_cluster.hpp"

namespace stoa::system_test {
namespace {

class AutoscaleTest : public ServiceClusterTest {
 protected:
  void SetUp() override {
    StartMaster();
    StartAgent("agent", {"--resources=cpus:2;mem:2048;ports:[31000-31099]"});
    service_http_ = FreePort();
    StartService({"--autoscale_interval=1secs"});
    ASSERT_TRUE(WaitFor([&] { return Get("/v2/info").value("frameworkId", json()).is_string(); }))
        << Log("service");
  }
};

TEST_F(AutoscaleTest, ACpuBoundAppGrowsUnderLoadAndShrinksAfterTheCooldown) {
  std::string stream = dir_.path() + "/events.txt";
  Process curl({"/usr/bin/curl", "-sS", "-N", "-H", "Accept: text/event-stream",
                "http://127.0.0.1:" + std::to_string(service_http_) + "/v2/events"},
               stream);
  // Each instance spins while the load file exists, and sleeps otherwise.
  std::string load = dir_.path() + "/load";
  std::ofstream(load) << "1";
  HttpReply created = Call("POST", "/v2/apps",
                           R"({"id": "/burn", "instances": 1, "cpus": 0.2,
    "mem": 16, "cmd": "while :; do if [ -e )" +
                               load +
                               R"( ]; then :; else sleep 0.2; fi; done",
    "autoscale": {"minInstances": 1, "maxInstances": 3, "targetCpuUtilization": 50,
                  "cooldownSeconds": 3}})");
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(WaitFor([&] { return Get("/v2/apps/burn")["app"].value("instances", 0) == 3; },
                      std::chrono::seconds(60)))
      << Get("/v2/apps/burn").dump() << Log("service");
  json status = Get("/v2/apps/burn")["app"]["autoscaleStatus"];
  EXPECT_GT(status["cpuUtilization"].get<double>(), 50) << status;
  EXPECT_EQ(status["lastChange"]["to"], 3) << status;
  EXPECT_NE(status["lastChange"]["reason"].get<std::string>().find("target 50%"), std::string::npos)
      << status;
  ASSERT_TRUE(AllRunning("/burn", 3) ||
              WaitFor([&] { return AllRunning("/burn", 3); }, std::chrono::seconds(30)));

  std::remove(load.c_str());  // the load stops
  ASSERT_TRUE(WaitFor([&] { return Get("/v2/apps/burn")["app"].value("instances", 0) == 1; },
                      std::chrono::seconds(60)))
      << Get("/v2/apps/burn").dump() << Log("service");
  ASSERT_TRUE(WaitFor([&] { return AllRunning("/burn", 1); }));
  std::vector<json> decisions;
  for (auto& [name, data] : ParseEvents(Read(stream))) {
    if (name == "autoscale_event") decisions.push_back(data);
  }
  ASSERT_GE(decisions.size(), 2u) << Read(stream);
  EXPECT_EQ(decisions.front()["from"], 1);
  EXPECT_GT(decisions.front()["to"].get<int>(), 1);
  EXPECT_EQ(decisions.back()["to"], 1);
  EXPECT_LT(decisions.back()["cpuUtilization"].get<double>(), 50) << decisions.back();
  for (const auto& decision : decisions) {
    EXPECT_FALSE(decision["reason"].get<std::string>().empty()) << decision;
    EXPECT_TRUE(decision["deploymentId"].is_string()) << decision;
  }
}

}  // namespace
}  // namespace stoa::system_test

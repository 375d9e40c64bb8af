// What stoa lb asks of HAProxy: backends in fixed slots that keep their
// servers, labels that cannot write into the config, and a config that the
// real haproxy accepts (haproxy -c).
#include "discovery/haproxy_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_util.hpp"

namespace stoa::discovery {
namespace {

using json = nlohmann::json;

std::optional<uint32_t> Loopback(const std::string& host) {
  if (host == "a") return 0x7f000002;
  if (host == "b") return 0x7f000003;
  return std::nullopt;
}

json Apps(const std::vector<std::pair<std::string, int>>& endpoints, const json& labels = {}) {
  json list = json::array();
  for (const auto& [task, port] : endpoints) {
    list.push_back({{"taskId", task}, {"host", task == "t2" ? "b" : "a"}, {"ports", {port}}});
  }
  return json::array({{{"id", "/shop/web"},
                       {"portDefinitions", {{{"port", 10000}}}},
                       {"labels", labels.is_null() ? json::object() : labels},
                       {"endpoints", list}}});
}

TEST(HaproxyConfig, ServersKeepTheirSlotsAndChangesAreRuntimeCommands) {
  LbConfigOptions options;
  auto first = PlanBackends(Apps({{"t1", 31000}, {"t2", 31001}}), options, Loopback);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].name, "shop_web_10000");
  EXPECT_EQ(first[0].slots, 8);
  // t1 goes, t3 comes: t2 stays in its slot, t3 takes the free one.
  auto second = PlanBackends(Apps({{"t2", 31001}, {"t3", 31002}}), options, Loopback, first);
  ASSERT_TRUE(SameShape(first, second));
  EXPECT_EQ(second[0].servers[1].task_id, "t2");
  EXPECT_EQ(second[0].servers[0].task_id, "t3");
  EXPECT_EQ(RuntimeCommands(first, second),
            (std::vector<std::string>{"set server shop_web_10000/s0 addr 127.0.0.2 port 31002",
                                      "set server shop_web_10000/s0 state ready"}));
  auto third = PlanBackends(Apps({{"t3", 31002}}), options, Loopback, second);
  EXPECT_EQ(RuntimeCommands(second, third),
            (std::vector<std::string>{"set server shop_web_10000/s1 state maint"}));
  // More servers than slots: a new shape, twice the servers.
  std::vector<std::pair<std::string, int>> many;
  for (int i = 0; i < 9; ++i) many.emplace_back("m" + std::to_string(i), 31010 + i);
  auto grown = PlanBackends(Apps(many), options, Loopback, third);
  EXPECT_FALSE(SameShape(third, grown));
  EXPECT_EQ(grown[0].slots, 18);
}

TEST(HaproxyConfig, ALabelCannotWriteIntoTheConfig) {
  LbConfigOptions options;
  options.http_port = 8081;
  json labels = {{"HAPROXY_0_VHOST", "shop.example.com, evil }\nglobal\n  lua-load /x, *.ok.org"}};
  auto backends = PlanBackends(Apps({{"t1", 31000}}, labels), options, Loopback);
  ASSERT_EQ(backends.size(), 1u);
  EXPECT_EQ(backends[0].vhost, "shop.example.com *.ok.org");
  EXPECT_EQ(backends[0].mode, "http");
  std::string config = RenderConfig(backends, options);
  EXPECT_EQ(config.find("lua-load"), std::string::npos) << config;
}

TEST(HaproxyConfig, TheRealHaproxyAcceptsTheConfig) {
  if (access("/usr/sbin/haproxy", X_OK) != 0) GTEST_SKIP() << "haproxy is not installed";
  stoa::testing::TempDir dir;
  LbConfigOptions options;
  options.bind_ip = "127.0.0.1";
  options.http_port = stoa::testing::FreePort();
  options.socket_path = dir.path() + "/haproxy.sock";
  json labels = {{"HAPROXY_0_VHOST", "shop.example.com"}};
  json apps = Apps({{"t1", 31000}, {"t2", 31001}}, labels);
  apps.push_back({{"id", "/tcp/db"},
                  {"portDefinitions", {{{"port", stoa::testing::FreePort()}}}},
                  {"endpoints", json::array()}});
  std::string path = dir.path() + "/haproxy.cfg";
  std::ofstream(path) << RenderConfig(PlanBackends(apps, options, Loopback), options);
  std::string command = "/usr/sbin/haproxy -c -q -f " + path;
  EXPECT_EQ(std::system(command.c_str()), 0) << stoa::testing::ReadFile(path);
}

}  // namespace
}  // namespace stoa::discovery

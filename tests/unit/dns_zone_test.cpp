// The records BuildZone makes from the service's endpoints: Mesos-DNS's
// names, one SRV per port and protocol, named ports, and what is left out.
#include "discovery/dns_zone.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace stoa::discovery {
namespace {

using json = nlohmann::json;

std::optional<uint32_t> FakeResolve(const std::string& host) {
  if (host == "node-a") return 0x0a000001;  // 10.0.0.1
  if (host == "node-b") return 0x0a000002;
  return std::nullopt;
}

TEST(DnsZone, AppIdsBecomeLabelsInReverseOrder) {
  EXPECT_EQ(AppDnsName("/shop/web"), "web.shop");
  EXPECT_EQ(AppDnsName("/web"), "web");
  EXPECT_EQ(AppDnsName("/Shop/My_App"), "my-app.shop");
}

TEST(DnsZone, RecordsForEachHealthyInstanceAndPort) {
  json apps = json::parse(R"([
    {"id": "/shop/web",
     "portDefinitions": [{"port": 10000, "protocol": "tcp", "name": "http"},
                         {"port": 10001, "protocol": "udp,tcp"}],
     "endpoints": [{"taskId": "t1", "host": "node-a", "ports": [31000, 31001]},
                   {"taskId": "t2", "host": "node-b", "ports": [31005, 31006]},
                   {"taskId": "t3", "host": "gone", "ports": [31007, 31008]}]},
    {"id": "/quiet", "portDefinitions": [], "endpoints": []}])");
  int unresolved = 0;
  Zone zone =
      BuildZone("stoa", "service", apps, MasterRecord{"node-a", 5051}, FakeResolve, &unresolved);
  EXPECT_EQ(unresolved, 1) << "the instance on a host without an address";

  ASSERT_NE(zone.A("web.shop.service.stoa"), nullptr);
  EXPECT_EQ(*zone.A("web.shop.service.stoa"), (std::vector<uint32_t>{0x0a000001, 0x0a000002}));
  const auto* tcp = zone.Srv("_web.shop._tcp.service.stoa");
  ASSERT_NE(tcp, nullptr);
  std::set<uint16_t> ports;
  for (const auto& record : *tcp) {
    ports.insert(record.port);
    ASSERT_NE(zone.A(record.target), nullptr) << record.target << " is resolvable";
  }
  EXPECT_EQ(ports, (std::set<uint16_t>{31000, 31001, 31005, 31006}));
  const auto* udp = zone.Srv("_web.shop._udp.service.stoa");
  ASSERT_NE(udp, nullptr);
  EXPECT_EQ(udp->size(), 2u) << "only the second port serves udp";
  const auto* named = zone.Srv("_http._web.shop._tcp.service.stoa");
  ASSERT_NE(named, nullptr);
  EXPECT_EQ(named->size(), 2u);

  // The master; names beneath which records live exist (no data, not NXDOMAIN).
  ASSERT_NE(zone.A("leader.stoa"), nullptr);
  EXPECT_EQ(zone.Srv("_leader._tcp.stoa")->at(0).port, 5051);
  EXPECT_TRUE(zone.Exists("shop.service.stoa"));
  EXPECT_TRUE(zone.Exists("service.stoa"));
  EXPECT_FALSE(zone.Exists("quiet.service.stoa")) << "no healthy instance: no name";
  EXPECT_FALSE(zone.Exists("nothing.service.stoa"));
  EXPECT_TRUE(zone.InDomain("nothing.service.stoa"));
  EXPECT_FALSE(zone.InDomain("example.org"));
  EXPECT_FALSE(zone.InDomain("notstoa"));
}

TEST(DnsZone, MalformedEndpointsAreSkippedNotFatal) {
  json apps = json::parse(R"([7, {"id": 3}, {"id": "/a", "endpoints": [
    "x", {"taskId": "t", "host": "node-a", "ports": ["no", -1, 70000, 31000]},
    {"taskId": 5, "host": 7, "ports": "31001"}, {"taskId": null, "host": "node-a", "ports": {}}],
    "portDefinitions": "no"},
    {"id": "/b", "endpoints": {"x": 1}, "portDefinitions": [{"name": 3, "protocol": 4}]}])");
  Zone zone = BuildZone("stoa", "service", apps, std::nullopt, FakeResolve);
  ASSERT_NE(zone.Srv("_a._tcp.service.stoa"), nullptr);
  EXPECT_EQ(zone.Srv("_a._tcp.service.stoa")->size(), 1u);
  EXPECT_EQ(zone.Srv("_a._tcp.service.stoa")->at(0).port, 31000);
  EXPECT_EQ(zone.A("leader.stoa"), nullptr);
}

}  // namespace
}  // namespace stoa::discovery

// `stoa dns` over a real cluster (master, two agents, `stoa service`), asked
// with `dig`: SRV and A records of an app's healthy instances, following
// health, scaling and deletion; NXDOMAIN, garbage and forwarding.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/system/service_cluster.hpp"

namespace stoa::system_test {
namespace {

using Clock = std::chrono::steady_clock;

// What `dig +short` prints, one answer per line.
std::vector<std::string> Dig(int port, const std::string& args) {
  std::string command =
      "dig @127.0.0.1 -p " + std::to_string(port) + " +short +time=1 +tries=1 " + args + " 2>&1";
  std::vector<std::string> lines;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return lines;
  char line[512];
  while (fgets(line, sizeof(line), pipe)) {
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (!text.empty()) lines.push_back(text);
  }
  pclose(pipe);
  return lines;
}

// dig's status line word for a name: NOERROR, NXDOMAIN, ...
std::string DigStatus(int port, const std::string& args) {
  std::string command = "dig @127.0.0.1 -p " + std::to_string(port) + " +time=1 +tries=1 " + args +
                        " 2>&1 | grep -o 'status: [A-Z]*'";
  FILE* pipe = popen(command.c_str(), "r");
  char line[128] = {};
  std::string status = pipe && fgets(line, sizeof(line), pipe) ? line : "";
  if (pipe) pclose(pipe);
  return status.size() > 8 ? status.substr(8, status.find_first_of("\n") - 8) : status;
}

class DnsTest : public LoopbackAgentsTest {
 protected:
  void SetUp() override {
    LoopbackAgentsTest::SetUp();
    if (HasFatalFailure()) return;
    StartDns("");
  }

  void StartDns(const std::string& resolvers) {
    dns_port_ = FreePort();
    dns_http_ = FreePort();
    std::vector<std::string> args = {bin_ + "/stoa",
                                     "dns",
                                     "--master=" + master_,
                                     "--service=http://127.0.0.1:" + std::to_string(service_http_),
                                     "--ip=127.0.0.1",
                                     "--port=" + std::to_string(dns_port_),
                                     "--http_port=" + std::to_string(dns_http_),
                                     "--ttl=0"};
    if (!resolvers.empty()) args.push_back("--resolvers=" + resolvers);
    dns_ = std::make_unique<Process>(args, dir_.path() + "/dns.log");
    ASSERT_TRUE(WaitFor([&] { return Dig(dns_port_, "leader.stoa A").size() == 1; })) << Log("dns");
  }

  // "PORT TARGET" of each SRV record of `name`.
  std::set<std::string> Srv(const std::string& name) {
    std::set<std::string> records;
    for (const auto& line : Dig(dns_port_, name + " SRV")) {
      std::istringstream words(line);
      std::string priority, weight, port, target;
      words >> priority >> weight >> port >> target;
      records.insert(port + " " + target);
    }
    return records;
  }
  std::set<std::string> SrvPorts(const std::string& name) {
    std::set<std::string> ports;
    for (const auto& record : Srv(name)) ports.insert(record.substr(0, record.find(' ')));
    return ports;
  }
  // The host ports of the app's tasks that report healthy, as the service shows them.
  std::set<std::string> HealthyPorts(const std::string& app) {
    std::set<std::string> ports;
    for (const auto& [id, task] : Tasks(app)) {
      const json& results = task.value("healthCheckResults", json::array());
      if (!results.empty() && results[0].value("alive", false) && !task["ports"].empty()) {
        ports.insert(std::to_string(task["ports"][0].get<int>()));
      }
    }
    return ports;
  }

  // Seconds from the service showing `app`'s healthy ports as `wanted` to the
  // SRV records showing the same (both polled every 20 ms, and each poll a dig).
  double SecondsToFollow(const std::string& app, size_t wanted) {
    const std::string srv = "_web.shop._tcp.service.stoa";
    Clock::time_point healthy{};
    bool followed = WaitFor(
        [&] {
          std::set<std::string> service = HealthyPorts(app);
          if (service.size() != wanted) return false;
          if (healthy == Clock::time_point{}) healthy = Clock::now();
          return SrvPorts(srv) == service;
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(followed) << Get("/v2/apps" + app + "/endpoints").dump() << Log("dns");
    return std::chrono::duration<double>(Clock::now() - healthy).count();
  }

  int dns_port_ = 0;
  int dns_http_ = 0;
  std::unique_ptr<Process> dns_;
};

TEST_F(DnsTest, SrvAndARecordsFollowTheHealthyInstances) {
  HttpReply created = Call("POST", "/v2/apps", R"({"id": "/shop/web", "instances": 3,
    "cpus": 0.1, "mem": 16, "cmd": "sleep 1000",
    "portDefinitions": [{"port": 0, "name": "http"}],
    "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test ! -e $MESOS_SANDBOX/sick"},
      "gracePeriodSeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1,
      "maxConsecutiveFailures": 3, "delaySeconds": 0}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  double to_first = SecondsToFollow("/shop/web", 3);
  std::printf("[ figure ] 3 instances healthy -> their SRV records: %.3f s\n", to_first);

  // 3 SRV records with the tasks' real ports, named ones too; A records of their agents.
  std::set<std::string> ports = HealthyPorts("/shop/web");
  EXPECT_EQ(SrvPorts("_web.shop._tcp.service.stoa"), ports);
  EXPECT_EQ(SrvPorts("_http._web.shop._tcp.service.stoa"), ports);
  std::set<std::string> hosts, addresses;
  for (const auto& [id, task] : Tasks("/shop/web")) hosts.insert(task["host"]);
  for (const auto& line : Dig(dns_port_, "web.shop.service.stoa A")) addresses.insert(line);
  EXPECT_EQ(addresses, hosts);
  for (const auto& record : Srv("_web.shop._tcp.service.stoa")) {
    std::string target = record.substr(record.find(' ') + 1);
    std::vector<std::string> address = Dig(dns_port_, target + " A");
    ASSERT_EQ(address.size(), 1u) << target;
    EXPECT_TRUE(hosts.count(address[0])) << target << " -> " << address[0];
  }

  // One instance turns unhealthy: it leaves the records at its first failed check.
  auto tasks = Tasks("/shop/web");
  std::string victim = tasks.begin()->first;
  std::string victim_port = std::to_string(tasks.begin()->second["ports"][0].get<int>());
  std::string sandbox = Sandbox(victim);
  ASSERT_FALSE(sandbox.empty()) << victim;
  Clock::time_point sick_at = Clock::now();
  std::ofstream(sandbox + "/sick") << "1";
  ASSERT_TRUE(WaitFor([&] { return !SrvPorts("_web.shop._tcp.service.stoa").count(victim_port); },
                      std::chrono::seconds(30)))
      << Log("dns");
  std::printf("[ figure ] sick file -> its SRV record gone: %.3f s (checks every 1 s)\n",
              std::chrono::duration<double>(Clock::now() - sick_at).count());

  // The service replaces it; the new instance appears once healthy, and so
  // does a fourth when scaled.
  double to_replacement = SecondsToFollow("/shop/web", 3);
  ASSERT_EQ(Call("PUT", "/v2/apps/shop/web", R"({"instances": 4})").status, 200);
  double to_scaled = SecondsToFollow("/shop/web", 4);
  std::printf(
      "[ figure ] new instance healthy -> its SRV record: %.3f s (replacement), %.3f s "
      "(scale)\n",
      to_replacement, to_scaled);

  // Garbage leaves the server answering, and is counted.
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(dns_port_));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (const std::string& junk : {std::string("x"), std::string(40, '\x01'),
                                  std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                                              "\x3f\x3f\x3f",
                                              15)}) {
    sendto(udp, junk.data(), junk.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  close(udp);
  EXPECT_EQ(SrvPorts("_web.shop._tcp.service.stoa").size(), 4u) << Log("dns");
  auto metrics = HttpGet("127.0.0.1", dns_http_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->find("stoa_dns_queries_total{result=\"malformed\"} 3"), std::string::npos)
      << *metrics;
  EXPECT_NE(metrics->find("stoa_dns_event_stream_open 1"), std::string::npos) << *metrics;
  std::ofstream(dir_.path() + "/dns.metrics") << *metrics;
  EXPECT_EQ(std::system(("promtool check metrics < " + dir_.path() + "/dns.metrics").c_str()), 0)
      << *metrics;

  // Deleted: NXDOMAIN; a name never known too; over TCP as over UDP.
  ASSERT_EQ(Call("DELETE", "/v2/apps/shop/web").status, 200);
  EXPECT_TRUE(WaitFor([&] {
    return DigStatus(dns_port_, "web.shop.service.stoa A") == "NXDOMAIN" &&
           DigStatus(dns_port_, "_web.shop._tcp.service.stoa SRV") == "NXDOMAIN";
  })) << Log("dns");
  EXPECT_EQ(DigStatus(dns_port_, "+tcp nothing.service.stoa A"), "NXDOMAIN");
  EXPECT_EQ(DigStatus(dns_port_, "+tcp leader.stoa A"), "NOERROR");
}

// Names outside the zone go to the upstream resolvers: here another `stoa
// dns` serving the domain "other", given with --resolvers.
TEST_F(DnsTest, ForwardsOtherNamesToTheUpstreamResolvers) {
  int upstream_port = dns_port_;
  std::unique_ptr<Process> upstream = std::move(dns_);
  int other_port = FreePort();
  Process other({bin_ + "/stoa", "dns", "--master=" + master_, "--domain=other",
                 "--service=http://127.0.0.1:" + std::to_string(service_http_), "--ip=127.0.0.1",
                 "--port=" + std::to_string(other_port), "--http_port=0"},
                dir_.path() + "/other.log");
  ASSERT_TRUE(WaitFor([&] { return Dig(other_port, "leader.other A").size() == 1; }))
      << Read(dir_.path() + "/other.log");
  StartDns("127.0.0.1:" + std::to_string(other_port));
  EXPECT_EQ(Dig(dns_port_, "leader.other A"), Dig(other_port, "leader.other A"));
  EXPECT_EQ(DigStatus(dns_port_, "nothing.other A"), "NXDOMAIN");
  EXPECT_EQ(Dig(upstream_port, "leader.stoa A"), Dig(dns_port_, "leader.stoa A"));
}

}  // namespace
}  // namespace stoa::system_test

// A framework instance among several (the SDK's, with Marathon's names as
// the service framework gives them, and Metronome's): the gate that passes a
// standby's API requests on to the leader (over real HTTP servers: method,
// target, headers, status and body go through), and the storage that only
// the leader may use.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/http_server.hpp"
#include "frameworks/sdk/leader_gate.hpp"
#include "frameworks/sdk/leader_storage.hpp"
#include "tests/test_util.hpp"

namespace stoa::sdk {
namespace {

using json = nlohmann::json;

LeaderGateOptions Marathon() {
  LeaderGateOptions options;
  options.leader_header = "X-Marathon-Leader";
  options.leader_prefix = "http://";
  options.via_header = "X-Marathon-Via";
  options.via_prefix = "1.1 ";
  options.local_paths = {"/ping", "/v2/leader", "/v2/info"};
  options.redirected_prefixes = {"/v2/events"};
  return options;
}

LeaderGateOptions Metronome() {
  LeaderGateOptions options;
  options.leader_header = "X-LEADER";
  options.via_header = "X-VIA";
  options.local_paths = {"/ping", "/info", "/leader"};
  return options;
}

// An instance: an HTTP server behind a gate, whose routes say what they saw.
struct Instance {
  explicit Instance(std::string instance_name, LeaderGateOptions options = Marathon())
      : name(std::move(instance_name)), gate(std::move(options)) {
    gate.Guard(server);
    auto echo = [this](const HttpRequest& request) {
      ++served;
      json headers = json::object();
      for (const auto& [key, value] : request.headers) headers[key].push_back(value);
      HttpResponse response;
      response.status = request.method == "PUT" ? 201 : 200;
      response.content_type = "application/x-echo";
      response.headers["Marathon-Deployment-Id"] = "deployment-of-" + name;
      response.body = json{
          {"by", name},
          {"method", request.method},
          {"target", request.target},
          {"body", request.body},
          {"headers",
           headers}}.dump();
      return response;
    };
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      server.Route(method, ".*", echo);
    }
    EXPECT_TRUE(server.Start("127.0.0.1", 0).ok());
    self = "127.0.0.1:" + std::to_string(server.port());
    gate.SetSelf(self);
  }

  HttpReply Call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::multimap<std::string, std::string>& headers = {}) {
    auto reply = HttpCall(method, "127.0.0.1", server.port(), target, body, headers);
    EXPECT_TRUE(reply.ok()) << reply.error();
    return reply.ok() ? *reply : HttpReply{};
  }

  std::string name;
  std::string self;
  std::atomic<int> served{0};
  LeaderGate gate;
  HttpServer server;  // last: stops before the gate goes
};

json Body(const HttpReply& reply) { return json::parse(reply.body, nullptr, false); }

TEST(LeaderGate, AStandbyPassesRequestsOnWithTheirHeadersAndReturnsTheLeadersAnswer) {
  Instance leader("leader"), standby("standby");
  leader.gate.SetLeading(true);
  standby.gate.SetLeader(leader.self);

  HttpReply reply = standby.Call(
      "PUT", "/v2/apps/shop//web?force=False&label=tier==web&cmd=a+b%20c", R"({"instances": 4})",
      {{"Authorization", "token=abc"}, {"X-Forwarded-For", "10.0.0.9"}});
  EXPECT_EQ(reply.status, 201);
  json seen = Body(reply);
  EXPECT_EQ(seen["by"], "leader");
  EXPECT_EQ(standby.served, 0);
  EXPECT_EQ(seen["method"], "PUT");
  // As the client sent it (HttpCall escapes '+'), escapes not escaped again.
  EXPECT_EQ(seen["target"], "/v2/apps/shop//web?force=False&label=tier==web&cmd=a%2Bb%20c");
  EXPECT_EQ(seen["body"], R"({"instances": 4})");
  // (HttpRequest names headers in lower case.)
  EXPECT_EQ(seen["headers"]["authorization"], json::array({"token=abc"}));
  EXPECT_EQ(seen["headers"]["content-type"], json::array({"application/json"}));
  EXPECT_EQ(seen["headers"]["x-marathon-via"], json::array({"1.1 " + standby.self}));
  EXPECT_EQ(seen["headers"]["x-forwarded-for"], json::array({"10.0.0.9,127.0.0.1"}));
  // The leader's own headers and content type come back, and who answered.
  EXPECT_EQ(reply.headers["Marathon-Deployment-Id"], "deployment-of-leader");
  EXPECT_EQ(reply.headers["Content-Type"], "application/x-echo");
  EXPECT_EQ(reply.headers["X-Marathon-Leader"], "http://" + leader.self);
  EXPECT_EQ(reply.headers["X-Marathon-Via"], "1.1 " + standby.self);

  // An error status passes through as well.
  HttpReply deleted = standby.Call("DELETE", "/v2/apps/x");
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(Body(deleted)["method"], "DELETE");
  EXPECT_EQ(leader.served, 2);
}

TEST(LeaderGate, TheLeaderAnswersItselfAndSaysItLeads) {
  Instance leader("leader");
  leader.gate.SetLeading(true);
  HttpReply reply = leader.Call("POST", "/v2/apps", "{}");
  EXPECT_EQ(Body(reply)["by"], "leader");
  EXPECT_EQ(reply.headers["X-Marathon-Leader"], "http://" + leader.self);
  EXPECT_EQ(leader.gate.leader(), leader.self);
}

TEST(LeaderGate, WithoutALeaderTheApiIsUnavailableButPingInfoAndLeaderAnswer) {
  Instance standby("standby");
  HttpReply reply = standby.Call("GET", "/v2/apps");
  EXPECT_EQ(reply.status, 503);
  EXPECT_TRUE(Body(reply)["message"].is_string()) << reply.body;
  EXPECT_EQ(standby.served, 0);
  // Its own znode leads but it has not taken over yet: still nobody serves.
  standby.gate.SetLeader(standby.self);
  EXPECT_EQ(standby.Call("POST", "/v2/apps", "{}").status, 503);
  for (const char* path : {"/ping", "/v2/leader", "/v2/info/"}) {
    EXPECT_EQ(Body(standby.Call("GET", path))["by"], "standby") << path;
  }
}

TEST(LeaderGate, ALoopOrAnUnreachableLeaderIsABadGateway) {
  Instance standby("standby");
  standby.gate.SetLeader("127.0.0.1:" + std::to_string(stoa::testing::FreePort()));
  HttpReply unreachable = standby.Call("GET", "/v2/apps");
  EXPECT_EQ(unreachable.status, 502);
  EXPECT_NE(Body(unreachable)["message"].get<std::string>().find("cannot reach the leader"),
            std::string::npos)
      << unreachable.body;

  // Two standbys each believing the other leads: the request comes back, and stops.
  Instance other("other");
  standby.gate.SetLeader(other.self);
  other.gate.SetLeader(standby.self);
  HttpReply loop = standby.Call("GET", "/v2/apps");
  EXPECT_EQ(loop.status, 502);
  EXPECT_NE(loop.body.find("came back"), std::string::npos) << loop.body;
  EXPECT_EQ(standby.served + other.served, 0);
}

TEST(LeaderGate, TheEventStreamIsRedirectedToTheLeader) {
  Instance standby("standby");
  standby.gate.SetLeader("10.1.2.3:8080");
  HttpReply reply = standby.Call("GET", "/v2/events?event_type=status_update_event");
  EXPECT_EQ(reply.status, 302);
  EXPECT_EQ(reply.headers["Location"],
            "http://10.1.2.3:8080/v2/events?event_type=status_update_event");
}

TEST(LeaderGate, MetronomesNamesHoldABareHostAndPort) {
  Instance leader("leader", Metronome()), standby("standby", Metronome());
  leader.gate.SetLeading(true);
  standby.gate.SetLeader(leader.self);
  HttpReply reply = standby.Call("POST", "/v1/jobs", R"({"id": "a"})");
  EXPECT_EQ(Body(reply)["by"], "leader");
  EXPECT_EQ(Body(reply)["headers"]["x-via"], json::array({standby.self}));
  EXPECT_EQ(reply.headers["X-LEADER"], leader.self);
  EXPECT_EQ(reply.headers["X-VIA"], standby.self);
  for (const char* path : {"/ping", "/info", "/leader/"}) {
    EXPECT_EQ(Body(standby.Call("GET", path))["by"], "standby") << path;
  }
  EXPECT_EQ(Body(standby.Call("GET", "/v1/metrics"))["by"], "leader");
  EXPECT_EQ(leader.served, 2);
}

TEST(LeaderGate, AnotherInstanceOnALongerPortIsNoLoop) {
  // 127.0.0.1:80 is a prefix of 127.0.0.1:8080: only a whole entry is a loop.
  Instance leader("leader", Metronome()), standby("standby", Metronome());
  leader.gate.SetLeading(true);
  standby.gate.SetLeader(leader.self);
  std::string longer = standby.self + "1";
  HttpReply reply = standby.Call("GET", "/v1/jobs", "", {{"X-VIA", longer}});
  EXPECT_EQ(Body(reply)["by"], "leader") << reply.body;
  EXPECT_EQ(Body(reply)["headers"]["x-via"], json::array({longer + "," + standby.self}));
  HttpReply loop = standby.Call("GET", "/v1/jobs", "", {{"X-VIA", longer + ", " + standby.self}});
  EXPECT_EQ(loop.status, 502) << loop.body;
}

TEST(LeaderStorage, WritesOnlyBetweenOpenAndFence) {
  stoa::testing::TempDir dir;
  LeaderStorage storage;
  EXPECT_FALSE(storage.Set("apps/a", "1", kNewKey).ok());
  EXPECT_FALSE(storage.Get("apps/a").ok());
  auto leveldb = OpenLevelDbStorage(dir.path() + "/state");
  ASSERT_TRUE(leveldb.ok()) << leveldb.error();
  storage.Open(std::move(*leveldb));
  auto version = storage.Set("apps/a", "1", kNewKey);
  ASSERT_TRUE(version.ok()) << version.error();
  auto scanned = storage.Scan("apps/");
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(scanned->at("apps/a").value, "1");

  storage.Fence();
  auto refused = storage.Set("apps/a", "2", *version);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("no longer leads"), std::string::npos) << refused.error();
  EXPECT_FALSE(storage.Delete("apps/a", *version).ok());
  // Opened again after a fence (a late takeover): still refused.
  auto again = OpenLevelDbStorage(dir.path() + "/other");
  ASSERT_TRUE(again.ok());
  storage.Open(std::move(*again));
  EXPECT_FALSE(storage.Scan("apps/").ok());
}

}  // namespace
}  // namespace stoa::sdk

#include "discovery/dns_daemon.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/detector.hpp"
#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "discovery/dns_server.hpp"
#include "discovery/endpoints_follower.hpp"

namespace stoa::discovery {

using json = nlohmann::json;

struct DnsDaemon::Impl {
  DnsOptions options;
  std::unique_ptr<DnsServer> server;
  std::unique_ptr<EndpointsFollower> follower;
  std::unique_ptr<MasterDetector> detector;
  HttpServer http;
  std::mutex mutex;  // guards what the zone is built from
  json apps = json::array();
  std::optional<MasterRecord> master;
  std::map<std::string, std::optional<uint32_t>> resolved;  // host name -> address
  uint64_t rebuilds = 0;
  int unresolved = 0;

  // REQUIRES: mutex held.
  void Rebuild() {
    auto resolve = [this](const std::string& host) -> std::optional<uint32_t> {
      auto found = resolved.find(host);
      if (found != resolved.end()) return found->second;
      auto address = ResolveIpv4(host);
      if (address) resolved[host] = address;  // hosts are few; a failure is tried again
      return address;
    };
    auto zone = std::make_shared<Zone>(
        BuildZone(options.domain, options.framework, apps, master, resolve, &unresolved));
    server->SetZone(std::move(zone));
    ++rebuilds;
  }

  std::string Metrics() {
    const DnsCounters& c = server->counters();
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    family("stoa_dns_queries_total", "counter", "DNS messages by how they were answered.");
    std::pair<const char*, uint64_t> results[] = {
        {"answered", c.answered},         {"nodata", c.nodata},  {"nxdomain", c.nxdomain},
        {"malformed", c.malformed},       {"notimp", c.notimp},  {"forwarded", c.forwarded},
        {"servfail", c.forward_failures}, {"refused", c.refused}};
    for (const auto& [result, count] : results) {
      out += fmt::format("stoa_dns_queries_total{{result=\"{}\"}} {}\n", result, count);
    }
    family("stoa_dns_truncated_total", "counter", "UDP answers cut to their header (TC set).");
    out += fmt::format("stoa_dns_truncated_total {}\n", c.truncated.load());
    std::lock_guard<std::mutex> lock(mutex);
    family("stoa_dns_records", "gauge", "A and SRV records in the zone.");
    out += fmt::format("stoa_dns_records {}\n", server->zone()->record_count());
    family("stoa_dns_zone_rebuilds_total", "counter", "Times the zone was rebuilt.");
    out += fmt::format("stoa_dns_zone_rebuilds_total {}\n", rebuilds);
    family("stoa_dns_unresolved_hosts", "gauge",
           "Instances left out of the zone because their host has no IPv4 address.");
    out += fmt::format("stoa_dns_unresolved_hosts {}\n", unresolved);
    if (follower) out += follower->Metrics("stoa_dns");
    return out;
  }

  std::string Enumerate() {
    std::shared_ptr<const Zone> zone = server->zone();
    json a = json::object(), srv = json::object();
    for (const auto& [name, addresses] : zone->a_records()) {
      for (uint32_t address : addresses) {
        a[name].push_back(fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 255,
                                      (address >> 8) & 255, address & 255));
      }
    }
    for (const auto& [name, records] : zone->srv_records()) {
      for (const auto& record : records) {
        srv[name].push_back({{"target", record.target}, {"port", record.port}});
      }
    }
    return json{{"domain", zone->domain()}, {"A", a}, {"SRV", srv}}.dump();
  }
};

DnsDaemon::DnsDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DnsDaemon::~DnsDaemon() {
  impl_->http.Stop();  // /metrics reads the follower
  impl_->follower.reset();
  impl_->detector.reset();
  impl_->server->Stop();
}

int DnsDaemon::dns_port() const { return impl_->server->port(); }
int DnsDaemon::http_port() const { return impl_->http.port(); }

Result<std::unique_ptr<DnsDaemon>> DnsDaemon::Start(const DnsOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto service = ParseServiceUrl(options.service);
  if (!service.ok()) return Status::Error("--service: " + service.error());
  DnsServerOptions server_options;
  server_options.ip = options.ip;
  server_options.port = options.port;
  server_options.ttl = options.ttl;
  if (!options.resolvers.empty()) {
    auto upstreams = ParseUpstreams(options.resolvers);
    if (!upstreams.ok()) return Status::Error("--resolvers: " + upstreams.error());
    server_options.upstreams = *upstreams;
  } else {
    server_options.upstreams = ReadResolvConf(options.resolv_conf);
  }
  if (options.domain.empty() || options.domain.front() == '.' || options.domain.back() == '.') {
    return Status::Error("--domain: '" + options.domain + "' is not a domain such as stoa");
  }
  // Forwarding to ourselves (resolv.conf naming 127.0.0.1 while we serve
  // port 53 there) would only loop: such upstreams are dropped.
  auto& upstreams = server_options.upstreams;
  size_t before = upstreams.size();
  int port = options.port;
  upstreams.erase(
      std::remove_if(upstreams.begin(), upstreams.end(),
                     [&](const Upstream& upstream) {
                       bool loopback = upstream.ip.rfind("127.", 0) == 0;
                       return upstream.port == port &&
                              (upstream.ip == options.ip || (loopback && options.ip == "0.0.0.0"));
                     }),
      upstreams.end());
  if (upstreams.size() != before) {
    Logger("dns")->warn("{} upstream resolver(s) are this server itself and are not used",
                        before - upstreams.size());
  }
  impl->server = std::make_unique<DnsServer>(server_options);
  if (Status s = impl->server->Start(); !s.ok()) return s;

  Impl* raw = impl.get();
  {
    std::lock_guard<std::mutex> lock(raw->mutex);
    raw->Rebuild();  // the zone's own records before anything is known
  }
  raw->http.Route("GET", "/metrics", [raw](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = raw->Metrics();
    return response;
  });
  raw->http.Route("GET", "/v1/enumerate", [raw](const HttpRequest&) {
    HttpResponse response;
    response.body = raw->Enumerate();
    return response;
  });
  if (Status s = raw->http.Start(options.ip, options.http_port); !s.ok()) return s;
  if (!options.master.empty()) {
    auto detector = MasterDetector::Create(options.master, [raw](const LeaderInfo& leader) {
      std::lock_guard<std::mutex> lock(raw->mutex);
      raw->master.reset();
      // Its HTTP address when it publishes one (through ZooKeeper), else the
      // host of the fixed --master (and no SRV record: its HTTP port is unknown).
      std::string where = leader.http;
      bool http = !where.empty();
      if (!http && leader.address.rfind("tcp://", 0) == 0) where = leader.address.substr(6);
      size_t colon = where.rfind(':');
      if (colon != std::string::npos) {
        raw->master =
            MasterRecord{where.substr(0, colon), http ? std::atoi(where.c_str() + colon + 1) : 0};
      }
      raw->Rebuild();
    });
    if (!detector.ok()) return Status::Error("--master: " + detector.error());
    raw->detector = std::move(*detector);
  }
  FollowerOptions follow = *service;
  follow.resync_seconds = options.resync_seconds;
  auto follower = std::make_unique<EndpointsFollower>(follow, [raw](const json& apps) {
    std::lock_guard<std::mutex> lock(raw->mutex);
    raw->apps = apps;
    raw->Rebuild();
    return raw->unresolved == 0;  // else again shortly: a host may resolve by then
  });
  {
    std::lock_guard<std::mutex> lock(raw->mutex);  // /metrics may be reading
    raw->follower = std::move(follower);
  }
  raw->follower->Start();
  Logger("dns")->info(
      "serving {} on {}:{} (udp and tcp), HTTP on {}:{}, endpoints from {}:{}, {} upstream "
      "resolver(s)",
      options.domain, options.ip, raw->server->port(), options.ip, raw->http.port(), follow.host,
      follow.port, server_options.upstreams.size());
  return std::unique_ptr<DnsDaemon>(new DnsDaemon(std::move(impl)));
}

}  // namespace stoa::discovery

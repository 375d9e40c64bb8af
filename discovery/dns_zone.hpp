// The records `stoa dns` serves, built from the service framework's endpoints
// (GET /v2/endpoints) and the leading master, with Mesos-DNS's names: app
// /shop/web of framework "service" in domain "stoa" is
//   web.shop.service.stoa               A    the agents of its healthy instances
//   web.shop-<7 hex>.service.stoa       A    one instance's agent (SRV targets)
//   _web.shop._tcp.service.stoa         SRV  every port of every healthy instance
//   _<port name>._web.shop._tcp....     SRV  the ports of that name
// and leader.stoa / master.stoa (A) and _leader._tcp.stoa (SRV, HTTP port).
// A Zone is immutable once built, so the server's threads share it freely.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace stoa::discovery {

struct SrvRecord {
  uint16_t port = 0;
  std::string target;  // a name with an A record in the zone, without the final dot
  auto operator<=>(const SrvRecord&) const = default;
};

// Names are lower case, without the final dot.
class Zone {
 public:
  explicit Zone(std::string domain = "stoa") : domain_(std::move(domain)) {}

  void AddA(const std::string& name, uint32_t ipv4);  // host byte order
  void AddSrv(const std::string& name, SrvRecord record);

  const std::string& domain() const { return domain_; }
  // Whether `name` (lower case, no final dot) is the domain or beneath it.
  bool InDomain(const std::string& name) const;
  // Whether a record has this name, or a name beneath it has one (an empty
  // non-terminal exists too: its queries get no data, not NXDOMAIN).
  bool Exists(const std::string& name) const;
  const std::vector<uint32_t>* A(const std::string& name) const;
  const std::vector<SrvRecord>* Srv(const std::string& name) const;

  size_t record_count() const;
  const std::map<std::string, std::vector<uint32_t>>& a_records() const { return a_; }
  const std::map<std::string, std::vector<SrvRecord>>& srv_records() const { return srv_; }

 private:
  void AddName(const std::string& name);

  std::string domain_;
  std::map<std::string, std::vector<uint32_t>> a_;
  std::map<std::string, std::vector<SrvRecord>> srv_;
  std::set<std::string> names_;  // every owner name and its ancestors in the domain
};

// Where the leading master is: its IPv4 address and HTTP port (0: unknown).
struct MasterRecord {
  std::string host;
  int http_port = 0;
};

// An IPv4 address for a host name or literal (host byte order), or none.
using HostResolver = std::function<std::optional<uint32_t>(const std::string& host)>;

// getaddrinfo, IPv4 only.
std::optional<uint32_t> ResolveIpv4(const std::string& host);

// The DNS label form of an app id: "/shop/web" -> "web.shop", lower case, with
// every character a label cannot hold made '-'.
std::string AppDnsName(const std::string& app_id);

// The zone for `apps` (the "apps" array of /v2/endpoints) of `framework`,
// and the master when `master` has a host. Endpoints whose host cannot be
// resolved are left out (and counted in *unresolved when given).
Zone BuildZone(const std::string& domain, const std::string& framework, const nlohmann::json& apps,
               const std::optional<MasterRecord>& master, const HostResolver& resolve,
               int* unresolved = nullptr);

}  // namespace stoa::discovery

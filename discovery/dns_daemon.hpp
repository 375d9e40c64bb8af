// `stoa dns`: a DnsServer whose zone follows the service framework's
// endpoints (EndpointsFollower) and the leading master (MasterDetector),
// rebuilt whole on every change; /metrics (Prometheus text) and
// /v1/enumerate (every record, as JSON) over HTTP.
#pragma once

#include <memory>
#include <string>

#include "common/status.hpp"

namespace stoa::discovery {

struct DnsOptions {
  std::string master;  // HOST:PORT or zk://…; empty: no leader.* records
  std::string service = "http://127.0.0.1:8080";
  std::string framework = "service";  // the label the service's apps are under
  std::string domain = "stoa";
  std::string ip = "0.0.0.0";
  int port = 53;
  int http_port = 8123;  // 0: any free port
  uint32_t ttl = 1;
  std::string resolv_conf = "/etc/resolv.conf";
  std::string resolvers;  // IP[:PORT],…: instead of resolv_conf's
  double resync_seconds = 30;
};

class DnsDaemon {
 public:
  static Result<std::unique_ptr<DnsDaemon>> Start(const DnsOptions& options);
  ~DnsDaemon();
  int dns_port() const;
  int http_port() const;

 private:
  struct Impl;
  explicit DnsDaemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::discovery

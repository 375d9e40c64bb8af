// `stoa dns`'s server: authoritative answers for its zone (dns_zone.hpp) over
// UDP and TCP, everything else forwarded to upstream resolvers. The wire
// format is ldns's (Debian's libldns); a query that does not parse gets
// FORMERR and is counted, never a crash. The zone is swapped whole, so a
// reader sees either the old or the new one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "discovery/dns_zone.hpp"

struct ldns_struct_pkt;

namespace stoa::discovery {

struct Upstream {
  std::string ip;
  int port = 53;
};

// The nameservers of a resolv.conf file (port 53), in its order.
std::vector<Upstream> ReadResolvConf(const std::string& path);
// "IP[:PORT],IP[:PORT]": the upstreams, or an error naming the bad entry.
Result<std::vector<Upstream>> ParseUpstreams(const std::string& text);

struct DnsServerOptions {
  std::string ip = "0.0.0.0";
  int port = 53;  // 0: any free one (UDP and TCP the same)
  uint32_t ttl = 2;
  std::vector<Upstream> upstreams;  // for names outside the zone; none: REFUSED
  double forward_timeout_seconds = 2;
  int forward_workers = 4;
};

struct DnsCounters {
  std::atomic<uint64_t> queries{0};           // well-formed queries, UDP and TCP
  std::atomic<uint64_t> answered{0};          // from the zone, with records
  std::atomic<uint64_t> nodata{0};            // from the zone: the name exists, not that type
  std::atomic<uint64_t> nxdomain{0};          // from the zone: no such name
  std::atomic<uint64_t> malformed{0};         // did not parse: FORMERR (or dropped, when no header)
  std::atomic<uint64_t> notimp{0};            // not a QUERY
  std::atomic<uint64_t> forwarded{0};         // answered by an upstream
  std::atomic<uint64_t> forward_failures{0};  // no upstream answered: SERVFAIL
  std::atomic<uint64_t> refused{0};           // outside the zone with no upstream
  std::atomic<uint64_t> truncated{0};         // too big for UDP: TC set
};

class DnsServer {
 public:
  explicit DnsServer(DnsServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  Status Start();
  void Stop();
  int port() const { return port_; }

  void SetZone(std::shared_ptr<const Zone> zone);
  std::shared_ptr<const Zone> zone() const;
  const DnsCounters& counters() const { return counters_; }

  // The reply to one message's bytes, at most `max_size` long for UDP (0: no
  // limit, TCP); empty when nothing should be sent. Forwards (blocking) when
  // the name is outside the zone.
  std::vector<uint8_t> Reply(const uint8_t* data, size_t size, size_t max_size);

 private:
  enum class Handling { kSend, kForward, kDrop };
  static constexpr size_t kMaxUdp = 65535;  // the client's EDNS size (or 512) limits further
  static constexpr size_t kMaxWaitingForwards = 256;
  static constexpr int kMaxTcpConnections = 64;
  static constexpr int kTcpIdleMs = 5000;

  // The reply for a query from the zone (kSend), or that it must go upstream
  // (kForward), or that nothing must be sent (kDrop).
  Handling Handle(const uint8_t* data, size_t size, size_t max_size, std::vector<uint8_t>* out);
  // The upstreams' answer, tried in order; SERVFAIL when none answers.
  std::vector<uint8_t> Forward(const uint8_t* data, size_t size, size_t max_size);
  // `reply` as bytes, or only its header and question with TC when it is too
  // big for `max_size` (0: no limit) and what the query's EDNS allows.
  std::vector<uint8_t> Fit(const ::ldns_struct_pkt* query, const ::ldns_struct_pkt* reply,
                           size_t max_size);
  void ServeUdp();
  void ServeTcp();
  void ServeConnection(int fd);
  void ForwardLoop();

  struct Impl;
  DnsServerOptions options_;
  int port_ = 0;
  DnsCounters counters_;
  mutable std::mutex zone_mutex_;
  std::shared_ptr<const Zone> zone_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::discovery

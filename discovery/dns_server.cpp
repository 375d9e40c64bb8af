#include "discovery/dns_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/logging.hpp"

namespace stoa::discovery {
namespace {

struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

std::vector<uint8_t> ToWire(const ldns_pkt* pkt) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK) return {};
  std::vector<uint8_t> out(wire, wire + size);
  free(wire);
  return out;
}

std::string Ipv4Text(uint32_t address) {
  in_addr in{htonl(address)};
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &in, text, sizeof(text));
  return text;
}

// The query name, lower case and without the final dot.
std::string QueryName(const ldns_rr* question) {
  char* text = ldns_rdf2str(ldns_rr_owner(question));
  std::string name = text ? text : "";
  free(text);
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

bool Push(ldns_pkt* pkt, ldns_pkt_section section, const std::string& text, uint32_t ttl) {
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), ttl, nullptr, nullptr) != LDNS_STATUS_OK) {
    return false;
  }
  return ldns_pkt_push_rr(pkt, section, rr);
}

// A reply with the query's id, opcode, RD and question.
Pkt ReplyTo(const ldns_pkt* query, bool recursion) {
  Pkt reply(ldns_pkt_new());
  ldns_pkt_set_ra(reply.get(), recursion);  // other names are forwarded
  ldns_pkt_set_id(reply.get(), ldns_pkt_id(query));
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_opcode(reply.get(), ldns_pkt_get_opcode(query));
  ldns_pkt_set_rd(reply.get(), ldns_pkt_rd(query));
  const ldns_rr_list* questions = ldns_pkt_question(query);
  for (size_t i = 0; questions && i < ldns_rr_list_rr_count(questions); ++i) {
    ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(questions, i)));
  }
  if (ldns_pkt_edns(query)) ldns_pkt_set_edns_udp_size(reply.get(), 1232);
  return reply;
}

}  // namespace

std::vector<Upstream> ReadResolvConf(const std::string& path) {
  std::vector<Upstream> upstreams;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    in_addr parsed{};
    if (words >> keyword >> address && keyword == "nameserver" &&
        inet_pton(AF_INET, address.c_str(), &parsed) == 1) {  // IPv6 ones: not forwarded to
      upstreams.push_back({address, 53});
    }
  }
  return upstreams;
}

Result<std::vector<Upstream>> ParseUpstreams(const std::string& text) {
  std::vector<Upstream> upstreams;
  std::istringstream entries(text);
  std::string entry;
  while (std::getline(entries, entry, ',')) {
    if (entry.empty()) continue;
    Upstream upstream;
    size_t colon = entry.rfind(':');
    upstream.ip = entry.substr(0, colon);
    if (colon != std::string::npos) {
      try {
        upstream.port = std::stoi(entry.substr(colon + 1));
      } catch (...) {
        upstream.port = 0;
      }
    }
    in_addr address{};
    if (inet_pton(AF_INET, upstream.ip.c_str(), &address) != 1 || upstream.port <= 0 ||
        upstream.port > 65535) {
      return Status::Error("'" + entry + "' is not IPv4-ADDRESS[:PORT]");
    }
    upstreams.push_back(upstream);
  }
  return upstreams;
}

struct DnsServer::Impl {
  int udp = -1;
  int tcp = -1;
  int wake[2] = {-1, -1};  // written to stop the loops
  std::atomic<bool> stopping{false};
  std::thread udp_thread, tcp_thread;
  std::vector<std::thread> workers;
  std::uint32_t serial = 1;

  // UDP queries for other zones, waiting for a forward worker.
  struct Forward {
    std::vector<uint8_t> query;
    sockaddr_storage from{};
    socklen_t from_size = 0;
  };
  std::mutex mutex;
  std::condition_variable wanted;
  std::deque<Forward> forwards;
  std::vector<int> connections;  // open TCP connections, shut down by Stop
  int connection_threads = 0;
  std::condition_variable connections_done;
};

DnsServer::DnsServer(DnsServerOptions options)
    : options_(std::move(options)), zone_(std::make_shared<Zone>()), impl_(new Impl) {}

DnsServer::~DnsServer() { Stop(); }

void DnsServer::SetZone(std::shared_ptr<const Zone> zone) {
  std::lock_guard<std::mutex> lock(zone_mutex_);
  zone_ = std::move(zone);
  impl_->serial = static_cast<uint32_t>(std::time(nullptr));
}

std::shared_ptr<const Zone> DnsServer::zone() const {
  std::lock_guard<std::mutex> lock(zone_mutex_);
  return zone_;
}

DnsServer::Handling DnsServer::Handle(const uint8_t* data, size_t size, size_t max_size,
                                      std::vector<uint8_t>* out) {
  const DnsServerOptions& options = options_;
  DnsCounters& counters = counters_;
  uint32_t serial;
  {
    std::lock_guard<std::mutex> lock(zone_mutex_);
    serial = impl_->serial;
  }
  out->clear();
  // A message that is a reply, or too short to have a header, gets nothing:
  // answering it could start a loop with whoever sent it.
  if (size < 12 || (data[2] & 0x80)) {
    counters.malformed++;
    return Handling::kDrop;
  }
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, data, size) != LDNS_STATUS_OK || ldns_pkt_qdcount(parsed) != 1) {
    if (parsed) ldns_pkt_free(parsed);
    counters.malformed++;
    Pkt reply(ldns_pkt_new());
    ldns_pkt_set_id(reply.get(), static_cast<uint16_t>((data[0] << 8) | data[1]));
    ldns_pkt_set_qr(reply.get(), true);
    ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_FORMERR);
    *out = ToWire(reply.get());
    return Handling::kSend;
  }
  Pkt query(parsed);
  Pkt reply = ReplyTo(query.get(), !options_.upstreams.empty());
  if (ldns_pkt_get_opcode(query.get()) != LDNS_PACKET_QUERY) {
    counters.notimp++;
    ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_NOTIMPL);
    *out = ToWire(reply.get());
    return Handling::kSend;
  }
  counters.queries++;
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(query.get()), 0);
  const std::string name = QueryName(question);
  const ldns_rr_type type = ldns_rr_get_type(question);
  const ldns_rr_class klass = ldns_rr_get_class(question);
  std::shared_ptr<const Zone> zone = this->zone();
  if (!zone->InDomain(name)) {
    if (!options.upstreams.empty()) return Handling::kForward;
    counters.refused++;
    ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_REFUSED);
    *out = ToWire(reply.get());
    return Handling::kSend;
  }
  if (klass != LDNS_RR_CLASS_IN && klass != LDNS_RR_CLASS_ANY) {
    counters.refused++;  // the zone is IN only
    ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_REFUSED);
    *out = ToWire(reply.get());
    return Handling::kSend;
  }
  ldns_pkt_set_aa(reply.get(), true);
  const uint32_t ttl = options.ttl;
  const std::string& domain = zone->domain();
  bool any = type == LDNS_RR_TYPE_ANY;
  std::vector<std::string> targets;  // SRV targets, for the additional section
  if (type == LDNS_RR_TYPE_A || any) {
    if (const auto* addresses = zone->A(name)) {
      for (uint32_t address : *addresses) {
        Push(reply.get(), LDNS_SECTION_ANSWER, name + ". IN A " + Ipv4Text(address), ttl);
      }
    }
  }
  if (type == LDNS_RR_TYPE_SRV || any) {
    if (const auto* records = zone->Srv(name)) {
      for (const auto& record : *records) {
        Push(reply.get(), LDNS_SECTION_ANSWER,
             name + ". IN SRV 0 1 " + std::to_string(record.port) + " " + record.target + ".", ttl);
        if (std::find(targets.begin(), targets.end(), record.target) == targets.end()) {
          targets.push_back(record.target);
        }
      }
    }
  }
  const std::string soa = domain + ". IN SOA ns1." + domain + ". hostmaster." + domain + ". " +
                          std::to_string(serial) + " 60 30 86400 " + std::to_string(ttl);
  if (name == domain && (type == LDNS_RR_TYPE_SOA || any)) {
    Push(reply.get(), LDNS_SECTION_ANSWER, soa, ttl);
  }
  if (name == domain && (type == LDNS_RR_TYPE_NS || any)) {
    Push(reply.get(), LDNS_SECTION_ANSWER, domain + ". IN NS ns1." + domain + ".", ttl);
  }
  for (const auto& target : targets) {
    if (const auto* addresses = zone->A(target)) {
      for (uint32_t address : *addresses) {
        Push(reply.get(), LDNS_SECTION_ADDITIONAL, target + ". IN A " + Ipv4Text(address), ttl);
      }
    }
  }
  if (ldns_pkt_ancount(reply.get()) > 0) {
    counters.answered++;
  } else {
    bool exists = zone->Exists(name) || name == domain;
    (exists ? counters.nodata : counters.nxdomain)++;
    if (!exists) ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_NXDOMAIN);
    Push(reply.get(), LDNS_SECTION_AUTHORITY, soa, ttl);  // for negative caching
  }
  *out = Fit(query.get(), reply.get(), max_size);
  return Handling::kSend;
}

std::vector<uint8_t> DnsServer::Fit(const ldns_pkt* query, const ldns_pkt* reply, size_t max_size) {
  std::vector<uint8_t> wire = ToWire(reply);
  // UDP: what the client's EDNS asks, at most the 1232 we advertise (no
  // fragments), at least 512; TCP: what a length prefix can say.
  size_t limit = 65535;
  if (max_size > 0) {
    size_t asked = ldns_pkt_edns(query) ? ldns_pkt_edns_udp_size(query) : 512;
    limit = std::min<size_t>(std::min(max_size, size_t{1232}), std::max<size_t>(512, asked));
  }
  if (wire.size() <= limit) return wire;
  counters_.truncated++;
  Pkt small = ReplyTo(query, !options_.upstreams.empty());
  ldns_pkt_set_aa(small.get(), ldns_pkt_aa(reply));
  ldns_pkt_set_tc(small.get(), true);
  ldns_pkt_set_rcode(small.get(), ldns_pkt_get_rcode(reply));
  return ToWire(small.get());
}

std::vector<uint8_t> DnsServer::Forward(const uint8_t* data, size_t size, size_t max_size) {
  const DnsServerOptions& options = options_;
  DnsCounters& counters = counters_;
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, data, size) != LDNS_STATUS_OK) return {};
  Pkt query(parsed);
  for (const auto& upstream : options.upstreams) {
    ldns_resolver* resolver = ldns_resolver_new();
    ldns_rdf* address = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, upstream.ip.c_str());
    if (address) {
      ldns_resolver_push_nameserver(resolver, address);
      ldns_rdf_deep_free(address);
    }
    ldns_resolver_set_port(resolver, static_cast<uint16_t>(upstream.port));
    timeval timeout{static_cast<time_t>(options.forward_timeout_seconds),
                    static_cast<suseconds_t>(
                        (options.forward_timeout_seconds - static_cast<double>(static_cast<time_t>(
                                                               options.forward_timeout_seconds))) *
                        1e6)};
    ldns_resolver_set_timeout(resolver, timeout);
    ldns_resolver_set_retry(resolver, 1);
    ldns_pkt* answer = nullptr;
    // ldns may change the query it sends (its EDNS size, on a truncated
    // answer): send a copy, so that the client's own limits stay as asked.
    Pkt sent(ldns_pkt_clone(query.get()));
    ldns_status status =
        address ? ldns_resolver_send_pkt(&answer, resolver, sent.get()) : LDNS_STATUS_ERR;
    ldns_resolver_deep_free(resolver);
    // Only the answer to what was asked counts: same id, same question (ldns
    // takes the first datagram that arrives on its socket).
    bool matches = status == LDNS_STATUS_OK && answer &&
                   ldns_pkt_id(answer) == ldns_pkt_id(sent.get()) &&
                   ldns_pkt_qdcount(answer) == 1 &&
                   ldns_rr_compare(ldns_rr_list_rr(ldns_pkt_question(answer), 0),
                                   ldns_rr_list_rr(ldns_pkt_question(sent.get()), 0)) == 0;
    if (matches) {
      Pkt held(answer);
      ldns_pkt_set_id(held.get(), ldns_pkt_id(query.get()));
      counters.forwarded++;
      return Fit(query.get(), held.get(), max_size);
    }
    if (answer) ldns_pkt_free(answer);
  }
  counters.forward_failures++;
  Pkt reply = ReplyTo(query.get(), !options_.upstreams.empty());
  ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_SERVFAIL);
  return ToWire(reply.get());
}

std::vector<uint8_t> DnsServer::Reply(const uint8_t* data, size_t size, size_t max_size) {
  std::vector<uint8_t> out;
  if (Handle(data, size, max_size, &out) == Handling::kForward) {
    return Forward(data, size, max_size);
  }
  return out;
}

namespace {

Status Bind(int fd, const std::string& ip, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
    return Status::Error("--ip: '" + ip + "' is not an IPv4 address");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return Status::Error("cannot bind " + ip + ":" + std::to_string(port) + ": " +
                         std::strerror(errno));
  }
  return Status::Ok();
}

// Reads exactly `size` bytes, waiting at most `timeout_ms` for each piece.
bool ReadFully(int fd, uint8_t* data, size_t size, int timeout_ms) {
  size_t got = 0;
  while (got < size) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    ssize_t n = recv(fd, data + got, size - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status DnsServer::Start() {
  Impl& impl = *impl_;
  // Non-blocking UDP: a datagram poll announced may be gone by the read.
  impl.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  impl.tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;  // TCP only: on UDP it would let a second server share the port
  if (impl.tcp >= 0) setsockopt(impl.tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (impl.udp < 0 || impl.tcp < 0 || pipe2(impl.wake, O_CLOEXEC) != 0) {
    return Status::Error(std::string("cannot make sockets: ") + std::strerror(errno));
  }
  if (Status s = Bind(impl.udp, options_.ip, options_.port); !s.ok()) return s;
  sockaddr_in bound{};
  socklen_t bound_size = sizeof(bound);
  getsockname(impl.udp, reinterpret_cast<sockaddr*>(&bound), &bound_size);
  port_ = ntohs(bound.sin_port);
  if (Status s = Bind(impl.tcp, options_.ip, port_); !s.ok()) return s;
  if (listen(impl.tcp, 64) != 0) {
    return Status::Error(std::string("cannot listen: ") + std::strerror(errno));
  }
  impl.udp_thread = std::thread([this] { ServeUdp(); });
  impl.tcp_thread = std::thread([this] { ServeTcp(); });
  for (int i = 0; i < std::max(1, options_.forward_workers); ++i) {
    impl.workers.emplace_back([this] { ForwardLoop(); });
  }
  return Status::Ok();
}

void DnsServer::Stop() {
  Impl& impl = *impl_;
  if (impl.stopping.exchange(true)) return;
  if (impl.wake[1] >= 0) {
    char byte = 1;
    (void)!write(impl.wake[1], &byte, 1);
  }
  {
    std::unique_lock<std::mutex> lock(impl.mutex);
    for (int fd : impl.connections) shutdown(fd, SHUT_RDWR);
    impl.wanted.notify_all();
    impl.connections_done.wait(lock, [&] { return impl.connection_threads == 0; });
  }
  if (impl.udp_thread.joinable()) impl.udp_thread.join();
  if (impl.tcp_thread.joinable()) impl.tcp_thread.join();
  for (auto& worker : impl.workers) worker.join();
  for (int fd : {impl.udp, impl.tcp, impl.wake[0], impl.wake[1]}) {
    if (fd >= 0) close(fd);
  }
}

void DnsServer::ServeUdp() {
  Impl& impl = *impl_;
  std::vector<uint8_t> buffer(65536), out;
  while (!impl.stopping) {
    pollfd fds[2] = {{impl.udp, POLLIN, 0}, {impl.wake[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    Impl::Forward forward;
    forward.from_size = sizeof(forward.from);
    ssize_t n = recvfrom(impl.udp, buffer.data(), buffer.size(), 0,
                         reinterpret_cast<sockaddr*>(&forward.from), &forward.from_size);
    if (n < 0) continue;
    Handling handling = Handle(buffer.data(), static_cast<size_t>(n), kMaxUdp, &out);
    if (handling == Handling::kSend && !out.empty()) {
      sendto(impl.udp, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&forward.from),
             forward.from_size);
    } else if (handling == Handling::kForward) {
      std::lock_guard<std::mutex> lock(impl.mutex);
      if (impl.forwards.size() >= kMaxWaitingForwards) {
        counters_.forward_failures++;  // the client retries; we do not queue without bound
        continue;
      }
      forward.query.assign(buffer.begin(), buffer.begin() + n);
      impl.forwards.push_back(std::move(forward));
      impl.wanted.notify_one();
    }
  }
}

void DnsServer::ForwardLoop() {
  Impl& impl = *impl_;
  while (true) {
    Impl::Forward forward;
    {
      std::unique_lock<std::mutex> lock(impl.mutex);
      impl.wanted.wait(lock, [&] { return impl.stopping || !impl.forwards.empty(); });
      if (impl.stopping) return;
      forward = std::move(impl.forwards.front());
      impl.forwards.pop_front();
    }
    std::vector<uint8_t> out = Forward(forward.query.data(), forward.query.size(), kMaxUdp);
    if (!out.empty()) {
      sendto(impl.udp, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&forward.from),
             forward.from_size);
    }
  }
}

void DnsServer::ServeTcp() {
  Impl& impl = *impl_;
  while (!impl.stopping) {
    pollfd fds[2] = {{impl.tcp, POLLIN, 0}, {impl.wake[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = accept4(impl.tcp, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(impl.mutex);
    if (impl.stopping || impl.connection_threads >= kMaxTcpConnections) {
      close(fd);
      continue;
    }
    impl.connection_threads++;
    impl.connections.push_back(fd);
    std::thread([this, fd] { ServeConnection(fd); }).detach();
  }
}

void DnsServer::ServeConnection(int fd) {
  Impl& impl = *impl_;
  std::vector<uint8_t> message, out;
  while (!impl.stopping) {
    uint8_t length[2];
    if (!ReadFully(fd, length, 2, kTcpIdleMs)) break;
    message.resize((size_t{length[0]} << 8) | length[1]);
    if (!ReadFully(fd, message.data(), message.size(), kTcpIdleMs)) break;
    out = Reply(message.data(), message.size(), 0);
    if (out.empty()) continue;
    uint8_t prefix[2] = {static_cast<uint8_t>(out.size() >> 8),
                         static_cast<uint8_t>(out.size() & 0xff)};
    if (send(fd, prefix, 2, MSG_NOSIGNAL) != 2 ||
        send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      break;
    }
  }
  std::lock_guard<std::mutex> lock(impl.mutex);
  impl.connections.erase(std::find(impl.connections.begin(), impl.connections.end(), fd));
  close(fd);
  if (--impl.connection_threads == 0) impl.connections_done.notify_all();
}

}  // namespace stoa::discovery

#include "common/transport.hpp"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/logging.hpp"

namespace stoa {

void* ZmqContext() {
  static void* context = [] {
    void* ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
    return ctx;
  }();
  return context;
}

std::string PrintablePeer(const std::string& peer) {
  std::string out;
  for (unsigned char c : peer.substr(0, 24)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (peer.size() > 24) out += "...";
  return out;
}

// The in-flight count and the I/O thread's wake-up descriptor, shared by the
// endpoint and its tickets (which may outlive it).
struct TicketFlow {
  explicit TicketFlow(size_t max)
      : max_in_flight(max), wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~TicketFlow() {
    if (wake_fd >= 0) close(wake_fd);
  }
  void Wake() const {
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd, &one, sizeof(one));
    (void)ignored;
  }

  const size_t max_in_flight;
  const int wake_fd;
  std::atomic<size_t> in_flight{0};
};

struct FrameTicket::Hold {
  explicit Hold(std::shared_ptr<TicketFlow> shared) : flow(std::move(shared)) { ++flow->in_flight; }
  ~Hold() {
    // The release that brings the count below the bound wakes the I/O
    // thread, which stopped reading at the bound.
    if (flow->in_flight.fetch_sub(1) == flow->max_in_flight) flow->Wake();
  }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

  std::shared_ptr<TicketFlow> flow;
};

namespace {

// While ZeroMQ's queue to some peer is full, its frames are retried this often.
constexpr int kRetryMillis = 10;

void SetCommonOptions(void* socket, const EndpointLimits& limits) {
  // Frames queued when a socket closes still go out for a moment (we never
  // terminate the context, so nothing blocks on this).
  int linger = 1000;
  zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_setsockopt(socket, ZMQ_SNDHWM, &limits.send_hwm, sizeof(limits.send_hwm));
  zmq_setsockopt(socket, ZMQ_RCVHWM, &limits.receive_hwm, sizeof(limits.receive_hwm));
  zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &limits.max_message_bytes,
                 sizeof(limits.max_message_bytes));
  // Fast reconnects: a restarted master or agent is found again within ~100 ms.
  int reconnect = 100, reconnect_max = 1000;
  zmq_setsockopt(socket, ZMQ_RECONNECT_IVL, &reconnect, sizeof(reconnect));
  zmq_setsockopt(socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof(reconnect_max));
}

const char* MonitorEventName(uint16_t event) {
  switch (event) {
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      return "handshake failed";
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      return "handshake failed: protocol error";
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      return "handshake failed: authentication";
    default:
      return "connection event";
  }
}

}  // namespace

struct ZmqEndpoint::Impl {
  // Where a frame goes: (true, identity) on the ROUTER, (false, name) a DEALER.
  using PeerKey = std::pair<bool, std::string>;
  enum class SendResult { kSent, kBlocked, kFailed };

  std::string name;
  EndpointLimits limits;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<TicketFlow> flow;
  void* router = nullptr;
  void* monitor = nullptr;
  std::vector<std::string> bound;
  std::map<std::string, void*> dealers;
  std::thread thread;
  std::atomic<bool> running{false};
  bool started = false;  // set once by Start: from then on only the I/O thread touches sockets
  Receiver receiver;
  Refusal refusal;

  // Written by the I/O thread, read by counters().
  std::atomic<uint64_t> frames_received{0}, malformed_frames{0}, in_flight_peak{0}, read_pauses{0};
  // I/O thread only.
  bool reading_paused = false;
  std::chrono::steady_clock::time_point last_malformed_log{};
  uint64_t malformed_unlogged = 0;

  struct Outgoing {
    enum Kind { kFrame, kConnect } kind = kFrame;
    bool to_router = false;
    std::string target;  // peer identity or dealer name
    std::string frame;   // frame, or address for kConnect
    std::string identity;
  };
  // What one peer has queued, in `queue` and in `waiting` together.
  struct Usage {
    size_t frames = 0;
    size_t bytes = 0;
    uint64_t dropped = 0;  // since it last had nothing queued
  };
  mutable std::mutex mutex;
  std::deque<Outgoing> queue;  // from Send* to the I/O thread
  std::map<PeerKey, Usage> usage;
  uint64_t frames_queued = 0, bytes_queued = 0, frames_sent = 0, frames_dropped = 0;
  // I/O thread only: frames taken from `queue` that ZeroMQ has not accepted
  // yet (its queue to the peer was full), per peer in order.
  std::map<PeerKey, std::deque<std::string>> waiting;

  static std::string Describe(const PeerKey& key) {
    return key.first ? "peer '" + PrintablePeer(key.second) + "'"
                     : "connection '" + key.second + "'";
  }

  void Enqueue(Outgoing item) {
    std::string refused;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (item.kind == Outgoing::kFrame) {
        PeerKey key{item.to_router, item.target};
        Usage& peer = usage[key];
        size_t size = item.frame.size();
        if (peer.frames >= limits.max_queued_frames_per_peer ||
            peer.bytes + size > limits.max_queued_bytes_per_peer) {
          ++frames_dropped;
          if (peer.dropped++ == 0) {
            refused = fmt::format(
                "{}: {} is not reading: {} frames ({} bytes) wait for it; further frames for it "
                "are dropped until it reads again",
                name, Describe(key), peer.frames, peer.bytes);
          }
          if (peer.frames == 0) usage.erase(key);
        } else {
          peer.frames++;
          peer.bytes += size;
          frames_queued++;
          bytes_queued += size;
          queue.push_back(std::move(item));
        }
      } else {
        queue.push_back(std::move(item));
      }
    }
    if (!refused.empty()) {
      log->warn("{}", refused);
      return;
    }
    flow->Wake();
  }

  // Frames that left `waiting` (sent, or dropped as undeliverable): `frames`
  // of them, `bytes` in all, `dropped` of them dropped.
  void Account(const std::vector<std::tuple<PeerKey, size_t, size_t, size_t>>& left) {
    std::vector<std::pair<PeerKey, uint64_t>> recovered;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (const auto& [key, frames, bytes, dropped] : left) {
        auto it = usage.find(key);
        if (it == usage.end()) continue;
        it->second.frames -= frames;
        it->second.bytes -= bytes;
        frames_queued -= frames;
        bytes_queued -= bytes;
        frames_sent += frames - dropped;
        frames_dropped += dropped;
        if (it->second.frames > 0) continue;
        if (it->second.dropped > 0) recovered.emplace_back(key, it->second.dropped);
        usage.erase(it);
      }
    }
    for (const auto& [key, dropped] : recovered) {
      log->info("{}: {} reads again; {} frames for it were dropped meanwhile", name, Describe(key),
                dropped);
    }
  }

  Status OpenDealer(const std::string& dealer_name, const std::string& address,
                    const std::string& identity) {
    CloseDealer(dealer_name);
    void* socket = zmq_socket(ZmqContext(), ZMQ_DEALER);
    SetCommonOptions(socket, limits);
    zmq_setsockopt(socket, ZMQ_ROUTING_ID, identity.data(), identity.size());
    if (zmq_connect(socket, address.c_str()) != 0) {
      std::string error = zmq_strerror(zmq_errno());
      zmq_close(socket);
      return Status::Error("cannot connect to '" + address + "': " + error);
    }
    dealers[dealer_name] = socket;
    return Status::Ok();
  }

  void CloseDealer(const std::string& dealer_name) {
    auto it = dealers.find(dealer_name);
    if (it == dealers.end()) return;
    zmq_close(it->second);
    dealers.erase(it);
  }

  SendResult SendFrame(const PeerKey& key, const std::string& frame, std::string* error) {
    if (static_cast<int64_t>(frame.size()) > limits.max_message_bytes) {
      *error = fmt::format("a frame of {} bytes exceeds the {}-byte limit", frame.size(),
                           limits.max_message_bytes);
      return SendResult::kFailed;
    }
    void* socket = router;
    if (!key.first) {
      auto it = dealers.find(key.second);
      socket = it == dealers.end() ? nullptr : it->second;
    }
    if (socket == nullptr) {
      *error = key.first ? "no address is bound" : "no such connection";
      return SendResult::kFailed;
    }
    auto failed = [&] {
      if (zmq_errno() == EAGAIN) return SendResult::kBlocked;  // its queue is full
      *error = zmq_strerror(zmq_errno());
      return SendResult::kFailed;
    };
    if (key.first &&
        zmq_send(socket, key.second.data(), key.second.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
      return failed();
    }
    if (zmq_send(socket, frame.data(), frame.size(), ZMQ_DONTWAIT) < 0) return failed();
    return SendResult::kSent;
  }

  // Hands ZeroMQ what waits for each peer, in order, until its queue is full.
  void Flush() {
    std::vector<std::tuple<PeerKey, size_t, size_t, size_t>> left;
    for (auto it = waiting.begin(); it != waiting.end();) {
      std::deque<std::string>& frames = it->second;
      size_t gone = 0, bytes = 0, dropped = 0;
      std::string error;
      while (!frames.empty()) {
        SendResult result = SendFrame(it->first, frames.front(), &error);
        if (result == SendResult::kBlocked) break;
        if (result == SendResult::kFailed) ++dropped;
        ++gone;
        bytes += frames.front().size();
        frames.pop_front();
      }
      if (dropped > 0) {
        log->warn("{}: dropped {} frame(s) for {}: {}", name, dropped, Describe(it->first), error);
      }
      if (gone > 0) left.emplace_back(it->first, gone, bytes, dropped);
      it = frames.empty() ? waiting.erase(it) : std::next(it);
    }
    if (!left.empty()) Account(left);
  }

  void DrainQueue() {
    uint64_t count;
    ssize_t ignored = read(flow->wake_fd, &count, sizeof(count));
    (void)ignored;
    std::deque<Outgoing> items;
    {
      std::lock_guard<std::mutex> lock(mutex);
      items.swap(queue);
    }
    for (auto& item : items) {
      if (item.kind == Outgoing::kConnect) {
        Status status = OpenDealer(item.target, item.frame, item.identity);
        if (!status.ok()) log->error("{}", status.message());
        continue;
      }
      waiting[PeerKey{item.to_router, item.target}].push_back(std::move(item.frame));
    }
    Flush();
  }

  void LogMalformed(const FrameOrigin& origin, size_t size, const std::string& error) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_malformed_log < std::chrono::seconds(1)) {
      ++malformed_unlogged;
      return;
    }
    std::string more = malformed_unlogged == 0
                           ? ""
                           : fmt::format(" ({} more since the last such line)", malformed_unlogged);
    log->warn("{}: dropped a malformed frame of {} bytes from {}: {}{}", name, size,
              Describe(PeerKey{origin.from_router, origin.id}), error, more);
    last_malformed_log = now;
    malformed_unlogged = 0;
  }

  // Hands one frame to the receiver with a ticket that counts it in flight.
  void Deliver(const FrameOrigin& origin, const std::string& frame) {
    ++frames_received;
    FrameTicket ticket(std::make_shared<FrameTicket::Hold>(flow));
    uint64_t now = flow->in_flight.load();
    if (now > in_flight_peak.load()) in_flight_peak = now;
    Status status = receiver(origin, frame, std::move(ticket));
    if (status.ok()) return;
    ++malformed_frames;
    LogMalformed(origin, frame.size(), status.message());
    if (!origin.from_router || !refusal) return;
    std::string reply = refusal(status.message());
    if (reply.empty()) return;
    Outgoing item;
    item.to_router = true;
    item.target = origin.id;
    item.frame = std::move(reply);
    Enqueue(std::move(item));
  }

  // Reads the messages waiting on `socket` while fewer than the bound are in flight.
  void DrainSocket(void* socket, bool is_router, const std::string& dealer_name) {
    while (flow->in_flight.load() < flow->max_in_flight) {
      std::vector<std::string> parts;
      bool more = true;
      while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
          zmq_msg_close(&msg);
          if (parts.empty()) return;  // EAGAIN: nothing more
          break;
        }
        parts.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
        more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
      }
      FrameOrigin origin;
      origin.from_router = is_router;
      size_t expected = is_router ? 2 : 1;
      if (parts.size() != expected) {
        log->warn("{}: dropped a message of {} parts from {}: expected one frame", name,
                  parts.size(),
                  is_router ? "peer '" + PrintablePeer(parts.empty() ? "" : parts[0]) + "'"
                            : "connection '" + dealer_name + "'");
        continue;
      }
      origin.id = is_router ? std::move(parts[0]) : dealer_name;
      Deliver(origin, parts.back());
    }
  }

  void DrainMonitor() {
    while (true) {
      zmq_msg_t msg;
      zmq_msg_init(&msg);
      if (zmq_msg_recv(&msg, monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
      }
      uint16_t event = 0;
      uint32_t value = 0;
      if (zmq_msg_size(&msg) >= 6) {
        std::memcpy(&event, zmq_msg_data(&msg), 2);
        std::memcpy(&value, static_cast<const char*>(zmq_msg_data(&msg)) + 2, 4);
      }
      bool more = zmq_msg_more(&msg);
      zmq_msg_close(&msg);
      std::string address;
      if (more) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, monitor, 0) >= 0) {
          address.assign(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
        }
        zmq_msg_close(&msg);
      }
      log->warn(
          "{}: a connection to {} was dropped ({}, code {}): the peer is not a Stoa "
          "process speaking ZeroMQ",
          name, address, MonitorEventName(event), value);
    }
  }

  void Run() {
    RunLoop();
    DrainQueue();  // what actors queued before Stop still goes out
    size_t left = 0;
    for (const auto& [key, frames] : waiting) left += frames.size();
    if (left > 0) {
      log->warn("{}: stopped with {} frames that peers were not reading; they are dropped", name,
                left);
    }
  }

  void RunLoop() {
    while (running.load()) {
      // At the bound, the sockets are left unread: their queues fill and push
      // back on the peers. A released ticket wakes us through the eventfd.
      bool can_read = flow->in_flight.load() < flow->max_in_flight;
      if (!can_read && !reading_paused) ++read_pauses;
      reading_paused = !can_read;

      std::vector<zmq_pollitem_t> items;
      std::vector<std::string> names;  // per socket item: the DEALER's name, "" for the ROUTER
      items.push_back({nullptr, flow->wake_fd, ZMQ_POLLIN, 0});
      if (monitor != nullptr) items.push_back({monitor, 0, ZMQ_POLLIN, 0});
      size_t first_socket = items.size();
      if (router != nullptr && can_read) {
        items.push_back({router, 0, ZMQ_POLLIN, 0});
        names.emplace_back();
      }
      // A DEALER with frames waiting is retried as soon as it is writable. A
      // ROUTER tells nothing about one peer's queue: its frames are retried
      // on a timer.
      bool router_frames_wait = false;
      for (const auto& [key, frames] : waiting)
        router_frames_wait = router_frames_wait || key.first;
      for (auto& [dealer_name, socket] : dealers) {
        short events = can_read ? ZMQ_POLLIN : 0;
        if (waiting.count(PeerKey{false, dealer_name}) > 0) events |= ZMQ_POLLOUT;
        if (events == 0) continue;
        items.push_back({socket, 0, events, 0});
        names.push_back(dealer_name);
      }
      int timeout = router_frames_wait ? kRetryMillis : -1;
      if (zmq_poll(items.data(), static_cast<int>(items.size()), timeout) < 0) {
        if (zmq_errno() == EINTR) continue;
        if (zmq_errno() == ETERM) return;
        log->error("poll failed: {}", zmq_strerror(zmq_errno()));
        continue;
      }
      if (monitor != nullptr) DrainMonitor();
      for (size_t i = first_socket; i < items.size(); ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        if (items[i].socket == router) {
          DrainSocket(router, true, "");
          continue;
        }
        auto it = dealers.find(names[i - first_socket]);
        if (it != dealers.end()) DrainSocket(it->second, false, it->first);
      }
      if (items[0].revents & ZMQ_POLLIN) {
        DrainQueue();
      } else if (!waiting.empty()) {
        Flush();
      }
    }
  }
};

ZmqEndpoint::ZmqEndpoint(std::string name, EndpointLimits limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  if (limits.max_in_flight == 0) limits.max_in_flight = 1;
  impl_->limits = limits;
  impl_->log = Logger("transport");
  impl_->flow = std::make_shared<TicketFlow>(limits.max_in_flight);
}

ZmqEndpoint::~ZmqEndpoint() {
  Stop();
  for (auto& [name, socket] : impl_->dealers) zmq_close(socket);
  if (impl_->router != nullptr) zmq_close(impl_->router);
  if (impl_->monitor != nullptr) zmq_close(impl_->monitor);
}

Status ZmqEndpoint::Bind(const std::string& address) {
  if (impl_->router == nullptr) {
    impl_->router = zmq_socket(ZmqContext(), ZMQ_ROUTER);
    SetCommonOptions(impl_->router, impl_->limits);
    // A frame for a peer that is gone fails the send and is logged with the
    // peer; one whose queue is full waits (see Flush) instead of vanishing.
    int mandatory = 1;
    zmq_setsockopt(impl_->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
    // Watch for peers that fail the handshake (garbage on the port).
    static std::atomic<int> monitor_counter{0};
    std::string monitor_address = "inproc://stoa-monitor-" + std::to_string(getpid()) + "-" +
                                  std::to_string(monitor_counter.fetch_add(1));
    zmq_socket_monitor(impl_->router, monitor_address.c_str(),
                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    impl_->monitor = zmq_socket(ZmqContext(), ZMQ_PAIR);
    zmq_connect(impl_->monitor, monitor_address.c_str());
  }
  if (zmq_bind(impl_->router, address.c_str()) != 0) {
    return Status::Error("cannot listen on '" + address + "': " + zmq_strerror(zmq_errno()));
  }
  char endpoint[512];
  size_t size = sizeof(endpoint);
  if (zmq_getsockopt(impl_->router, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0) {
    impl_->bound.emplace_back(endpoint);
  } else {
    impl_->bound.push_back(address);
  }
  return Status::Ok();
}

Status ZmqEndpoint::Connect(const std::string& name, const std::string& address,
                            const std::string& identity) {
  if (!impl_->started) return impl_->OpenDealer(name, address, identity);
  Impl::Outgoing item;
  item.kind = Impl::Outgoing::kConnect;
  item.target = name;
  item.frame = address;
  item.identity = identity;
  impl_->Enqueue(std::move(item));
  return Status::Ok();
}

void ZmqEndpoint::Start(Receiver receiver, Refusal refusal) {
  impl_->receiver = std::move(receiver);
  impl_->refusal = std::move(refusal);
  impl_->started = true;
  impl_->running = true;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void ZmqEndpoint::Stop() {
  if (!impl_->running.exchange(false)) return;
  impl_->flow->Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void ZmqEndpoint::SendToPeer(const std::string& peer, std::string frame) {
  Impl::Outgoing item;
  item.to_router = true;
  item.target = peer;
  item.frame = std::move(frame);
  impl_->Enqueue(std::move(item));
}

void ZmqEndpoint::SendOn(const std::string& name, std::string frame) {
  Impl::Outgoing item;
  item.target = name;
  item.frame = std::move(frame);
  impl_->Enqueue(std::move(item));
}

std::string ZmqEndpoint::BoundAddress() const {
  return impl_->bound.empty() ? std::string() : impl_->bound.front();
}

EndpointCounters ZmqEndpoint::counters() const {
  EndpointCounters c;
  c.frames_received = impl_->frames_received.load();
  c.malformed_frames = impl_->malformed_frames.load();
  c.frames_in_flight = impl_->flow->in_flight.load();
  c.frames_in_flight_peak = impl_->in_flight_peak.load();
  c.max_in_flight = impl_->flow->max_in_flight;
  c.read_pauses = impl_->read_pauses.load();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  c.frames_sent = impl_->frames_sent;
  c.frames_dropped = impl_->frames_dropped;
  c.frames_queued = impl_->frames_queued;
  c.bytes_queued = impl_->bytes_queued;
  return c;
}

}  // namespace stoa

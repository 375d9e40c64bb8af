#include "common/transport.hpp"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
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

namespace {

constexpr int64_t kMaxMessageBytes = 64 * 1024 * 1024;

void SetCommonOptions(void* socket) {
  // Frames queued when a socket closes still go out for a moment (we never
  // terminate the context, so nothing blocks on this).
  int linger = 1000;
  zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof(linger));
  int hwm = 200000;
  zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof(hwm));
  zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof(hwm));
  int64_t max_size = kMaxMessageBytes;
  zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size));
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
  std::string name;
  std::shared_ptr<spdlog::logger> log;
  void* router = nullptr;
  void* monitor = nullptr;
  std::vector<std::string> bound;
  std::map<std::string, void*> dealers;
  int wake_fd = -1;
  std::thread thread;
  std::atomic<bool> running{false};
  bool started = false;  // set once by Start: from then on only the I/O thread touches sockets
  Receiver receiver;

  struct Outgoing {
    enum Kind { kFrame, kConnect } kind = kFrame;
    bool to_router = false;
    std::string target;  // peer identity or dealer name
    std::string frame;   // frame, or address for kConnect
    std::string identity;
  };
  std::mutex mutex;
  std::deque<Outgoing> queue;

  void Enqueue(Outgoing item) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      queue.push_back(std::move(item));
    }
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd, &one, sizeof(one));
    (void)ignored;
  }

  Status OpenDealer(const std::string& dealer_name, const std::string& address,
                    const std::string& identity) {
    CloseDealer(dealer_name);
    void* socket = zmq_socket(ZmqContext(), ZMQ_DEALER);
    SetCommonOptions(socket);
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

  void SendFrame(void* socket, const std::string* identity, const std::string& frame) {
    if (identity != nullptr &&
        zmq_send(socket, identity->data(), identity->size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
      log->warn("cannot send to peer '{}': {}", *identity, zmq_strerror(zmq_errno()));
      return;
    }
    if (zmq_send(socket, frame.data(), frame.size(), ZMQ_DONTWAIT) < 0) {
      log->warn("dropped a {}-byte frame: {}", frame.size(), zmq_strerror(zmq_errno()));
    }
  }

  void DrainQueue() {
    uint64_t count;
    ssize_t ignored = read(wake_fd, &count, sizeof(count));
    (void)ignored;
    std::deque<Outgoing> items;
    {
      std::lock_guard<std::mutex> lock(mutex);
      items.swap(queue);
    }
    for (auto& item : items) {
      switch (item.kind) {
        case Outgoing::kConnect: {
          Status status = OpenDealer(item.target, item.frame, item.identity);
          if (!status.ok()) log->error("{}", status.message());
          break;
        }
        case Outgoing::kFrame:
          if (item.to_router) {
            if (router != nullptr) SendFrame(router, &item.target, item.frame);
          } else {
            auto it = dealers.find(item.target);
            if (it != dealers.end()) {
              SendFrame(it->second, nullptr, item.frame);
            } else {
              log->warn("no connection named '{}': frame dropped", item.target);
            }
          }
          break;
      }
    }
  }

  // Reads every message waiting on `socket`.
  void DrainSocket(void* socket, bool is_router, const std::string& dealer_name) {
    while (true) {
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
      if (is_router) {
        if (parts.size() != 2) {
          log->warn("dropped a message of {} parts from '{}': expected one frame", parts.size(),
                    parts.empty() ? "" : parts[0]);
          continue;
        }
        origin.id = std::move(parts[0]);
        receiver(origin, std::move(parts[1]));
      } else {
        if (parts.size() != 1) {
          log->warn("dropped a message of {} parts on '{}': expected one frame", parts.size(),
                    dealer_name);
          continue;
        }
        origin.id = dealer_name;
        receiver(origin, std::move(parts[0]));
      }
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
  }

  void RunLoop() {
    while (running.load()) {
      std::vector<zmq_pollitem_t> items;
      std::vector<std::string> names;
      items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
      if (router != nullptr) items.push_back({router, 0, ZMQ_POLLIN, 0});
      if (monitor != nullptr) items.push_back({monitor, 0, ZMQ_POLLIN, 0});
      size_t first_dealer = items.size();
      for (auto& [dealer_name, socket] : dealers) {
        items.push_back({socket, 0, ZMQ_POLLIN, 0});
        names.push_back(dealer_name);
      }
      if (zmq_poll(items.data(), static_cast<int>(items.size()), -1) < 0) {
        if (zmq_errno() == EINTR) continue;
        if (zmq_errno() == ETERM) return;
        log->error("poll failed: {}", zmq_strerror(zmq_errno()));
        continue;
      }
      if (router != nullptr) DrainSocket(router, true, "");
      if (monitor != nullptr) DrainMonitor();
      for (size_t i = first_dealer; i < items.size(); ++i) {
        if (items[i].revents & ZMQ_POLLIN) {
          auto it = dealers.find(names[i - first_dealer]);
          if (it != dealers.end()) DrainSocket(it->second, false, names[i - first_dealer]);
        }
      }
      if (items[0].revents & ZMQ_POLLIN) DrainQueue();
    }
  }
};

ZmqEndpoint::ZmqEndpoint(std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->log = Logger("transport");
  impl_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ZmqEndpoint::~ZmqEndpoint() {
  Stop();
  for (auto& [name, socket] : impl_->dealers) zmq_close(socket);
  if (impl_->router != nullptr) zmq_close(impl_->router);
  if (impl_->monitor != nullptr) zmq_close(impl_->monitor);
  if (impl_->wake_fd >= 0) close(impl_->wake_fd);
}

Status ZmqEndpoint::Bind(const std::string& address) {
  if (impl_->router == nullptr) {
    impl_->router = zmq_socket(ZmqContext(), ZMQ_ROUTER);
    SetCommonOptions(impl_->router);
    // A frame for a peer that is gone (or whose queue is full) fails the send
    // and is logged with the peer, instead of vanishing without a word.
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

void ZmqEndpoint::Start(Receiver receiver) {
  impl_->receiver = std::move(receiver);
  impl_->started = true;
  impl_->running = true;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void ZmqEndpoint::Stop() {
  if (!impl_->running.exchange(false)) return;
  uint64_t one = 1;
  ssize_t ignored = write(impl_->wake_fd, &one, sizeof(one));
  (void)ignored;
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

}  // namespace stoa

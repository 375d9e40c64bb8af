// ZmqEndpoint: the one place where ZeroMQ sockets are made and used.
//
// Each process has one endpoint. Its I/O thread owns every socket: a ROUTER
// bound to one or more addresses (peers reach us) and named DEALER
// connections (we reach a peer). Received frames go to the Receiver callback
// on the I/O thread, which hands them to an actor; actors send by queueing
// frames here (Send* are thread-safe and never block). ZeroMQ reconnects
// DEALERs by itself. A connection that fails the ZeroMQ handshake (e.g. random
// bytes on the port) is logged and dropped.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.hpp"

namespace stoa {

// The process-wide ZeroMQ context (inproc:// needs both ends in one context).
void* ZmqContext();

struct FrameOrigin {
  bool from_router = false;  // true: `id` is the peer's identity on our ROUTER
  std::string id;            // else: the name of our DEALER connection
};

class ZmqEndpoint {
 public:
  using Receiver = std::function<void(const FrameOrigin& origin, std::string frame)>;

  // `name` appears in log lines (e.g. "master").
  explicit ZmqEndpoint(std::string name);
  ~ZmqEndpoint();  // stops the I/O thread and closes every socket
  ZmqEndpoint(const ZmqEndpoint&) = delete;
  ZmqEndpoint& operator=(const ZmqEndpoint&) = delete;

  // Binds the ROUTER to `address` (tcp://IP:PORT, ipc://PATH, inproc://NAME).
  // REQUIRES: not started. An error says which address failed and why.
  Status Bind(const std::string& address);
  // Opens (or re-points) the DEALER named `name` to `address` with routing
  // identity `identity`. May be called before or after Start.
  Status Connect(const std::string& name, const std::string& address, const std::string& identity);

  // Starts the I/O thread. REQUIRES: called once.
  void Start(Receiver receiver);
  // Stops the I/O thread after sending what is queued.
  void Stop();

  // Queues `frame` for the peer with identity `peer` on the ROUTER.
  void SendToPeer(const std::string& peer, std::string frame);
  // Queues `frame` on the DEALER named `name`.
  void SendOn(const std::string& name, std::string frame);

  // The first address the ROUTER was bound to, with the real port for tcp://*:0.
  std::string BoundAddress() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa

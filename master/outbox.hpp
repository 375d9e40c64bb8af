// Outbox: where the master's messages to agents and schedulers go. The
// production one encodes them onto the ZeroMQ endpoint; tests record them.
#pragma once

#include <string>

#include "protocols/messages.hpp"

namespace stoa {
class ZmqEndpoint;
}

namespace stoa::master {

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Sends `message` to the peer with routing identity `peer`. Never blocks.
  virtual void Send(const std::string& peer, Message message) = 0;
};

// Encodes each message and queues it on `endpoint` (not owned; must outlive it).
class ZmqOutbox : public Outbox {
 public:
  explicit ZmqOutbox(ZmqEndpoint* endpoint) : endpoint_(endpoint) {}
  void Send(const std::string& peer, Message message) override;

 private:
  ZmqEndpoint* endpoint_;
};

}  // namespace stoa::master

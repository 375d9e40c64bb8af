// ZmqEndpoint: the one place where ZeroMQ sockets are made and used.
//
// Each process has one endpoint. Its I/O thread owns every socket: a ROUTER
// bound to one or more addresses (peers reach us) and named DEALER
// connections (we reach a peer). The I/O thread turns each received frame into
// a message with the caller's Receiver (which decodes it and hands it to an
// actor); a frame the Receiver refuses is counted and logged there, answered
// when it came from a ROUTER peer, and never reaches an actor. Actors send by
// queueing frames here (Send* are thread-safe and never block). ZeroMQ
// reconnects DEALERs by itself. A connection that fails the ZeroMQ handshake
// (e.g. random bytes on the port) is logged and dropped.
//
// Back-pressure, both ways:
// - In: every message handed on carries a FrameTicket. While `max_in_flight`
//   tickets are alive (handed on, not yet processed) the I/O thread reads no
//   socket, so ZeroMQ's queues fill and push back on the peers instead of this
//   process's memory growing.
// - Out: frames for one peer wait in that peer's queue while ZeroMQ's queue to
//   it is full. Once that peer's queue holds its bound (frames or bytes), new
//   frames for it are dropped and counted, with one log line when dropping
//   starts and one when the peer reads again: a peer that stops reading costs
//   a bounded amount of memory and never blocks the sender.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace stoa {

// The process-wide ZeroMQ context (inproc:// needs both ends in one context).
void* ZmqContext();

struct FrameOrigin {
  bool from_router = false;  // true: `id` is the peer's identity on our ROUTER
  std::string id;            // else: the name of our DEALER connection
};

// A peer identity fit for a log line: printable characters, the rest escaped,
// at most 24 characters (ZeroMQ's own identities are binary).
std::string PrintablePeer(const std::string& peer);

// Marks one received frame as in flight until the last copy of its ticket is
// destroyed: keep it with the message (e.g. in the actor message that carries
// it) and it is released once the message has been processed. A default
// ticket counts nothing (for messages that do not come from an endpoint).
class FrameTicket {
 public:
  FrameTicket() = default;

 private:
  friend class ZmqEndpoint;
  struct Hold;
  explicit FrameTicket(std::shared_ptr<Hold> hold) : hold_(std::move(hold)) {}
  std::shared_ptr<Hold> hold_;
};

struct EndpointLimits {
  // Messages handed on and not yet processed; at the bound the I/O thread
  // stops reading until tickets are released.
  size_t max_in_flight = 1024;
  // ZeroMQ's own queues, per peer, in messages.
  int receive_hwm = 1000;
  int send_hwm = 1000;
  // A peer that sends a larger message is disconnected by ZeroMQ; a larger
  // outgoing frame is dropped with a log line.
  int64_t max_message_bytes = 64 * 1024 * 1024;
  // Outgoing frames waiting for one peer while ZeroMQ's queue to it is full.
  size_t max_queued_frames_per_peer = 10000;
  size_t max_queued_bytes_per_peer = 64 * 1024 * 1024;
};

// What an endpoint has done, for metrics. Counts since start unless marked as
// a level ("now").
struct EndpointCounters {
  uint64_t frames_received = 0;        // frames read off the sockets
  uint64_t malformed_frames = 0;       // of those, refused by the Receiver
  uint64_t frames_in_flight = 0;       // now: handed on, tickets not yet released
  uint64_t frames_in_flight_peak = 0;  // the most ever in flight at once
  uint64_t max_in_flight = 0;          // the bound
  uint64_t read_pauses = 0;            // times reading stopped at the bound
  uint64_t frames_sent = 0;            // frames handed to ZeroMQ
  uint64_t frames_dropped = 0;  // outgoing frames dropped: peer's queue full, peer gone, too large
  uint64_t frames_queued = 0;   // now: outgoing frames waiting
  uint64_t bytes_queued = 0;    // now: their bytes
};

class ZmqEndpoint {
 public:
  // Called on the I/O thread with each frame. Returns an error when the frame
  // is malformed (it is then counted, logged and dropped); otherwise it has
  // handed the message on together with `ticket`.
  using Receiver =
      std::function<Status(const FrameOrigin& origin, std::string_view frame, FrameTicket ticket)>;
  // The reply to a ROUTER peer whose frame was refused with `error` (empty:
  // no reply).
  using Refusal = std::function<std::string(const std::string& error)>;

  // `name` appears in log lines (e.g. "master").
  explicit ZmqEndpoint(std::string name, EndpointLimits limits = {});
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
  void Start(Receiver receiver, Refusal refusal = {});
  // Stops the I/O thread after sending what is queued.
  void Stop();

  // Queues `frame` for the peer with identity `peer` on the ROUTER.
  void SendToPeer(const std::string& peer, std::string frame);
  // Queues `frame` on the DEALER named `name`.
  void SendOn(const std::string& name, std::string frame);

  // The first address the ROUTER was bound to, with the real port for tcp://*:0.
  std::string BoundAddress() const;
  // Thread-safe.
  EndpointCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Receiver that decodes each frame with `decode` (on the I/O thread) and
// hands the message and its ticket to `deliver`; a frame that does not decode
// is refused with the decoder's error.
template <typename Message, typename Deliver>
ZmqEndpoint::Receiver Decoding(Result<Message> (*decode)(std::string_view), Deliver deliver) {
  return [decode, deliver](const FrameOrigin& origin, std::string_view frame,
                           FrameTicket ticket) -> Status {
    Result<Message> message = decode(frame);
    if (!message.ok()) return message.status();
    deliver(origin, std::move(*message), std::move(ticket));
    return Status::Ok();
  };
}

}  // namespace stoa

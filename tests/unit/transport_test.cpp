// The ZeroMQ endpoint over real ipc:// sockets, with a real (slow) actor
// behind it: frames are decoded on the I/O thread, a malformed one never
// reaches the actor, a slow actor holds back reading (never more frames in
// flight than the bound) and still gets every frame once it catches up, and a
// peer that stops reading costs a bounded queue. Everything is checked through
// the endpoint's counters; waits are on conditions, never sleeps.
#include "common/transport.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "protocols/codec.hpp"
#include "tests/test_util.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::Message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::FrameTicket)

namespace stoa {
namespace {

using stoa::testing::TempDir;
using stoa::testing::WaitFor;
using recv_atom = caf::atom_constant<caf::atom("recv")>;

// Closed until the test opens it; the slow actor waits at it for each message.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// The payloads of the messages the actor processed, in order.
class Seen {
 public:
  void Add(std::string payload) {
    std::lock_guard<std::mutex> lock(mutex_);
    payloads_.push_back(std::move(payload));
  }
  std::vector<std::string> payloads() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return payloads_;
  }
  size_t size() const { return payloads().size(); }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> payloads_;
};

// An actor that processes each message only once the gate is open. Its
// mailbox holds the messages (and their tickets) meanwhile, as the master's does.
caf::behavior SlowActor(caf::event_based_actor*, std::shared_ptr<Gate> gate,
                        std::shared_ptr<Seen> seen) {
  return {
      [gate, seen](recv_atom, const std::string&, const Message& message, const FrameTicket&) {
        gate->Wait();
        const auto* payload = std::get_if<ProtocolError>(&message);
        seen->Add(payload != nullptr ? payload->message : "(another kind of message)");
      },
  };
}

// Frames of `bytes` bytes or more, numbered so that order can be checked.
std::string Numbered(int i, size_t bytes = 0) {
  return Encode(Message(ProtocolError{std::to_string(i) + " " + std::string(bytes, 'x')}));
}
int NumberOf(const std::string& payload) { return std::stoi(payload.substr(0, payload.find(' '))); }

class TransportTest : public ::testing::Test {
 protected:
  TransportTest() : system_(config_), gate_(std::make_shared<Gate>()) {
    address_ = "ipc://" + dir_.path() + "/endpoint.sock";
  }
  ~TransportTest() override {
    gate_->Open();
    if (actor_) caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
  }

  // Starts `endpoint` handing decoded messages to a new slow actor.
  void StartSlow(ZmqEndpoint& endpoint) {
    actor_ = system_.spawn<caf::detached>(SlowActor, gate_, seen_);
    caf::actor actor = actor_;
    endpoint.Start(
        Decoding(Decode,
                 [actor](const FrameOrigin& origin, Message message, FrameTicket ticket) {
                   caf::anon_send(actor, recv_atom::value, origin.id, std::move(message),
                                  std::move(ticket));
                 }),
        EncodeRefusal);
  }

  static ZmqEndpoint::Receiver Ignore() {
    return [](const FrameOrigin&, std::string_view, FrameTicket) { return Status::Ok(); };
  }

  TempDir dir_;
  std::string address_;
  caf::actor_system_config config_;
  caf::actor_system system_;  // before the endpoints: they stop first
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<Seen> seen_ = std::make_shared<Seen>();
  caf::actor actor_;
};

// The codec refuses what the transport lets through: the two limits agree
// (an agent's Register with every task it runs must fit both).
static_assert(EndpointLimits{}.max_message_bytes == static_cast<int64_t>(kMaxFrameBytes));

TEST_F(TransportTest, ASlowActorHoldsBackReadingAndGetsEveryFrameOnceItCatchesUp) {
  EndpointLimits limits;
  limits.max_in_flight = 32;
  limits.receive_hwm = 10;
  limits.send_hwm = 10;
  ZmqEndpoint receiver("receiver", limits);
  ASSERT_TRUE(receiver.Bind(address_).ok());
  StartSlow(receiver);

  EndpointLimits sender_limits = limits;
  sender_limits.max_queued_frames_per_peer = 100000;
  sender_limits.max_queued_bytes_per_peer = size_t{1} << 30;
  ZmqEndpoint sender("sender", sender_limits);
  ASSERT_TRUE(sender.Connect("receiver", address_, "flooder").ok());
  sender.Start(Ignore());
  // 16 MiB in all: more than ZeroMQ's queues and the socket buffers hold.
  constexpr int kFrames = 2000;
  for (int i = 0; i < kFrames; ++i) sender.SendOn("receiver", Numbered(i, 8192));

  // The actor is stuck on its first message: the receiver reads up to the
  // bound and no further.
  ASSERT_TRUE(WaitFor([&] { return receiver.counters().frames_in_flight == 32; }));
  EndpointCounters stuck = receiver.counters();
  EXPECT_EQ(stuck.frames_received, 32u) << "read beyond the bound while nothing was processed";
  EXPECT_GE(stuck.read_pauses, 1u);
  EXPECT_EQ(seen_->size(), 0u);
  // ZeroMQ pushed back: the sender could not hand everything over.
  EndpointCounters pushed_back = sender.counters();
  EXPECT_LT(pushed_back.frames_sent, static_cast<uint64_t>(kFrames));
  EXPECT_GT(pushed_back.frames_queued, 0u);

  gate_->Open();  // the actor catches up
  ASSERT_TRUE(WaitFor([&] { return seen_->size() == kFrames; }))
      << "delivered " << seen_->size() << " of " << kFrames;
  std::vector<std::string> payloads = seen_->payloads();
  for (int i = 0; i < kFrames; ++i) ASSERT_EQ(NumberOf(payloads[i]), i) << "out of order";
  ASSERT_TRUE(WaitFor([&] { return receiver.counters().frames_in_flight == 0; }));
  EndpointCounters done = receiver.counters();
  EXPECT_EQ(done.frames_received, static_cast<uint64_t>(kFrames));
  EXPECT_EQ(done.frames_in_flight_peak, 32u) << "more frames in flight than the bound";
  EXPECT_EQ(done.malformed_frames, 0u);
  EXPECT_EQ(sender.counters().frames_dropped, 0u);
  EXPECT_EQ(sender.counters().frames_queued, 0u);
}

TEST_F(TransportTest, AMalformedFrameIsCountedAndAnsweredOnTheIoThreadAndNeverReachesTheActor) {
  ZmqEndpoint receiver("receiver");
  ASSERT_TRUE(receiver.Bind(address_).ok());
  gate_->Open();
  StartSlow(receiver);

  std::mutex mutex;
  std::vector<std::string> replies;
  ZmqEndpoint rogue("rogue");
  ASSERT_TRUE(rogue.Connect("receiver", address_, "rogue").ok());
  rogue.Start([&](const FrameOrigin&, std::string_view frame, FrameTicket) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.emplace_back(frame);
    return Status::Ok();
  });
  rogue.SendOn("receiver", "this is not a capnp frame");
  rogue.SendOn("receiver", Numbered(7));

  // Frames on one connection are handled in order: by the time the valid
  // one reached the actor, the malformed one was counted.
  ASSERT_TRUE(WaitFor([&] { return seen_->size() == 1; }));
  EndpointCounters counters = receiver.counters();
  EXPECT_EQ(counters.frames_received, 2u);
  EXPECT_EQ(counters.malformed_frames, 1u);
  EXPECT_EQ(NumberOf(seen_->payloads()[0]), 7);

  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return !replies.empty();
  }));
  std::lock_guard<std::mutex> lock(mutex);
  Result<Message> reply = Decode(replies[0]);
  ASSERT_TRUE(reply.ok()) << reply.error();
  const auto* error = std::get_if<ProtocolError>(&*reply);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message.find("invalid frame"), std::string::npos) << error->message;
  EXPECT_EQ(seen_->size(), 1u) << "the malformed frame reached the actor";
}

TEST_F(TransportTest, APeerThatStopsReadingCostsABoundedQueueAndItsFramesAreDropped) {
  // The master's side: a ROUTER that sends to one peer.
  constexpr size_t kQueueBound = 50;
  EndpointLimits limits;
  limits.receive_hwm = 10;
  limits.send_hwm = 10;
  limits.max_queued_frames_per_peer = kQueueBound;
  ZmqEndpoint master("master", limits);
  ASSERT_TRUE(master.Bind(address_).ok());
  std::mutex mutex;
  std::string peer;
  master.Start([&](const FrameOrigin& origin, std::string_view, FrameTicket) {
    std::lock_guard<std::mutex> lock(mutex);
    peer = origin.id;
    return Status::Ok();
  });

  // The peer says hello (so the ROUTER knows it), then its actor stops reading.
  EndpointLimits peer_limits;
  peer_limits.max_in_flight = 4;
  peer_limits.receive_hwm = 10;
  peer_limits.send_hwm = 10;
  ZmqEndpoint slow("slow", peer_limits);
  ASSERT_TRUE(slow.Connect("master", address_, "slow-peer").ok());
  StartSlow(slow);
  slow.SendOn("master", Numbered(0));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return !peer.empty();
  }));

  constexpr int kFrames = 2000;  // 16 MiB: far more than the peer's queues take
  for (int i = 0; i < kFrames; ++i) master.SendToPeer(peer, Numbered(i, 8192));
  ASSERT_TRUE(WaitFor([&] { return master.counters().frames_dropped > 0; }));
  EndpointCounters blocked = master.counters();
  EXPECT_LE(blocked.frames_queued, kQueueBound) << "the queue for the peer grew past its bound";
  EXPECT_EQ(blocked.frames_sent + blocked.frames_dropped + blocked.frames_queued,
            static_cast<uint64_t>(kFrames));
  EXPECT_LE(slow.counters().frames_in_flight, 4u);

  gate_->Open();  // the peer reads again: what was not dropped arrives, in order
  ASSERT_TRUE(WaitFor([&] { return master.counters().frames_queued == 0; }));
  uint64_t sent = master.counters().frames_sent;
  uint64_t dropped = master.counters().frames_dropped;
  EXPECT_EQ(sent + dropped, static_cast<uint64_t>(kFrames));
  ASSERT_TRUE(WaitFor([&] { return seen_->size() == sent; }));
  std::vector<std::string> payloads = seen_->payloads();
  for (size_t i = 1; i < payloads.size(); ++i) {
    ASSERT_LT(NumberOf(payloads[i - 1]), NumberOf(payloads[i])) << "out of order";
  }
  // Sending to it works again once it reads.
  master.SendToPeer(peer, Numbered(kFrames));
  ASSERT_TRUE(WaitFor([&] { return seen_->size() == sent + 1; }));
  EXPECT_EQ(NumberOf(seen_->payloads().back()), kFrames);
}

}  // namespace
}  // namespace stoa

// The HTTP server's streamed responses, read by a real client over loopback:
// chunks arrive as they are written, a client that leaves ends its stream,
// Stop ends open streams instead of waiting for them, and the stream limit
// leaves the server answering ordinary requests; a port in use is refused.
#include "common/http_server.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "tests/test_util.hpp"

namespace stoa {
namespace {

using stoa::testing::WaitFor;

// What the server's streams and the test hand each other.
struct Exchange {
  std::mutex mutex;
  std::condition_variable changed;
  bool go_on = false;      // the test lets a stream write its next chunk
  bool stop_seen = false;  // a stream was woken by OnStop
  bool release = false;    // the test lets every stream return (after a failure)
  int streams_ended = 0;

  void Set(bool Exchange::*flag) {
    std::lock_guard<std::mutex> lock(mutex);
    this->*flag = true;
    changed.notify_all();
  }
  // Waits (bounded, so that a broken server fails the test rather than hangs it).
  bool Await(const std::function<bool()>& condition) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(30), condition);
  }
  void Ended() {
    std::lock_guard<std::mutex> lock(mutex);
    ++streams_ended;
    changed.notify_all();
  }
};

class HttpServerStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exchange_ = std::make_shared<Exchange>();
    auto exchange = exchange_;
    // Writes "one", then "two" when the test says so, and ends.
    server_.Route("GET", "/two", [exchange](const HttpRequest&) {
      HttpResponse response;
      response.content_type = "text/event-stream";
      response.stream = [exchange](HttpStreamWriter& writer) {
        writer.Write("one\n");
        bool told = exchange->Await([&] { return exchange->go_on; });
        writer.Write(told ? "two\n" : "the client never saw one\n");
        exchange->Ended();
      };
      return response;
    });
    // Writes "open", then waits for the server to stop.
    server_.Route("GET", "/forever", [exchange](const HttpRequest&) {
      HttpResponse response;
      response.content_type = "text/plain";  // compressible: must still come at once
      response.stream = [exchange](HttpStreamWriter& writer) {
        writer.OnStop([exchange] { exchange->Set(&Exchange::stop_seen); });
        writer.Write("open\n");
        exchange->Await([&] { return exchange->stop_seen || exchange->release; });
        exchange->Ended();
      };
      return response;
    });
    // Writes until a write fails (the client left).
    server_.Route("GET", "/until-gone", [exchange](const HttpRequest&) {
      HttpResponse response;
      response.stream = [exchange](HttpStreamWriter& writer) {
        while (writer.Write("tick\n")) {
          std::unique_lock<std::mutex> lock(exchange->mutex);
          exchange->changed.wait_for(lock, std::chrono::milliseconds(10));
        }
        exchange->Ended();
      };
      return response;
    });
    server_.Route("GET", "/plain", [](const HttpRequest& request) {
      HttpResponse response;
      response.content_type = "text/plain";
      response.body = request.header("x-probe") + " from " + request.remote_address;
      return response;
    });
    ASSERT_TRUE(server_.Start("127.0.0.1", 0).ok());
  }
  void TearDown() override {
    exchange_->Set(&Exchange::release);
    server_.Stop();
  }

  int StreamsEnded() {
    std::lock_guard<std::mutex> lock(exchange_->mutex);
    return exchange_->streams_ended;
  }

  std::shared_ptr<Exchange> exchange_;
  HttpServer server_;
};

TEST_F(HttpServerStreamTest, AClientReadsEachChunkAsItIsWritten) {
  std::string received;
  std::vector<std::string> chunks;
  auto reply = HttpGetStream("127.0.0.1", server_.port(), "/two", {{"Accept-Encoding", "gzip"}},
                             [&](const std::string& chunk) {
                               chunks.push_back(chunk);
                               received += chunk;
                               // "two" is written only once "one" has arrived.
                               if (received == "one\n") exchange_->Set(&Exchange::go_on);
                               return true;
                             });
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->headers["Content-Type"], "text/event-stream");
  EXPECT_EQ(reply->headers["Transfer-Encoding"], "chunked");
  EXPECT_EQ(received, "one\ntwo\n");
  EXPECT_EQ(chunks, (std::vector<std::string>{"one\n", "two\n"}));
  EXPECT_EQ(StreamsEnded(), 1);
}

TEST_F(HttpServerStreamTest, StopEndsAnOpenStreamAndReturns) {
  std::promise<void> opened;
  std::string received;
  auto reader = std::async(std::launch::async, [&] {
    return HttpGetStream("127.0.0.1", server_.port(), "/forever", {{"Accept-Encoding", "gzip"}},
                         [&](const std::string& chunk) {
                           received += chunk;
                           if (received == "open\n") opened.set_value();
                           return true;
                         });
  });
  // The chunk came uncompressed and at once, though the client accepts gzip.
  ASSERT_EQ(opened.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto stopping = std::async(std::launch::async, [&] { server_.Stop(); });
  bool stopped = stopping.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  exchange_->Set(&Exchange::release);  // lets a stream that was not woken end, if so
  ASSERT_TRUE(stopped) << "Stop waited for the open stream";
  EXPECT_TRUE(exchange_->stop_seen);
  auto reply = reader.get();
  ASSERT_TRUE(reply.ok()) << reply.error();  // the body ended properly
  EXPECT_EQ(received, "open\n");
  EXPECT_EQ(StreamsEnded(), 1);
}

TEST_F(HttpServerStreamTest, AStreamEndsWhenItsClientLeaves) {
  int chunks = 0;
  auto reply = HttpGetStream("127.0.0.1", server_.port(), "/until-gone", {},
                             [&](const std::string&) { return ++chunks < 3; });
  ASSERT_TRUE(reply.ok()) << reply.error();  // stopping early is not an error
  EXPECT_EQ(reply->status, 200);
  EXPECT_TRUE(WaitFor([&] { return StreamsEnded() == 1; }));
}

TEST_F(HttpServerStreamTest, RefusesStreamsBeyondTheLimitAndKeepsServingRequests) {
  std::vector<std::future<Result<HttpReply>>> readers;
  std::atomic<size_t> opened{0};
  for (size_t i = 0; i < kMaxHttpStreams; ++i) {
    readers.push_back(std::async(std::launch::async, [&] {
      return HttpGetStream("127.0.0.1", server_.port(), "/forever", {}, [&](const std::string&) {
        ++opened;
        return true;
      });
    }));
  }
  ASSERT_TRUE(WaitFor([&] { return opened == kMaxHttpStreams; }));
  auto refused = HttpCall("GET", "127.0.0.1", server_.port(), "/forever");
  ASSERT_TRUE(refused.ok()) << refused.error();
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("too many open streams"), std::string::npos) << refused->body;
  // Ordinary requests still find a thread, with their headers and the client's address.
  std::string body;
  auto plain = HttpGetStream("127.0.0.1", server_.port(), "/plain", {{"X-Probe", "hello"}},
                             [&](const std::string& chunk) {
                               body += chunk;
                               return true;
                             });
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(body, "hello from 127.0.0.1");
  server_.Stop();
  for (auto& reader : readers) EXPECT_TRUE(reader.get().ok());
  EXPECT_EQ(StreamsEnded(), static_cast<int>(kMaxHttpStreams));
}

TEST(HttpServerTest, APortInUseIsRefusedNotShared) {
  HttpServer first;
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  HttpServer second;
  Status taken = second.Start("127.0.0.1", first.port());
  EXPECT_FALSE(taken.ok());
  EXPECT_NE(taken.message().find(std::to_string(first.port())), std::string::npos)
      << taken.message();
}

}  // namespace
}  // namespace stoa

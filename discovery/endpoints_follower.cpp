#include "discovery/endpoints_follower.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/http_address.hpp"
#include "common/logging.hpp"

namespace stoa::discovery {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

Result<FollowerOptions> ParseServiceUrl(const std::string& url) {
  auto address = ParseHttpAddress(url, 8080);
  if (!address.ok()) return address.status();
  FollowerOptions options;
  options.host = address->host;
  options.port = address->port;
  return options;
}

struct EndpointsFollower::Impl {
  FollowerOptions options;
  Callback callback;
  std::mutex mutex;
  std::condition_variable changed;
  bool stopping = false;
  bool dirty = true;  // fetch at once
  std::atomic<uint64_t> fetches{0}, failures{0};
  std::atomic<bool> streaming{false};
  httplib::Client* stream_client = nullptr;  // under mutex, for Stop
  std::thread stream_thread, fetch_thread;
  std::string last;  // the last apps given to the callback, dumped

  void Poke() {
    std::lock_guard<std::mutex> lock(mutex);
    dirty = true;
    changed.notify_all();
  }

  // Waits `seconds`, or less when stopping; false when stopping.
  bool Sleep(double seconds) {
    std::unique_lock<std::mutex> lock(mutex);
    return !changed.wait_for(lock, std::chrono::duration<double>(seconds),
                             [&] { return stopping; });
  }

  void Stream() {
    while (true) {
      httplib::Client client(options.host, options.port);
      client.set_connection_timeout(5);
      client.set_read_timeout(30);  // the service sends a keep-alive every 10 s
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (stopping) return;
        stream_client = &client;
      }
      httplib::Headers headers = {{"Accept", "text/event-stream"}};
      client.Get(
          "/v2/events?plan-format=light", headers,
          [&](const httplib::Response& response) {
            if (response.status != 200) return false;
            streaming = true;
            Poke();  // what changed while we were not listening
            return true;
          },
          [&](const char* data, size_t size) {
            // Any event (not the keep-alive comments) may move an endpoint.
            if (std::string_view(data, size).find("event:") != std::string_view::npos) Poke();
            std::lock_guard<std::mutex> lock(mutex);
            return !stopping;
          });
      streaming = false;
      {
        std::lock_guard<std::mutex> lock(mutex);
        stream_client = nullptr;
        if (stopping) return;
      }
      if (!Sleep(options.retry_seconds)) return;
    }
  }

  void Fetch() {
    auto next_resync = Clock::now();
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait_until(lock, next_resync, [&] { return stopping || dirty; });
        if (stopping) return;
        dirty = false;
      }
      if (!Sleep(options.debounce_seconds)) return;  // one fetch for a burst of events
      {
        std::lock_guard<std::mutex> lock(mutex);
        dirty = false;
      }
      httplib::Client client(options.host, options.port);
      client.set_connection_timeout(5);
      client.set_read_timeout(10);
      auto response = client.Get("/v2/endpoints");
      json body = response && response->status == 200 ? json::parse(response->body, nullptr, false)
                                                      : json();
      if (!body.is_object() || !body.contains("apps") || !body["apps"].is_array()) {
        if (failures++ % 30 == 0) {
          Logger("discovery")
              ->warn("cannot read the endpoints at http://{}:{}/v2/endpoints ({}); retrying",
                     options.host, options.port,
                     response ? "status " + std::to_string(response->status)
                              : httplib::to_string(response.error()));
        }
        next_resync = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(options.retry_seconds));
        continue;
      }
      fetches++;
      auto after = [](double seconds) {
        return Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
      };
      next_resync = after(options.resync_seconds);
      if (body.value("settling", false) && !last.empty()) {
        next_resync = after(options.retry_seconds);  // keep what we have until it knows
        continue;
      }
      std::string dumped = body["apps"].dump();
      if (dumped == last) continue;
      bool applied = false;
      try {
        applied = callback(body["apps"]);
      } catch (const std::exception& e) {
        Logger("discovery")->error("the endpoints could not be applied: {}", e.what());
      }
      if (applied) {
        last = std::move(dumped);
      } else {
        next_resync = after(options.retry_seconds);
      }
    }
  }
};

EndpointsFollower::EndpointsFollower(FollowerOptions options, Callback callback) : impl_(new Impl) {
  impl_->options = std::move(options);
  impl_->callback = std::move(callback);
}

void EndpointsFollower::Start() {
  impl_->stream_thread = std::thread([impl = impl_.get()] { impl->Stream(); });
  impl_->fetch_thread = std::thread([impl = impl_.get()] { impl->Fetch(); });
}

EndpointsFollower::~EndpointsFollower() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
    if (impl_->stream_client) impl_->stream_client->stop();
    impl_->changed.notify_all();
  }
  if (impl_->stream_thread.joinable()) impl_->stream_thread.join();
  if (impl_->fetch_thread.joinable()) impl_->fetch_thread.join();
}

std::string EndpointsFollower::Metrics(const std::string& prefix) const {
  return fmt::format(
      "# HELP {0}_endpoint_fetches_total Reads of the service's /v2/endpoints.\n"
      "# TYPE {0}_endpoint_fetches_total counter\n"
      "{0}_endpoint_fetches_total{{result=\"ok\"}} {1}\n"
      "{0}_endpoint_fetches_total{{result=\"failed\"}} {2}\n"
      "# HELP {0}_event_stream_open Whether the service's /v2/events stream is open.\n"
      "# TYPE {0}_event_stream_open gauge\n"
      "{0}_event_stream_open {3}\n",
      prefix, impl_->fetches.load(), impl_->failures.load(), impl_->streaming ? 1 : 0);
}

}  // namespace stoa::discovery

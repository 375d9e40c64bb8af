// Follows the service framework's endpoints (GET /v2/endpoints) for `stoa dns`
// and `stoa lb`: fetched at start, again within `debounce` of any event on
// its /v2/events stream, and every `resync` seconds whatever happens (a lost
// event costs at most that long). The callback runs on the follower's own
// thread with the "apps" array when it differs from the last one applied; it
// returns whether it applied it (if not, the same apps come again after
// `retry`). While the service says it is settling (its tasks' health not
// yet known after a restart or failover), the last apps applied stay.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/status.hpp"

namespace stoa::discovery {

struct FollowerOptions {
  std::string host = "127.0.0.1";  // the service framework's HTTP API
  int port = 8080;
  double debounce_seconds = 0.05;
  double resync_seconds = 30;
  double retry_seconds = 1;  // after a failed fetch or a broken stream
};

// "http://HOST:PORT", "HOST:PORT" or "HOST" (port 8080).
Result<FollowerOptions> ParseServiceUrl(const std::string& url);

class EndpointsFollower {
 public:
  using Callback = std::function<bool(const nlohmann::json& apps)>;
  EndpointsFollower(FollowerOptions options, Callback callback);
  ~EndpointsFollower();  // stops both threads
  EndpointsFollower(const EndpointsFollower&) = delete;
  EndpointsFollower& operator=(const EndpointsFollower&) = delete;

  void Start();
  // /metrics lines, with `prefix` (e.g. "stoa_dns"): the fetches that
  // succeeded and failed, and whether the event stream is open.
  std::string Metrics(const std::string& prefix) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::discovery

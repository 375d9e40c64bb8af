// Who answers the API when several service instances run on ZooKeeper, as
// Marathon's leader proxy does: the leader serves every request itself (and
// says so in X-Marathon-Leader); a standby passes each request on to the
// leader with its method, target, headers and body, and hands back the
// leader's status, headers and body; while nobody leads it answers 503.
// GET /ping, /v2/leader and /v2/info are always answered by the instance asked.
#pragma once

#include <mutex>
#include <string>

#include "common/http_server.hpp"

namespace stoa::service {

class LeaderGate {
 public:
  explicit LeaderGate(ForwardTimeouts timeouts = {}) : timeouts_(timeouts) {}

  // HOST:PORT this instance publishes as its API's address.
  void SetSelf(const std::string& self);
  // Whether this instance leads (it has won the election and taken over).
  void SetLeading(bool leading);
  // HOST:PORT of the leader, as the election says (empty: nobody).
  void SetLeader(const std::string& leader);

  bool leading() const;
  // HOST:PORT of the leader (this instance's own while it leads); empty: nobody.
  std::string leader() const;

  // An HttpServer filter: `route` runs here when this instance leads or the
  // request is one every instance answers; otherwise the leader answers.
  HttpResponse Handle(const HttpRequest& request, const HttpServer::Handler& route) const;

 private:
  HttpResponse Forward(const HttpRequest& request, const std::string& leader,
                       const std::string& self) const;

  ForwardTimeouts timeouts_;
  mutable std::mutex mutex_;
  std::string self_;
  std::string leader_;
  bool leading_ = false;
};

}  // namespace stoa::service

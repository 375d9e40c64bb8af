// Who answers a framework's API when several instances run on ZooKeeper, as
// Marathon's and Metronome's leader proxies do: the leader serves every
// request itself (and names itself in the leader header); a standby passes
// each request on to the leader with its method, target, headers and body,
// and hands back the leader's status, headers and body; while nobody leads it
// answers 503. The paths every instance answers itself, and the header names,
// are the framework's (LeaderGateOptions).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/http_server.hpp"

namespace stoa::sdk {

// What differs between frameworks' leader proxies.
struct LeaderGateOptions {
  // On every answer of the leader (passed back through standbys unchanged):
  // `leader_prefix` + its HOST:PORT.
  std::string leader_header;
  std::string leader_prefix;
  // The instances a request passed through, each `via_prefix` + HOST:PORT,
  // joined by commas: on the requests passed on (a request that comes back to
  // an instance it passed is refused: a loop) and on their answers.
  std::string via_header;
  std::string via_prefix;
  // GET paths (without a trailing slash) every instance answers itself.
  std::vector<std::string> local_paths;
  // Path prefixes of streams, which stay open: a standby redirects them (302).
  std::vector<std::string> redirected_prefixes;
  ForwardTimeouts timeouts;
  std::string component = "framework";  // its logger's
};

class LeaderGate {
 public:
  explicit LeaderGate(LeaderGateOptions options) : options_(std::move(options)) {}

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
  // Makes `server` pass every request through Handle. REQUIRES: before the
  // server starts; the gate outlives it.
  void Guard(HttpServer& server) const;

 private:
  bool AnsweredLocally(const HttpRequest& request) const;
  bool Redirected(const HttpRequest& request) const;
  HttpResponse Forward(const HttpRequest& request, const std::string& leader,
                       const std::string& self) const;

  const LeaderGateOptions options_;
  mutable std::mutex mutex_;
  std::string self_;
  std::string leader_;
  bool leading_ = false;
};

}  // namespace stoa::sdk

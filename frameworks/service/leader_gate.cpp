#include "frameworks/service/leader_gate.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/logging.hpp"
#include "frameworks/service/api_util.hpp"

namespace stoa::service {
namespace {

// Marathon's names: the instances a request passed through (to find loops),
// the client it came from, and the leader that answered.
constexpr char kVia[] = "X-Marathon-Via";
constexpr char kForwardedFor[] = "X-Forwarded-For";
constexpr char kLeaderHeader[] = "X-Marathon-Leader";

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Headers that describe one hop (the connection, the length of this body's
// encoding) rather than the request: the forwarding client sets its own.
// Accept-Encoding too: the leader answers plainly and this server encodes.
bool HopByHop(const std::string& name) {
  static const std::set<std::string> hop = {"connection",        "keep-alive", "proxy-connection",
                                            "transfer-encoding", "te",         "trailer",
                                            "upgrade",           "host",       "content-length",
                                            "accept-encoding",   "via",        "x-forwarded-for"};
  return hop.count(Lower(name)) > 0;
}

// Requests every instance answers itself, leader or not.
bool AnsweredLocally(const HttpRequest& request) {
  if (request.method != "GET") return false;
  std::string path = request.path;
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return path == "/ping" || path == "/v2/leader" || path == "/v2/info";
}

std::string HeaderValues(const std::map<std::string, std::string>& headers,
                         const std::string& name) {
  std::string joined;
  for (const auto& [key, value] : headers) {
    if (Lower(key) != Lower(name)) continue;
    joined += (joined.empty() ? "" : ",") + value;
  }
  return joined;
}

}  // namespace

void LeaderGate::SetSelf(const std::string& self) {
  std::lock_guard<std::mutex> lock(mutex_);
  self_ = self;
}

void LeaderGate::SetLeading(bool leading) {
  std::lock_guard<std::mutex> lock(mutex_);
  leading_ = leading;
}

void LeaderGate::SetLeader(const std::string& leader) {
  std::lock_guard<std::mutex> lock(mutex_);
  leader_ = leader;
}

bool LeaderGate::leading() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return leading_;
}

std::string LeaderGate::leader() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return leading_ ? self_ : leader_;
}

HttpResponse LeaderGate::Handle(const HttpRequest& request,
                                const HttpServer::Handler& route) const {
  std::string self, leader;
  bool leading;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    self = self_;
    leader = leader_;
    leading = leading_;
  }
  if (leading) {
    HttpResponse response = route(request);
    response.headers[kLeaderHeader] = "http://" + self;
    return response;
  }
  if (AnsweredLocally(request)) return route(request);
  // Our own znode may lead already while we are still taking over: nobody
  // serves until we have.
  if (leader.empty() || leader == self) {
    return MessageResponse(503,
                           "no service instance leads right now (an election or a "
                           "takeover is under way); try again shortly");
  }
  if (request.path.rfind("/v2/events", 0) == 0) {
    // An event stream stays open: the client goes to the leader itself.
    HttpResponse response = MessageResponse(302, "the leader serves the event stream");
    response.headers["Location"] = "http://" + leader + request.target;
    return response;
  }
  return Forward(request, leader, self);
}

HttpResponse LeaderGate::Forward(const HttpRequest& request, const std::string& leader,
                                 const std::string& self) const {
  const std::string via = "1.1 " + self;
  std::string seen = HeaderValues(request.headers, kVia);
  if (seen.find(via) != std::string::npos) {
    return MessageResponse(502, "the request came back to " + self +
                                    " on its way to the leader: the instances disagree on who "
                                    "leads; try again shortly");
  }
  std::multimap<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    if (!HopByHop(name) && Lower(name) != Lower(kVia)) headers.emplace(name, value);
  }
  headers.emplace(kVia, seen.empty() ? via : seen + "," + via);
  std::string forwarded_for = HeaderValues(request.headers, kForwardedFor);
  if (!request.remote_address.empty()) {
    forwarded_for += (forwarded_for.empty() ? "" : ",") + request.remote_address;
  }
  if (!forwarded_for.empty()) headers.emplace(kForwardedFor, forwarded_for);

  auto colon = leader.rfind(':');
  int port = colon == std::string::npos ? 0 : std::atoi(leader.c_str() + colon + 1);
  if (port <= 0) {
    return MessageResponse(502, "the leader published a malformed address '" + leader + "'");
  }
  auto reply = HttpForward(leader.substr(0, colon), port, request, headers, timeouts_);
  if (!reply.ok()) {
    Logger("service")->warn("proxying {} {} to the leader at {} failed: {}", request.method,
                            request.target, leader, reply.error());
    return MessageResponse(502, "cannot reach the leader at " + leader + ": " + reply.error());
  }
  HttpResponse response;
  response.status = reply->status;
  response.body = std::move(reply->body);
  for (auto& [name, value] : reply->headers) {
    if (Lower(name) == "content-type") {
      response.content_type = value;
    } else {
      response.headers[name] = value;
    }
  }
  response.headers[kVia] = via;
  return response;
}

}  // namespace stoa::service

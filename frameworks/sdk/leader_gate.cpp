#include "frameworks/sdk/leader_gate.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "common/logging.hpp"
#include "frameworks/sdk/http_json.hpp"

namespace stoa::sdk {
namespace {

// The client a request came from, as every proxy names it.
constexpr char kForwardedFor[] = "X-Forwarded-For";

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

std::string HeaderValues(const std::map<std::string, std::string>& headers,
                         const std::string& name) {
  std::string joined;
  for (const auto& [key, value] : headers) {
    if (Lower(key) != Lower(name)) continue;
    joined += (joined.empty() ? "" : ",") + value;
  }
  return joined;
}

// Whether `hop` is one of the comma-separated entries of `list` (a Via list).
bool Listed(const std::string& list, const std::string& hop) {
  std::istringstream entries(list);
  for (std::string entry; std::getline(entries, entry, ',');) {
    size_t first = entry.find_first_not_of(' ');
    size_t last = entry.find_last_not_of(' ');
    if (first != std::string::npos && entry.substr(first, last - first + 1) == hop) return true;
  }
  return false;
}

}  // namespace

bool LeaderGate::AnsweredLocally(const HttpRequest& request) const {
  if (request.method != "GET") return false;
  std::string path = request.path;
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return std::find(options_.local_paths.begin(), options_.local_paths.end(), path) !=
         options_.local_paths.end();
}

bool LeaderGate::Redirected(const HttpRequest& request) const {
  return std::any_of(options_.redirected_prefixes.begin(), options_.redirected_prefixes.end(),
                     [&](const std::string& prefix) { return request.path.rfind(prefix, 0) == 0; });
}

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
    response.headers[options_.leader_header] = options_.leader_prefix + self;
    return response;
  }
  if (AnsweredLocally(request)) return route(request);
  // Our own znode may lead already while we are still taking over: nobody
  // serves until we have.
  if (leader.empty() || leader == self) {
    return MessageResponse(503,
                           "no instance leads right now (an election or a takeover is under "
                           "way); try again shortly");
  }
  if (Redirected(request)) {
    // A stream stays open: the client goes to the leader itself.
    HttpResponse response = MessageResponse(302, "the leader serves this stream");
    response.headers["Location"] = "http://" + leader + request.target;
    return response;
  }
  return Forward(request, leader, self);
}

void LeaderGate::Guard(HttpServer& server) const {
  server.SetFilter([this](const HttpRequest& request, const HttpServer::Handler& route) {
    return Handle(request, route);
  });
}

HttpResponse LeaderGate::Forward(const HttpRequest& request, const std::string& leader,
                                 const std::string& self) const {
  const std::string& via_header = options_.via_header;
  const std::string via = options_.via_prefix + self;
  std::string seen = HeaderValues(request.headers, via_header);
  if (Listed(seen, via)) {
    return MessageResponse(502, "the request came back to " + self +
                                    " on its way to the leader: the instances disagree on who "
                                    "leads; try again shortly");
  }
  std::multimap<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    if (!HopByHop(name) && Lower(name) != Lower(via_header)) headers.emplace(name, value);
  }
  headers.emplace(via_header, seen.empty() ? via : seen + "," + via);
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
  auto reply = HttpForward(leader.substr(0, colon), port, request, headers, options_.timeouts);
  if (!reply.ok()) {
    Logger(options_.component)
        ->warn("proxying {} {} to the leader at {} failed: {}", request.method, request.target,
               leader, reply.error());
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
  response.headers[via_header] = via;
  return response;
}

}  // namespace stoa::sdk

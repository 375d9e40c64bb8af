// A small HTTP server for the operator APIs (master and agent). Handlers run on
// the server's own threads, never on an actor's: they read snapshots that
// actors hand them and never touch actor state directly.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace stoa {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string target;  // the path and query string as sent
  // The request's headers as sent, without those the server adds itself.
  std::multimap<std::string, std::string> headers;
  std::string remote_addr;                    // the client's IP address
  std::map<std::string, std::string> params;  // query string (the first value of each name)
  // Every name=value of the query string in order, repeated names included
  // (?embed=a&embed=b).
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> matches;  // the route pattern's capture groups
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

HttpResponse JsonError(int status, const std::string& message);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer();
  ~HttpServer();  // stops serving
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers `handler` for GET (or POST, PUT, PATCH, DELETE) on the paths that
  // `path`, a regular expression, matches as a whole ("/state", "/v2/apps/(.+)").
  // Routes of one method are tried in the order they were registered.
  void Route(const std::string& method, const std::string& path, Handler handler);
  // Called for every answer, routed or not (404s included), with the
  // request's method and its status, on the server's threads before the
  // answer is sent; for metrics. One observer; set it before Start.
  void OnResponse(std::function<void(const std::string& method, int status)> observer);
  // Runs around every route's handler, once the body is read: it may answer
  // itself or call `route` (the matched handler). A path no route matches is
  // answered 404 without it. REQUIRES: called before Start.
  using Filter = std::function<HttpResponse(const HttpRequest& request, const Handler& route)>;
  void SetFilter(Filter filter);
  // Binds ip:port (port 0 picks a free one) and serves on a background thread.
  Status Start(const std::string& ip, int port);
  void Stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A blocking GET for tests and the CLI: the body, or an error naming the URL.
Result<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                            int* status_code = nullptr);
// The same for a POST with an empty body.
Result<std::string> HttpPost(const std::string& host, int port, const std::string& path,
                             int* status_code = nullptr);

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};
// A blocking request with any method and a JSON body (empty: none), for tests
// and the CLI; an error only when no answer came.
Result<HttpReply> HttpCall(const std::string& method, const std::string& host, int port,
                           const std::string& path, const std::string& body = "",
                           const std::multimap<std::string, std::string>& headers = {});

// Sends `request` (its method, target and body) to host:port with exactly
// `headers` (the caller chooses what to pass on; the length is set from the
// body) and waits for the answer, for a proxy. An error only when no answer came
// in time. The reply's body is decoded, without the headers that described the
// wire (Content-Encoding, Content-Length, Transfer-Encoding, Connection); it
// keeps the first value of each other header name.
struct ForwardTimeouts {
  double connect_seconds = 5;
  double read_seconds = 10;
};
Result<HttpReply> HttpForward(const std::string& host, int port, const HttpRequest& request,
                              const std::multimap<std::string, std::string>& headers,
                              const ForwardTimeouts& timeouts);

}  // namespace stoa

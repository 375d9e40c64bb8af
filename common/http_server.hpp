// A small HTTP server for the operator APIs (master and agent). Handlers run on
// the server's own threads, never on an actor's: they read snapshots that
// actors hand them and never touch actor state directly.
#pragma once

#include <cstddef>
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
  std::string target;                         // the path and query string as sent
  std::map<std::string, std::string> params;  // query string (the first value of each name)
  // Every name=value of the query string in order, repeated names included
  // (?embed=a&embed=b).
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> matches;  // the route pattern's capture groups
  std::string body;
  // Header names in lower case; a repeated header's values joined with ", ".
  std::map<std::string, std::string> headers;
  std::string remote_address;  // the client's IP address

  // The value of header `name` (any case); empty when absent.
  std::string header(const std::string& name) const;
};

// Each open stream holds one of the server's threads for as long as it runs
// (cpp-httplib serves a connection on one thread; issue #19 moves the HTTP
// layer to an event loop). The pool leaves room for the ordinary requests
// beside the most streams the server accepts; a stream beyond those gets 503.
inline constexpr size_t kHttpServerThreads = 16;
inline constexpr size_t kMaxHttpStreams = 8;

// What a streamed response's body is pushed through (see HttpResponse::stream).
class HttpStreamWriter {
 public:
  virtual ~HttpStreamWriter() = default;
  // Sends `chunk` to the client at once. False when the client has gone or the
  // server is stopping: the stream should then return.
  virtual bool Write(const std::string& chunk) = 0;
  // False once a write failed or the server is stopping.
  virtual bool open() const = 0;
  // `wake` is called (on another thread, at most once) when the server stops,
  // so that a stream waiting for something else returns; at once when the
  // server is already stopping. A later call replaces it; null clears it.
  // `wake` may run after the stream returned: it must own what it touches.
  virtual void OnStop(std::function<void()> wake) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  // When set, the body is streamed instead (chunked, never compressed): the
  // function runs on one of the server's threads, pushes chunks through the
  // writer and returns when it is done, the client has gone or the server
  // stops. At most kMaxHttpStreams run at once; beyond them the answer is 503.
  std::function<void(HttpStreamWriter&)> stream;
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
  // Stops serving: open streams are told to end (HttpStreamWriter::OnStop) and
  // the call returns once every request in progress has.
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

// A GET whose body is read as it arrives (an event stream): `on_chunk` gets
// each piece and returns false to stop reading. The reply has the status and
// headers, not the body. An error when no answer came, or when the connection
// broke or stayed silent for `read_timeout_seconds` before the body ended.
Result<HttpReply> HttpGetStream(const std::string& host, int port, const std::string& path,
                                const std::map<std::string, std::string>& headers,
                                const std::function<bool(const std::string& chunk)>& on_chunk,
                                double read_timeout_seconds = 30);

}  // namespace stoa

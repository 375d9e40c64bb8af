// A small HTTP server for the operator APIs (master and agent). Handlers run on
// the server's own threads, never on an actor's: they read snapshots that
// actors hand them and never touch actor state directly.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.hpp"

namespace stoa {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  // query string
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

  // Registers `handler` for GET (or POST, ...) on exactly `path`.
  void Route(const std::string& method, const std::string& path, Handler handler);
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

}  // namespace stoa

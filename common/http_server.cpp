#include "common/http_server.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace stoa {

HttpResponse JsonError(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump();
  return response;
}

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  impl_->server.set_payload_max_length(16 * 1024 * 1024);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(const std::string& method, const std::string& path, Handler handler) {
  auto adapter = [handler = std::move(handler)](const httplib::Request& req,
                                                httplib::Response& res) {
    HttpRequest request;
    request.method = req.method;
    request.path = req.path;
    request.body = req.body;
    for (const auto& [key, value] : req.params) request.params[key] = value;
    HttpResponse response;
    try {
      response = handler(request);
    } catch (const std::exception& e) {
      response = JsonError(500, std::string("internal error: ") + e.what());
    }
    res.status = response.status;
    for (const auto& [key, value] : response.headers) res.set_header(key, value);
    res.set_content(response.body, response.content_type);
  };
  if (method == "GET") {
    impl_->server.Get(path, adapter);
  } else if (method == "POST") {
    impl_->server.Post(path, adapter);
  } else if (method == "DELETE") {
    impl_->server.Delete(path, adapter);
  } else if (method == "PUT") {
    impl_->server.Put(path, adapter);
  }
}

Status HttpServer::Start(const std::string& ip, int port) {
  if (port == 0) {
    impl_->port = impl_->server.bind_to_any_port(ip);
    if (impl_->port <= 0) return Status::Error("cannot listen for HTTP on " + ip + ": no port");
  } else {
    if (!impl_->server.bind_to_port(ip, port)) {
      return Status::Error("cannot listen for HTTP on " + ip + ":" + std::to_string(port) +
                           ": the address is in use or not local");
    }
    impl_->port = port;
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

int HttpServer::port() const { return impl_->port; }

namespace {
Result<std::string> Request(const std::string& method, const std::string& host, int port,
                            const std::string& path, int* status_code) {
  httplib::Client client(host, port);
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  auto result = method == "GET" ? client.Get(path) : client.Post(path);
  std::string url = "http://" + host + ":" + std::to_string(port) + path;
  if (!result) {
    return Status::Error(method + " " + url + " failed: " + httplib::to_string(result.error()));
  }
  if (status_code != nullptr) *status_code = result->status;
  return result->body;
}
}  // namespace

Result<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                            int* status_code) {
  return Request("GET", host, port, path, status_code);
}

Result<std::string> HttpPost(const std::string& host, int port, const std::string& path,
                             int* status_code) {
  return Request("POST", host, port, path, status_code);
}

}  // namespace stoa

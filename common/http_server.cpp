#include "common/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <thread>

namespace stoa {

HttpResponse JsonError(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump();
  return response;
}

namespace {

// The query string of `target`, split at the first '=' of each pair, so that a
// value may hold '=' unencoded (?label=tier==web), as Java servers read it.
std::vector<std::pair<std::string, std::string>> ParseQuery(const std::string& target) {
  std::vector<std::pair<std::string, std::string>> query;
  size_t start = target.find('?');
  if (start == std::string::npos) return query;
  std::string text = target.substr(start + 1);
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find('&', at);
    if (end == std::string::npos) end = text.size();
    std::string pair = text.substr(at, end - at);
    if (!pair.empty()) {
      size_t equals = pair.find('=');
      std::string key = pair.substr(0, equals);
      std::string value = equals == std::string::npos ? "" : pair.substr(equals + 1);
      query.emplace_back(httplib::detail::decode_url(key, true),
                         httplib::detail::decode_url(value, true));
    }
    at = end + 1;
  }
  return query;
}

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  Filter filter;
  std::thread thread;
  int port = 0;
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  impl_->server.set_payload_max_length(16 * 1024 * 1024);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetFilter(Filter filter) { impl_->filter = std::move(filter); }

void HttpServer::Route(const std::string& method, const std::string& path, Handler handler) {
  Impl* impl = impl_.get();
  auto adapter = [impl, handler = std::move(handler)](const httplib::Request& req,
                                                      httplib::Response& res) {
    HttpRequest request;
    request.method = req.method;
    request.path = req.path;
    request.target = req.target;
    request.remote_addr = req.remote_addr;
    request.headers.insert(req.headers.begin(), req.headers.end());
    request.body = req.body;
    request.query = ParseQuery(req.target);
    for (const auto& [key, value] : request.query) {
      request.params.emplace(key, value);  // the first of a repeated name
    }
    for (size_t i = 1; i < req.matches.size(); ++i) request.matches.push_back(req.matches[i]);
    HttpResponse response;
    try {
      response = impl->filter ? impl->filter(request, handler) : handler(request);
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
  } else if (method == "PATCH") {
    impl_->server.Patch(path, adapter);
  }
}

void HttpServer::OnResponse(std::function<void(const std::string& method, int status)> observer) {
  // Before the answer is written, so that whoever reads it sees it counted.
  impl_->server.set_post_routing_handler(
      [observer = std::move(observer)](const httplib::Request& req, httplib::Response& res) {
        observer(req.method, res.status);
      });
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

namespace {
Result<HttpReply> Reply(const httplib::Result& result, const std::string& method,
                        const std::string& url) {
  if (!result) {
    return Status::Error(method + " " + url + " failed: " + httplib::to_string(result.error()));
  }
  HttpReply reply;
  reply.status = result->status;
  reply.body = result->body;
  for (const auto& [key, value] : result->headers) reply.headers.emplace(key, value);
  return reply;
}
}  // namespace

Result<HttpReply> HttpCall(const std::string& method, const std::string& host, int port,
                           const std::string& path, const std::string& body,
                           const std::multimap<std::string, std::string>& headers) {
  httplib::Client client(host, port);
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  httplib::Headers sent(headers.begin(), headers.end());
  const char* type = "application/json";
  httplib::Result result = [&] {
    if (method == "GET") return client.Get(path, sent);
    if (method == "POST") return client.Post(path, sent, body, type);
    if (method == "PUT") return client.Put(path, sent, body, type);
    if (method == "PATCH") return client.Patch(path, sent, body, type);
    if (method == "DELETE") return client.Delete(path, sent, body, type);
    return httplib::Result(std::unique_ptr<httplib::Response>(), httplib::Error::Unknown);
  }();
  return Reply(result, method, "http://" + host + ":" + std::to_string(port) + path);
}

Result<HttpReply> HttpForward(const std::string& host, int port, const HttpRequest& request,
                              const std::multimap<std::string, std::string>& headers,
                              const ForwardTimeouts& timeouts) {
  httplib::Client client(host, port);
  auto micros = [](double seconds) {
    return std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  };
  client.set_connection_timeout(micros(timeouts.connect_seconds));
  client.set_read_timeout(micros(timeouts.read_seconds));
  client.set_write_timeout(micros(timeouts.read_seconds));
  client.set_url_encode(false);  // the target goes on exactly as it came
  httplib::Request forwarded;
  forwarded.method = request.method;
  forwarded.path = request.target.empty() ? request.path : request.target;
  forwarded.headers.insert(headers.begin(), headers.end());
  forwarded.body = request.body;
  auto reply = Reply(client.send(forwarded), request.method,
                     "http://" + host + ":" + std::to_string(port) + forwarded.path);
  if (!reply.ok()) return reply;
  // The client decoded the body: the headers that described the wire go.
  for (auto it = reply->headers.begin(); it != reply->headers.end();) {
    std::string name = it->first;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    bool wire = name == "content-encoding" || name == "content-length" ||
                name == "transfer-encoding" || name == "connection" || name == "keep-alive";
    it = wire ? reply->headers.erase(it) : std::next(it);
  }
  return reply;
}

}  // namespace stoa

#include "common/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace stoa {

HttpResponse JsonError(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump();
  return response;
}

std::string HttpRequest::header(const std::string& name) const {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = headers.find(key);
  return it == headers.end() ? "" : it->second;
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

HttpRequest ToRequest(const httplib::Request& req) {
  HttpRequest request;
  request.method = req.method;
  request.path = req.path;
  request.target = req.target;
  request.body = req.body;
  request.remote_address = req.remote_addr;
  request.query = ParseQuery(req.target);
  for (const auto& [key, value] : request.query) {
    request.params.emplace(key, value);  // the first of a repeated name
  }
  for (size_t i = 1; i < req.matches.size(); ++i) request.matches.push_back(req.matches[i]);
  for (const auto& [name, value] : req.headers) {
    // httplib adds the connection's addresses as headers; they were not sent.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
        name == "LOCAL_PORT") {
      continue;
    }
    std::string key = name;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = request.headers.emplace(key, value);
    if (!inserted) it->second += ", " + value;
  }
  return request;
}

// A stream's writer: the sink is httplib's while the stream's provider runs.
class StreamWriter : public HttpStreamWriter {
 public:
  bool Write(const std::string& chunk) override {
    if (!open() || sink_ == nullptr) return false;
    if (!sink_->write(chunk.data(), chunk.size())) failed_ = true;
    return !failed_;
  }
  bool open() const override { return !failed_ && !stopping_; }
  void OnStop(std::function<void()> wake) override {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = std::move(wake);
    if (stopping_ && wake_) std::exchange(wake_, nullptr)();
  }
  // From HttpServer::Stop.
  void Stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (wake_) std::exchange(wake_, nullptr)();
  }
  bool failed() const { return failed_; }
  void set_sink(httplib::DataSink* sink) { sink_ = sink; }

 private:
  httplib::DataSink* sink_ = nullptr;  // only the stream's own thread touches it
  bool failed_ = false;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::function<void()> wake_;
};

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  Filter filter;
  std::thread thread;
  int port = 0;

  std::mutex mutex;
  bool stopping = false;
  std::set<std::shared_ptr<StreamWriter>> streams;

  // A writer for a new stream; null when kMaxHttpStreams are open or the server stops.
  std::shared_ptr<StreamWriter> OpenStream() {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping || streams.size() >= kMaxHttpStreams) return nullptr;
    auto writer = std::make_shared<StreamWriter>();
    streams.insert(writer);
    return writer;
  }
  void CloseStream(const std::shared_ptr<StreamWriter>& writer) {
    std::lock_guard<std::mutex> lock(mutex);
    streams.erase(writer);
  }

  // Hands `response.stream` to httplib as a chunked body.
  void Stream(const httplib::Request& req, httplib::Response& res, HttpResponse response) {
    auto writer = OpenStream();
    if (!writer) {
      res.status = 503;
      res.set_content(
          nlohmann::json{{"message", "too many open streams (at most " +
                                         std::to_string(kMaxHttpStreams) + "); try again later"}}
              .dump(),
          "application/json");
      return;
    }
    // httplib would compress a text body for a client that accepts gzip, and
    // the compressor holds chunks back: a stream's chunks must go out at once.
    // (The request is httplib's own non-const object, handed to us as const.)
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    res.status = response.status;
    for (const auto& [key, value] : response.headers) res.set_header(key, value);
    res.set_chunked_content_provider(
        response.content_type,
        [writer, stream = std::move(response.stream)](size_t, httplib::DataSink& sink) {
          writer->set_sink(&sink);
          try {
            stream(*writer);
          } catch (const std::exception&) {
            // The status is sent already: all that is left is to end the body.
          }
          writer->OnStop(nullptr);
          writer->set_sink(nullptr);
          if (!writer->failed()) sink.done();
          return !writer->failed();
        },
        [this, writer](bool) { CloseStream(writer); });
  }
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(kHttpServerThreads); };
  impl_->server.set_payload_max_length(16 * 1024 * 1024);
  // httplib's default sets SO_REUSEPORT, with which a second server binds a
  // port in use without a word and takes half its connections: only
  // SO_REUSEADDR (a restart rebinds a port in TIME_WAIT).
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetFilter(Filter filter) { impl_->filter = std::move(filter); }

void HttpServer::Route(const std::string& method, const std::string& path, Handler handler) {
  Impl* impl = impl_.get();
  auto adapter = [impl, handler = std::move(handler)](const httplib::Request& req,
                                                      httplib::Response& res) {
    HttpRequest request = ToRequest(req);
    HttpResponse response;
    try {
      response = impl->filter ? impl->filter(request, handler) : handler(request);
    } catch (const std::exception& e) {
      response = JsonError(500, std::string("internal error: ") + e.what());
    }
    if (response.stream) {
      impl->Stream(req, res, std::move(response));
      return;
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
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = false;
  }
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
  auto ended = std::make_shared<std::atomic<bool>>(false);
  impl_->thread = std::thread([this, ended] {
    impl_->server.listen_after_bind();
    *ended = true;
  });
  // Until the loop runs, httplib's stop() does nothing and a Stop() right
  // after Start() would wait for ever: return once it runs (or has ended).
  while (!impl_->server.is_running() && !*ended) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_->thread.joinable()) {
    std::set<std::shared_ptr<StreamWriter>> streams;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      impl_->stopping = true;
      streams = impl_->streams;
    }
    for (const auto& writer : streams) writer->Stop();
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

Result<HttpReply> HttpGetStream(const std::string& host, int port, const std::string& path,
                                const std::map<std::string, std::string>& headers,
                                const std::function<bool(const std::string& chunk)>& on_chunk,
                                double read_timeout_seconds) {
  httplib::Client client(host, port);
  client.set_connection_timeout(5);
  auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(read_timeout_seconds));
  client.set_read_timeout(timeout.count() / 1000000, timeout.count() % 1000000);
  httplib::Headers request_headers(headers.begin(), headers.end());
  HttpReply reply;
  bool stopped = false;
  auto result = client.Get(
      path, request_headers,
      [&](const httplib::Response& response) {
        reply.status = response.status;
        for (const auto& [key, value] : response.headers) reply.headers.emplace(key, value);
        return true;
      },
      [&](const char* data, size_t length) {
        stopped = !on_chunk(std::string(data, length));
        return !stopped;
      });
  if (!result && !(stopped && reply.status != 0)) {
    return Status::Error("GET http://" + host + ":" + std::to_string(port) + path +
                         " failed: " + httplib::to_string(result.error()));
  }
  return reply;
}

}  // namespace stoa

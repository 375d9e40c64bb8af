// /v2/events as Marathon serves it: `Accept: text/event-stream` required (else
// 405), each event as "event: <eventType>\ndata: <json>\n\n", `event_type`
// (repeatable) to choose the types, event_stream_attached/detached for every
// client that comes and goes. Deployment plans come with their "original"
// and "target" as Marathon 1.4 sends them, and without with
// `plan-format=light`.
#include "frameworks/service/api_events.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "frameworks/service/api_util.hpp"
#include "frameworks/service/event_json.hpp"
#include "frameworks/service/timestamp.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

// Whether an Accept header lists text/event-stream (parameters aside).
bool AcceptsEventStream(const std::string& accept) {
  size_t at = 0;
  while (at <= accept.size()) {
    size_t end = std::min(accept.find(',', at), accept.size());
    std::string type = accept.substr(at, end - at);
    type = type.substr(0, type.find(';'));
    type.erase(
        std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }),
        type.end());
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (type == "text/event-stream") return true;
    at = end + 1;
  }
  return false;
}

HttpResponse NotAnEventStreamClient() {
  HttpResponse response;
  response.status = 405;
  response.content_type = "text/html";
  response.body =
      "<html>\n<head><title>Error 405</title></head>\n<body>\n<h2>HTTP ERROR: 405</h2>\n"
      "<p>/v2/events is an event stream: GET it with the header "
      "<code>Accept: text/event-stream</code>.</p>\n</body>\n</html>\n";
  return response;
}

std::string Frame(const BusEvent& event, bool light) {
  return "event: " + event.type + "\ndata: " + event.Data(light) + "\n\n";
}

void Stream(EventBus* bus, const EventStreamOptions& options, const std::set<std::string>& types,
            bool light, const std::string& remote_address, HttpStreamWriter& writer) {
  auto stamped = [&](const std::string& type) {
    json event = EventStreamEventJson(remote_address);
    event["eventType"] = type;
    event["timestamp"] = FormatTimestamp(options.clock());
    return event;
  };
  auto subscription = bus->Subscribe(types);
  writer.OnStop([subscription] { subscription->Cancel(); });
  bus->Publish(stamped("event_stream_attached"));  // this client sees its own, as in Marathon
  auto keep_alive = std::chrono::milliseconds(
      std::max<long long>(1, static_cast<long long>(options.keep_alive_seconds * 1000)));
  while (writer.open()) {
    auto events = subscription->Next(keep_alive);
    if (subscription->closed()) break;  // cut off (too slow), or the server stops
    std::string chunk;
    for (const auto& event : events) chunk += Frame(*event, light);
    if (chunk.empty()) chunk = ":keep-alive\n\n";
    if (!writer.Write(chunk)) break;
  }
  writer.OnStop(nullptr);
  subscription.reset();  // gone before it is announced
  bus->Publish(stamped("event_stream_detached"));
}

}  // namespace

void AddEventRoutes(HttpServer& server, EventBus* bus, EventStreamOptions options) {
  if (!options.clock) {
    options.clock = [] {
      return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  server.Route("GET", "/v2/events/?", [bus, options](const HttpRequest& request) {
    if (!AcceptsEventStream(request.header("accept"))) return NotAnEventStreamClient();
    std::vector<std::string> values = ParamValues(request, "event_type");
    std::set<std::string> types(values.begin(), values.end());
    bool light = request.params.count("plan-format") && request.params.at("plan-format") == "light";
    HttpResponse response;
    response.content_type = "text/event-stream";  // exactly: httplib compresses other text types
    response.headers["Cache-Control"] = "no-cache";
    response.stream = [bus, options, types, light,
                       remote = request.remote_address](HttpStreamWriter& writer) {
      Stream(bus, options, types, light, remote, writer);
    };
    return response;
  });
}

}  // namespace stoa::service

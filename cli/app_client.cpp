#include "cli/app_client.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace stoa::cli {

using json = nlohmann::json;

std::string NormalizeAppId(const std::string& id) {
  std::string out;
  size_t start = 0;
  while (start <= id.size()) {
    size_t slash = std::min(id.find('/', start), id.size());
    if (slash > start) out += "/" + id.substr(start, slash - start);
    start = slash + 1;
  }
  return out.empty() ? "/" : out;
}

std::string AppPath(const std::string& id) {
  std::string path = "/v2/apps";
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char c : NormalizeAppId(id)) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      path += static_cast<char>(c);
    } else {
      path += '%';
      path += kHex[c >> 4];
      path += kHex[c & 15];
    }
  }
  return path;
}

Result<json> ParseJsonText(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte counts the characters read, the offending one included.
    size_t end = e.byte == 0 ? 0 : std::min<size_t>(e.byte - 1, text.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    size_t column = end - line_start + 1;
    std::string why = e.what();
    size_t colon = why.find(": ");
    if (colon != std::string::npos) why = why.substr(colon + 2);
    for (size_t at; (at = why.find("<U+000A>")) != std::string::npos;) why.replace(at, 8, "\\n");
    return Status::Error("line " + std::to_string(line) + ", column " + std::to_string(column) +
                         ": " + why);
  }
}

Result<HttpReply> ServiceClient::Call(const std::string& method, const std::string& path,
                                      const std::string& body) {
  Result<HttpReply> reply = HttpCall(method, address_.host, address_.port, path, body);
  if (reply.ok()) return reply;
  // HttpCall's error ends in cpp-httplib's name for what went wrong.
  std::string why = reply.error().substr(reply.error().rfind(' ') + 1);
  if (why == "Connection" || why == "ConnectionTimeout") {
    why = "could not connect: refused, or no answer within 5 s";
  } else if (why == "Read" || why == "Write") {
    why = "the connection broke, or no answer came within 30 s";
  }
  return Status::Error("no service framework answers at " + address_.Url() + " (" + why +
                       "); start one with `stoa up` or `stoa service`, or point --service "
                       "or $STOA_SERVICE at it");
}

Result<json> ServiceClient::Json(const std::string& method, const std::string& path,
                                 const std::string& body) {
  Result<HttpReply> reply = Call(method, path, body);
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return Status::Error(DescribeRefusal(*reply));
  json parsed = json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded()) {
    return Status::Error(method + " " + address_.Url() + path + " answered " +
                         std::to_string(reply->status) +
                         " with a body that is not JSON: " + reply->body.substr(0, 200));
  }
  return parsed;
}

std::string DescribeRefusal(const HttpReply& reply) {
  json body = json::parse(reply.body, nullptr, false);
  std::string text;
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    text = body["message"].get<std::string>();
  } else {
    text = reply.body.empty() ? "no reason given" : reply.body.substr(0, 400);
  }
  text += " (HTTP " + std::to_string(reply.status) + ")";
  if (!body.is_object()) return text;
  for (const auto& detail : body.value("details", json::array())) {
    if (!detail.is_object()) continue;
    std::string path = detail.value("path", "/");
    for (const auto& error : detail.value("errors", json::array())) {
      text += "\n  " + path + ": " + (error.is_string() ? error.get<std::string>() : error.dump());
    }
  }
  if (reply.status == 409 && body.contains("deployments")) {
    std::string ids;
    for (const auto& deployment : body["deployments"]) {
      if (!deployment.is_object() || !deployment.contains("id")) continue;
      ids += (ids.empty() ? "" : ", ") + deployment["id"].get<std::string>();
    }
    if (!ids.empty()) text += "\n  deployments in progress: " + ids;
    text += "\n  wait for them, or pass --force to supersede them";
  }
  return text;
}

}  // namespace stoa::cli

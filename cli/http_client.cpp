#include "cli/http_client.hpp"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace stoa::cli {

using json = nlohmann::json;

Result<HttpAddress> ResolveAddress(const FrameworkApi& api, const std::string& flag_value) {
  std::string text = flag_value;
  std::string from = api.flag;
  const char* env = std::getenv(api.env);
  if (text.empty() && env != nullptr && *env != '\0') {
    text = env;
    from = std::string("$") + api.env;
  }
  if (text.empty()) text = api.default_url;
  auto address = ParseHttpAddress(text, api.default_port);
  if (!address.ok()) return Status::Error(from + ": " + address.error());
  return address;
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
  return text;
}

Result<HttpReply> ApiClient::Call(const std::string& method, const std::string& path,
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
  return Status::Error(std::string("no ") + api_->name + " answers at " + address_.Url() + " (" +
                       why + "); " + api_->how_to_start + ", or point " + api_->flag + " or $" +
                       api_->env + " at it");
}

Result<json> ApiClient::Json(const std::string& method, const std::string& path,
                             const std::string& body) {
  Result<HttpReply> reply = Call(method, path, body);
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return Status::Error(Refusal(*reply));
  json parsed = json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded()) {
    return Status::Error(method + " " + address_.Url() + path + " answered " +
                         std::to_string(reply->status) +
                         " with a body that is not JSON: " + reply->body.substr(0, 200));
  }
  return parsed;
}

std::string PercentEncode(const std::string& text, bool keep_slashes) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slashes && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace stoa::cli

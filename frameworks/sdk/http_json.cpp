#include "frameworks/sdk/http_json.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace stoa::sdk {

using json = nlohmann::json;

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump();
  return response;
}

HttpResponse MessageResponse(int status, const std::string& message) {
  return JsonResponse(status, {{"message", message}});
}

std::optional<bool> BoolParam(const HttpRequest& request, const std::string& name, bool fallback,
                              HttpResponse* error) {
  auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty()) return fallback;
  std::string value = it->second;
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (value == "true") return true;
  if (value == "false") return false;
  *error =
      MessageResponse(400, "query parameter " + name + "=" + it->second + ": give true or false");
  return std::nullopt;
}

std::vector<std::string> ParamValues(const HttpRequest& request, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : request.query) {
    if (key == name) values.push_back(value);
  }
  return values;
}

std::optional<json> JsonBody(const HttpRequest& request, HttpResponse* error) {
  try {
    return json::parse(request.body);
  } catch (const json::parse_error& e) {
    json details = json::array({{{"path", "/"}, {"errors", json::array({e.what()})}}});
    *error = JsonResponse(400, {{"message", "Invalid JSON"}, {"details", details}});
    return std::nullopt;
  }
}

}  // namespace stoa::sdk

#include "frameworks/service/api_util.hpp"

#include <algorithm>
#include <cctype>

#include "frameworks/service/api_json.hpp"
#include "frameworks/service/event_json.hpp"

namespace stoa::service {

using json = nlohmann::json;

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump();
  return response;
}

HttpResponse MessageResponse(int status, const std::string& message) {
  return JsonResponse(status, MessageJson(message));
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

HttpResponse RefusalResponse(const ChangeOutcome& outcome) {
  switch (outcome.refusal) {
    case Refusal::kNotFound:
      return MessageResponse(404, outcome.message);
    case Refusal::kConflict:
      return MessageResponse(409, outcome.message);
    case Refusal::kLocked: {
      json deployments = json::array();
      for (const auto& id : outcome.blocking_deployments) deployments.push_back({{"id", id}});
      return JsonResponse(409, {{"message", outcome.message}, {"deployments", deployments}});
    }
    case Refusal::kInvalid:
      return JsonResponse(422, outcome.errors.Body());
    case Refusal::kUnavailable:
      return MessageResponse(503, outcome.message);
    case Refusal::kNone:
      break;
  }
  return MessageResponse(500, "internal error: no refusal to report");
}

HttpResponse DeploymentResponse(int status, const Deployment& deployment) {
  HttpResponse response = JsonResponse(status, DeploymentResultJson(deployment));
  response.headers["Marathon-Deployment-Id"] = deployment.id;
  return response;
}

void PostApiEvent(ServiceCore* core, const HttpRequest& request, const AppDefinition& app) {
  core->Publish("api_post_event", ApiPostEventJson(request.remote_address, request.path, app));
}

}  // namespace stoa::service

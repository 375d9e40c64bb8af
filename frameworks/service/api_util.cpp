#include "frameworks/service/api_util.hpp"

#include "frameworks/service/api_json.hpp"
#include "frameworks/service/event_json.hpp"

namespace stoa::service {

using json = nlohmann::json;

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

// Helpers the API's route files share: JSON responses, query flags, request
// bodies, and the mapping of the core's refusals to Marathon's answers.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/http_server.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

HttpResponse JsonResponse(int status, const nlohmann::json& body);
HttpResponse MessageResponse(int status, const std::string& message);

// A boolean query flag: true/false in any case (force=False), `fallback` when
// absent; nullopt (and `*error` set to a 400) for anything else.
std::optional<bool> BoolParam(const HttpRequest& request, const std::string& name, bool fallback,
                              HttpResponse* error);
// Every value of a repeated query parameter.
std::vector<std::string> ParamValues(const HttpRequest& request, const std::string& name);

// The body as JSON; nullopt (and `*error` set to a 400 "Invalid JSON") when it
// does not parse.
std::optional<nlohmann::json> JsonBody(const HttpRequest& request, HttpResponse* error);

// The answer to a refused change (404, 409, 422, 503).
HttpResponse RefusalResponse(const ChangeOutcome& outcome);
// {"version", "deploymentId"} with the Marathon-Deployment-Id header.
HttpResponse DeploymentResponse(int status, const Deployment& deployment);

// Marathon's api_post_event for a request that changed `app` (as it is now).
void PostApiEvent(ServiceCore* core, const HttpRequest& request, const AppDefinition& app);

}  // namespace stoa::service

// Helpers the API's route files share: JSON responses, query flags, request
// bodies, and the mapping of the core's refusals to Marathon's answers.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/http_server.hpp"
#include "frameworks/sdk/http_json.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

using sdk::BoolParam;
using sdk::JsonBody;
using sdk::JsonResponse;
using sdk::MessageResponse;
using sdk::ParamValues;

// The answer to a refused change (404, 409, 422, 503).
HttpResponse RefusalResponse(const ChangeOutcome& outcome);
// {"version", "deploymentId"} with the Marathon-Deployment-Id header.
HttpResponse DeploymentResponse(int status, const Deployment& deployment);

// Marathon's api_post_event for a request that changed `app` (as it is now).
void PostApiEvent(ServiceCore* core, const HttpRequest& request, const AppDefinition& app);

}  // namespace stoa::service

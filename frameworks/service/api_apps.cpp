// /v2/apps: list, create, show, replace, patch, delete and restart apps.
#include <algorithm>
#include <cctype>

#include "frameworks/service/api.hpp"
#include "frameworks/service/api_json.hpp"
#include "frameworks/service/api_util.hpp"
#include "frameworks/service/app_json.hpp"
#include "frameworks/service/label_selector.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool ContainsIgnoringCase(const std::string& haystack, const std::string& needle) {
  return Lower(haystack).find(Lower(needle)) != std::string::npos;
}

HttpResponse ListApps(ServiceCore* core, const HttpRequest& request) {
  std::optional<LabelSelector> selector;
  if (auto label = request.params.find("label"); label != request.params.end()) {
    auto parsed = LabelSelector::Parse(label->second);
    if (!parsed.ok()) return MessageResponse(422, parsed.error());
    selector = std::move(*parsed);
  }
  auto cmd = request.params.find("cmd");
  auto id = request.params.find("id");
  // As Marathon: counts and deployments always come along.
  Embeds embeds = ParseEmbeds(ParamValues(request, "embed"));
  embeds.insert({"counts", "deployments"});
  json apps = json::array();
  for (const auto& view : core->View().apps) {
    const AppDefinition& app = view.app;
    if (cmd != request.params.end() && !(app.cmd && ContainsIgnoringCase(*app.cmd, cmd->second))) {
      continue;
    }
    if (id != request.params.end() && !ContainsIgnoringCase(app.id.ToString(), id->second)) {
      continue;
    }
    if (selector && !selector->Matches(app.labels)) continue;
    apps.push_back(AppInfoJson(view, embeds));
  }
  return JsonResponse(200, {{"apps", apps}});
}

HttpResponse CreateApp(ServiceCore* core, const HttpRequest& request) {
  HttpResponse error;
  if (!BoolParam(request, "force", false, &error)) return error;
  auto body = JsonBody(request, &error);
  if (!body) return error;
  ParsedApp parsed = ParseApp(*body);
  if (!parsed.app) return JsonResponse(422, parsed.errors.Body());
  ChangeOutcome outcome = core->CreateApp(std::move(*parsed.app));
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  PostApiEvent(core, request, outcome.app);
  AppView view;
  view.app = outcome.app;
  view.deployment_ids = {outcome.deployment.id};
  HttpResponse response = JsonResponse(201, AppInfoJson(view, {"counts", "deployments"}));
  response.headers["Location"] = "/v2/apps" + outcome.app.id.ToString();
  response.headers["Marathon-Deployment-Id"] = outcome.deployment.id;
  return response;
}

HttpResponse ShowApp(ServiceCore* core, const HttpRequest& request) {
  PathId id = PathId::Parse(request.matches.at(0));
  auto view = core->ViewApp(id);
  if (!view) return MessageResponse(404, "App '" + id.ToString() + "' does not exist");
  Embeds embeds = ParseEmbeds(ParamValues(request, "embed"));
  embeds.insert({"counts", "tasks", "lastTaskFailure", "deployments"});
  return JsonResponse(200, {{"app", AppInfoJson(*view, embeds)}});
}

// PUT (allow_create) and PATCH; `partial` merges the body into the app.
HttpResponse ChangeApp(ServiceCore* core, const HttpRequest& request, bool allow_create) {
  HttpResponse error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  auto partial = BoolParam(request, "partialUpdate", true, &error);
  if (!partial) return error;
  if (!allow_create) partial = true;
  auto body = JsonBody(request, &error);
  if (!body) return error;
  if (!body->is_object()) {
    ValidationErrors errors;
    errors.TypeError("/", "expected an app definition (a JSON object), got " + JsonTypeName(*body));
    return JsonResponse(422, errors.Body());
  }
  PathId id = PathId::Parse(request.matches.at(0));
  if (auto version = body->find("version"); version != body->end() && !version->is_null()) {
    // As Marathon: a version names the definition to go back to, alone.
    bool alone = std::all_of(body->items().begin(), body->items().end(), [](const auto& item) {
      return item.key() == "version" || item.key() == "id";
    });
    if (!alone || !version->is_string()) {
      ValidationErrors errors;
      errors.Add("/",
                 "The 'version' field may only be combined with the 'id' field: it "
                 "rolls the app back to that version");
      return JsonResponse(422, errors.Body());
    }
    ChangeOutcome outcome = core->RollbackApp(id, version->get<std::string>(), *force);
    if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
    PostApiEvent(core, request, outcome.app);
    return DeploymentResponse(200, outcome.deployment);
  }
  auto build = [&](const AppDefinition* current) {
    if (current != nullptr && *partial)
      return ParseApp(MergeAppUpdate(AppSpecJson(*current), *body));
    json whole = *body;
    whole["id"] = id.ToString();  // the URL names the app, whatever the body says
    return ParseApp(whole);
  };
  ChangeOutcome outcome = core->UpdateApp(id, build, *force, allow_create);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  PostApiEvent(core, request, outcome.app);
  HttpResponse response = DeploymentResponse(outcome.created ? 201 : 200, outcome.deployment);
  if (outcome.created) response.headers["Location"] = "/v2/apps" + id.ToString();
  return response;
}

HttpResponse AppVersions(ServiceCore* core, const HttpRequest& request) {
  PathId id = PathId::Parse(request.matches.at(0));
  auto versions = core->AppVersions(id);
  if (!versions) return MessageResponse(404, "App '" + id.ToString() + "' does not exist");
  return JsonResponse(200, {{"versions", *versions}});
}

HttpResponse AppAtVersion(ServiceCore* core, const HttpRequest& request) {
  PathId id = PathId::Parse(request.matches.at(0));
  const std::string& version = request.matches.at(1);
  auto app = core->AppAtVersion(id, version);
  if (!app) {
    return MessageResponse(404, "App '" + id.ToString() + "' does not exist in version " + version);
  }
  return JsonResponse(200, AppJson(*app));
}

HttpResponse DeleteApp(ServiceCore* core, const HttpRequest& request) {
  HttpResponse error;
  auto force = BoolParam(request, "force", true, &error);  // Marathon's default here
  if (!force) return error;
  ChangeOutcome outcome = core->DeleteApp(PathId::Parse(request.matches.at(0)), *force);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  PostApiEvent(core, request, outcome.app);
  return DeploymentResponse(200, outcome.deployment);
}

HttpResponse RestartApp(ServiceCore* core, const HttpRequest& request) {
  HttpResponse error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  ChangeOutcome outcome = core->RestartApp(PathId::Parse(request.matches.at(0)), *force);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  PostApiEvent(core, request, outcome.app);
  return DeploymentResponse(200, outcome.deployment);
}

}  // namespace

void AddAppRoutes(HttpServer& server, ServiceCore* core) {
  auto route = [&](const char* method, const char* path,
                   HttpResponse (*handler)(ServiceCore*, const HttpRequest&)) {
    server.Route(method, path, [core, handler](const HttpRequest& r) { return handler(core, r); });
  };
  route("GET", "/v2/apps/?", ListApps);
  route("POST", "/v2/apps/?", CreateApp);
  route("POST", "/v2/apps/(.+)/restart/?", RestartApp);
  route("GET", "/v2/apps/(.+)/versions/?", AppVersions);
  route("GET", "/v2/apps/(.+)/versions/([^/]+)", AppAtVersion);
  route("GET", "/v2/apps/(.+)", ShowApp);
  server.Route("PUT", "/v2/apps/(.+)",
               [core](const HttpRequest& r) { return ChangeApp(core, r, true); });
  server.Route("PATCH", "/v2/apps/(.+)",
               [core](const HttpRequest& r) { return ChangeApp(core, r, false); });
  route("DELETE", "/v2/apps/(.+)", DeleteApp);
}

}  // namespace stoa::service

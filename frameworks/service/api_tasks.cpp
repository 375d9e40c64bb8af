// /v2/apps/{id}/tasks, /v2/tasks, /v2/deployments, /v2/info, /v2/leader and
// /ping; and AddBaseRoutes, which puts these and /v2/apps in their order.
#include <algorithm>
#include <limits>

#include "frameworks/service/api.hpp"
#include "frameworks/service/api_json.hpp"
#include "frameworks/service/api_util.hpp"

namespace stoa::service {

using json = nlohmann::json;

void AddAppRoutes(HttpServer& server, ServiceCore* core);

namespace {

HttpResponse AppTasks(ServiceCore* core, const HttpRequest& request) {
  PathId id = PathId::Parse(request.matches.at(0));
  auto view = core->ViewApp(id);
  if (!view) return MessageResponse(404, "App '" + id.ToString() + "' does not exist");
  json tasks = json::array();
  for (const auto& task : view->tasks) tasks.push_back(TaskJson(task, &view->app));
  return JsonResponse(200, {{"tasks", tasks}});
}

// DELETE /v2/apps/{id}/tasks[/{task}]: `task_id` empty for all (or ?host=).
HttpResponse KillAppTasks(ServiceCore* core, const HttpRequest& request,
                          const std::string& task_id) {
  HttpResponse error;
  auto scale = BoolParam(request, "scale", false, &error);
  if (!scale) return error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  auto wipe = BoolParam(request, "wipe", false, &error);
  if (!wipe) return error;
  if (*scale && *wipe)
    return MessageResponse(400, "You cannot use scale and wipe at the same time.");
  PathId id = PathId::Parse(request.matches.at(0));
  std::string host = request.params.count("host") ? request.params.at("host") : "";
  auto pick = [&](const TaskRecord& task) {
    if (!task_id.empty()) return task.id == task_id;
    return host.empty() || host == "*" || task.host == host;
  };
  auto view = core->ViewApp(id);
  ChangeOutcome outcome;
  if (*wipe) {
    if (!view) return MessageResponse(404, "App '" + id.ToString() + "' does not exist");
    std::vector<TaskId> ids;
    for (const auto& task : view->tasks) {
      if (pick(task)) ids.push_back(task.id);
    }
    outcome = core->KillTasksById(ids, false, true, *force);
  } else {
    outcome = core->KillTasks(id, pick, *scale, *force);
  }
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  if (!task_id.empty() && outcome.tasks.empty()) {
    return MessageResponse(404, "Task '" + task_id + "' does not exist");
  }
  if (*scale && !outcome.tasks.empty()) {
    PostApiEvent(core, request, outcome.app);
    return DeploymentResponse(200, outcome.deployment);
  }
  const AppDefinition* app = view ? &view->app : nullptr;
  if (!task_id.empty()) return JsonResponse(200, {{"task", TaskJson(outcome.tasks[0], app)}});
  json tasks = json::array();
  for (const auto& task : outcome.tasks) tasks.push_back(TaskJson(task, app));
  return JsonResponse(200, {{"tasks", tasks}});
}

HttpResponse AllTasks(ServiceCore* core, const HttpRequest& request) {
  std::vector<std::string> statuses = ParamValues(request, "status");
  for (const auto& value : ParamValues(request, "status[]")) statuses.push_back(value);
  // As Marathon: the name of a state in any case, `running` or `staging`.
  for (auto& status : statuses) {
    std::transform(status.begin(), status.end(), status.begin(),
                   [](unsigned char c) { return std::tolower(c); });
  }
  auto wanted = [&](TaskState state) {
    if (statuses.empty()) return true;
    for (const auto& status : statuses) {
      if (status == "running" && state == TaskState::kRunning) return true;
      if (status == "staging" && state == TaskState::kStaging) return true;
    }
    return false;
  };
  json tasks = json::array();
  for (const auto& view : core->View().apps) {
    for (const auto& task : view.tasks) {
      if (wanted(task.state)) tasks.push_back(TaskJson(task, &view.app));
    }
  }
  return JsonResponse(200, {{"tasks", tasks}});
}

// DELETE /v2/deployments/{id}: as Marathon, 200 with the reverting
// deployment; with force=true 202 and no body.
HttpResponse CancelDeployment(ServiceCore* core, const HttpRequest& request,
                              const std::string& id) {
  HttpResponse error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  ChangeOutcome outcome = core->CancelDeployment(id, *force);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  if (*force) {
    HttpResponse accepted;
    accepted.status = 202;
    return accepted;
  }
  return DeploymentResponse(200, outcome.deployment);
}

HttpResponse Deployments(ServiceCore* core) {
  ServiceView view = core->View();
  std::map<PathId, json> readiness;
  for (const auto& app : view.apps) {
    if (!app.app.readiness_checks.empty()) readiness[app.app.id] = ReadinessResultsJson(app);
  }
  json out = json::array();
  for (const auto& deployment : view.deployments) {
    out.push_back(DeploymentInfoJson(deployment, readiness));
  }
  return JsonResponse(200, out);
}

std::string Leader(const ApiInfo& info) {
  if (info.leader) return info.leader();
  return info.hostname + ":" + std::to_string(info.http_port ? info.http_port() : 0);
}

int64_t Millis(double seconds) { return static_cast<int64_t>(seconds * 1000); }

HttpResponse Info(ServiceCore* core, const ApiInfo& info) {
  ServiceView view = core->View();
  json marathon_config = {
      {"master", info.master},
      {"framework_name", info.framework_name},
      {"failover_timeout", static_cast<int64_t>(info.failover_timeout_seconds)},
      {"checkpoint", true},
      {"executor", "//cmd"},
      {"hostname", info.hostname},
      {"ha", !info.zk.empty()},
      {"decline_offer_duration", static_cast<int64_t>(info.decline_offer_seconds * 1000)},
      {"local_port_min", info.service_port_min},
      {"local_port_max", info.service_port_max},
      {"mesos_role", nullptr},
      {"mesos_user", info.user},
      {"features", json::array()},
      {"leader_proxy_connection_timeout_ms", Millis(info.leader_proxy_connection_timeout_seconds)},
      {"leader_proxy_read_timeout_ms", Millis(info.leader_proxy_read_timeout_seconds)},
      {"webui_url", nullptr}};
  json zookeeper_config = json::object();
  if (!info.zk.empty()) {
    // Connecting and every call wait at most the session timeout; every
    // version of an app is kept.
    int64_t session = Millis(info.zk_session_timeout_seconds);
    zookeeper_config = {{"zk", info.zk},
                        {"zk_compression", false},
                        {"zk_connection_timeout", session},
                        {"zk_max_versions", ServiceStore::kMaxAppVersions},
                        {"zk_session_timeout", session},
                        {"zk_timeout", session}};
  }
  std::string leader = Leader(info);
  return JsonResponse(
      200, {{"name", info.framework_name},
            // The Marathon API level this service speaks, for clients that look.
            {"version", "1.4.0"},
            {"elected", info.elected ? info.elected() : true},
            {"leader", leader.empty() ? json(nullptr) : json(leader)},
            {"frameworkId", view.framework_id.empty() ? json(nullptr) : json(view.framework_id)},
            {"marathon_config", marathon_config},
            {"zookeeper_config", zookeeper_config},
            {"http_config", {{"http_port", info.http_port ? info.http_port() : 0}}}});
}

}  // namespace

void AddBaseRoutes(HttpServer& server, ServiceCore* core, const ApiInfo* info) {
  // The tasks routes first: "/v2/apps/(.+)" would match them too.
  server.Route("GET", "/v2/apps/(.+)/tasks/?",
               [core](const HttpRequest& r) { return AppTasks(core, r); });
  server.Route("DELETE", "/v2/apps/(.+)/tasks/([^/]+)",
               [core](const HttpRequest& r) { return KillAppTasks(core, r, r.matches.at(1)); });
  server.Route("DELETE", "/v2/apps/(.+)/tasks/?",
               [core](const HttpRequest& r) { return KillAppTasks(core, r, ""); });
  AddAppRoutes(server, core);
  server.Route("GET", "/v2/tasks/?", [core](const HttpRequest& r) { return AllTasks(core, r); });
  server.Route("GET", "/v2/deployments/?",
               [core](const HttpRequest&) { return Deployments(core); });
  server.Route("DELETE", "/v2/deployments/([^/]+)/?",
               [core](const HttpRequest& r) { return CancelDeployment(core, r, r.matches.at(0)); });
  server.Route("GET", "/v2/info/?", [core, info](const HttpRequest&) { return Info(core, *info); });
  server.Route("GET", "/v2/leader/?", [info](const HttpRequest&) {
    std::string leader = Leader(*info);
    if (leader.empty()) return MessageResponse(404, "no service instance leads right now");
    return JsonResponse(200, {{"leader", leader}});
  });
  server.Route("GET", "/ping", [](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain";
    response.body = "pong";
    return response;
  });
}

}  // namespace stoa::service

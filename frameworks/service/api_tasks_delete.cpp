// POST /v2/tasks/delete {"ids": [...]}: kills tasks of any apps, with
// Marathon's scale (one deployment shrinks their apps) and wipe (the records
// are forgotten and the apps replace them).
#include "frameworks/service/api_json.hpp"
#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/api_util.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

HttpResponse DeleteTasks(ServiceCore* core, const HttpRequest& request) {
  HttpResponse error;
  auto scale = BoolParam(request, "scale", false, &error);
  if (!scale) return error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  auto wipe = BoolParam(request, "wipe", false, &error);
  if (!wipe) return error;
  if (*scale && *wipe) {
    return MessageResponse(400, "You cannot use scale and wipe at the same time.");
  }
  auto body = JsonBody(request, &error);
  if (!body) return error;
  ValidationErrors errors;
  const json* ids = nullptr;
  if (!body->is_object()) {
    errors.TypeError("/", "expected {\"ids\": [task ids]}, got " + JsonTypeName(*body));
  } else if (!body->contains("ids")) {
    errors.TypeError("/ids", "the task ids to kill are missing");
  } else {
    ids = FieldReader(*body, "/", &errors).Array("ids");
  }
  std::vector<TaskId> task_ids;
  if (ids != nullptr) {
    for (size_t i = 0; i < ids->size(); ++i) {
      if (!(*ids)[i].is_string()) {
        errors.TypeError(IndexPath("/ids", i), "expected a string, got " + JsonTypeName((*ids)[i]));
        continue;
      }
      task_ids.push_back((*ids)[i].get<std::string>());
    }
  }
  if (!errors.empty()) return JsonResponse(422, errors.Body());
  for (const auto& id : task_ids) {
    if (!AppOfTaskId(id)) {
      return MessageResponse(400, "Invalid task id '" + id + "': it names no app");
    }
  }
  ChangeOutcome outcome = core->KillTasksById(task_ids, *scale, *wipe, *force);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  if (*scale) return DeploymentResponse(200, outcome.deployment);
  ServiceView view = core->View();
  std::map<PathId, const AppDefinition*> apps;
  for (const auto& app : view.apps) apps[app.app.id] = &app.app;
  json tasks = json::array();
  for (const auto& task : outcome.tasks) {
    auto app = apps.find(task.app_id);
    tasks.push_back(TaskJson(task, app == apps.end() ? nullptr : app->second));
  }
  return JsonResponse(200, {{"tasks", tasks}});
}

}  // namespace

void AddTaskDeleteRoutes(HttpServer& server, ServiceCore* core) {
  server.Route("POST", "/v2/tasks/delete/?",
               [core](const HttpRequest& r) { return DeleteTasks(core, r); });
}

}  // namespace stoa::service

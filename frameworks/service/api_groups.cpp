// /v2/groups: show (with Marathon's embeds), create, update, scale and delete
// groups of apps; and GET /v2/apps/{group}/*, the apps beneath a group.
#include <algorithm>

#include "frameworks/service/api_json.hpp"
#include "frameworks/service/api_routes.hpp"
#include "frameworks/service/api_util.hpp"
#include "frameworks/service/tree_plan.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

// What GET /v2/groups embeds: Marathon's group.groups, group.apps and
// group.pods (both of the first when none is asked for), and for the apps,
// what group.apps.<embed> asks.
struct GroupEmbeds {
  bool groups = false;
  bool apps = false;
  bool pods = false;
  Embeds app;
};

GroupEmbeds ParseGroupEmbeds(const std::vector<std::string>& values) {
  GroupEmbeds embeds;
  if (values.empty()) {
    embeds.groups = embeds.apps = true;
    return embeds;
  }
  std::vector<std::string> app_values;
  for (const auto& value : values) {
    if (value == "group.groups") embeds.groups = true;
    if (value == "group.apps") embeds.apps = true;
    if (value == "group.pods") embeds.pods = true;
    if (value.rfind("group.apps.", 0) == 0) app_values.push_back(value.substr(6));
  }
  embeds.app = ParseEmbeds(app_values);
  return embeds;
}

// The groups of a view, to render them as a tree.
class GroupIndex {
 public:
  explicit GroupIndex(const ServiceView& view) {
    std::vector<PathId> app_ids, group_ids;
    for (const auto& app : view.apps) {
      apps_[app.app.id] = &app;
      app_ids.push_back(app.app.id);
    }
    for (const auto& group : view.groups) {
      records_[group.id] = &group;
      group_ids.push_back(group.id);
    }
    ids_ = GroupIds(app_ids, group_ids);
  }

  bool Has(const PathId& id) const { return ids_.count(id) > 0; }

  // The apps beneath `id`, at any depth.
  std::vector<const AppView*> AppsBeneath(const PathId& id) const {
    std::vector<const AppView*> apps;
    for (const auto& [app_id, app] : apps_) {
      if (id.Contains(app_id)) apps.push_back(app);
    }
    return apps;
  }

  json Render(const PathId& id, const GroupEmbeds& embeds) const {
    json out = {{"id", id.ToString()}};
    if (embeds.apps) {
      json apps = json::array();
      for (const auto& [app_id, app] : apps_) {
        if (app_id.Parent() == id) apps.push_back(AppInfoJson(*app, embeds.app));
      }
      out["apps"] = apps;
    }
    if (embeds.groups) {
      json groups = json::array();
      for (const auto& group : ids_) {
        if (!group.root() && group.Parent() == id) groups.push_back(Render(group, embeds));
      }
      out["groups"] = groups;
    }
    if (embeds.pods) out["pods"] = json::array();
    json dependencies = json::array();
    if (auto record = records_.find(id); record != records_.end()) {
      for (const auto& dependency : record->second->dependencies) {
        dependencies.push_back(dependency.ToString());
      }
    }
    out["dependencies"] = dependencies;
    // The last change of anything beneath it.
    std::string version;
    for (const auto& [app_id, app] : apps_) {
      if (id.Contains(app_id)) version = std::max(version, app->app.version);
    }
    for (const auto& [group_id, record] : records_) {
      if (id.Contains(group_id)) version = std::max(version, record->version);
    }
    if (!version.empty()) out["version"] = version;
    return out;
  }

 private:
  std::map<PathId, const AppView*> apps_;
  std::map<PathId, const GroupRecord*> records_;
  std::set<PathId> ids_;
};

PathId UrlGroup(const HttpRequest& request) {
  return request.matches.empty() ? PathId() : PathId::Parse(request.matches.at(0));
}

HttpResponse UnknownGroup(const PathId& id) {
  return MessageResponse(404, "Group '" + id.ToString() + "' does not exist");
}

HttpResponse ShowGroup(ServiceCore* core, const HttpRequest& request) {
  PathId id = UrlGroup(request);
  ServiceView view = core->View();
  GroupIndex index(view);
  if (!index.Has(id)) return UnknownGroup(id);
  return JsonResponse(200, index.Render(id, ParseGroupEmbeds(ParamValues(request, "embed"))));
}

HttpResponse AppsBeneath(ServiceCore* core, const HttpRequest& request) {
  PathId id = UrlGroup(request);
  ServiceView view = core->View();
  GroupIndex index(view);
  if (!index.Has(id)) return UnknownGroup(id);
  // As GET /v2/apps/{id}: counts and deployments always come along.
  Embeds embeds = ParseEmbeds(ParamValues(request, "embed"));
  embeds.insert({"counts", "deployments"});
  json apps = json::array();
  for (const AppView* app : index.AppsBeneath(id)) apps.push_back(AppInfoJson(*app, embeds));
  return JsonResponse(200, {{"*", apps}});
}

// POST (`create`) and PUT.
HttpResponse ChangeGroup(ServiceCore* core, const HttpRequest& request, bool create) {
  HttpResponse error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  auto dry_run = BoolParam(request, "dryRun", false, &error);
  if (!dry_run) return error;
  auto body = JsonBody(request, &error);
  if (!body) return error;
  PathId url_id = UrlGroup(request);
  ChangeOutcome outcome = core->ChangeTree(
      [&](const AppMap& apps, const GroupMap& groups) {
        TreeChange change = PlanGroupUpdate(*body, url_id, create, apps, groups);
        change.group = GroupOfUpdate(*body, url_id);
        return change;
      },
      *force, !create && *dry_run);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  if (!create && *dry_run) {
    return JsonResponse(200, {{"steps", DeploymentInfoJson(outcome.deployment)["steps"]}});
  }
  HttpResponse response = DeploymentResponse(create ? 201 : 200, outcome.deployment);
  if (create) response.headers["Location"] = "/v2/groups" + GroupOfUpdate(*body, url_id).ToString();
  return response;
}

HttpResponse DeleteGroup(ServiceCore* core, const HttpRequest& request) {
  HttpResponse error;
  auto force = BoolParam(request, "force", false, &error);
  if (!force) return error;
  PathId id = UrlGroup(request);
  ChangeOutcome outcome = core->ChangeTree(
      [&](const AppMap& apps, const GroupMap& groups) {
        TreeChange change = PlanGroupDelete(id, apps, groups);
        change.group = id.Parent();  // as Marathon: the group it was removed from
        return change;
      },
      *force);
  if (outcome.refusal != Refusal::kNone) return RefusalResponse(outcome);
  return DeploymentResponse(200, outcome.deployment);
}

}  // namespace

void AddGroupAppsRoute(HttpServer& server, ServiceCore* core) {
  server.Route("GET", "/v2/apps(/.*)?/\\*",
               [core](const HttpRequest& r) { return AppsBeneath(core, r); });
}

void AddGroupRoutes(HttpServer& server, ServiceCore* core) {
  for (const char* path : {"/v2/groups/?", "/v2/groups/(.+)"}) {
    server.Route("GET", path, [core](const HttpRequest& r) { return ShowGroup(core, r); });
    server.Route("POST", path, [core](const HttpRequest& r) { return ChangeGroup(core, r, true); });
    server.Route("PUT", path, [core](const HttpRequest& r) { return ChangeGroup(core, r, false); });
    server.Route("DELETE", path, [core](const HttpRequest& r) { return DeleteGroup(core, r); });
  }
}

}  // namespace stoa::service

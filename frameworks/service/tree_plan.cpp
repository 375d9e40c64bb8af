#include "frameworks/service/tree_plan.hpp"

#include <climits>
#include <cmath>

#include "frameworks/service/app_json.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

TreeChange Refuse(Refusal refusal, std::string message) {
  TreeChange change;
  change.refusal = refusal;
  change.message = std::move(message);
  return change;
}

TreeChange Invalid(ValidationErrors errors) {
  TreeChange change;
  change.refusal = Refusal::kInvalid;
  change.errors = std::move(errors);
  return change;
}

std::string UnknownGroup(const PathId& id) {
  return "Group '" + id.ToString() + "' does not exist";
}

std::string NotChild(const std::string& given, const PathId& parent) {
  return "identifier " + given + " is not child of " + parent.ToString() +
         ". Hint: use relative paths.";
}

// Builds the state a group update leads to, group by group.
class GroupUpdater {
 public:
  GroupUpdater(const AppMap& apps, const GroupMap& groups, TreeChange* out)
      : existing_(GroupIds(apps, groups)), out_(out) {}

  // Applies `update` (an object) to the group `id`; `path` is where the
  // update lies in the body ("/" for the body itself).
  void Apply(const json& update, const PathId& id, const std::string& path) {
    FieldReader reader(update, path, &errors_);
    if (path != "/") {
      for (const char* field : {"scaleBy", "version"}) {
        if (reader.present(field)) {
          errors_.Add(reader.PathOf(field),
                      "only the group the request names takes " + std::string(field));
        }
      }
    }
    if (const json* groups = reader.Array("groups")) Groups(*groups, id, reader.PathOf("groups"));
    if (const json* apps = reader.Array("apps")) Apps(*apps, id, reader.PathOf("apps"));
    std::optional<std::vector<std::string>> dependencies = reader.Strings("dependencies");
    if (id.root()) return;  // the root has no record
    GroupRecord record;
    if (auto current = out_->groups.find(id); current != out_->groups.end()) {
      record = current->second;
    }
    record.id = id;
    record.version.clear();  // touched: it gets the change's version
    if (dependencies) {
      record.dependencies.clear();
      for (const auto& dependency : *dependencies) {
        record.dependencies.push_back(ResolveId(dependency, id));
      }
    }
    out_->groups[id] = std::move(record);
  }

  ValidationErrors& errors() { return errors_; }

 private:
  // `given` replaces the subgroups of `parent`: those not given go, with all
  // they hold.
  void Groups(const json& given, const PathId& parent, const std::string& path) {
    std::set<PathId> listed;
    for (size_t i = 0; i < given.size(); ++i) {
      std::string at = IndexPath(path, i);
      const json& item = given[i];
      if (!item.is_object()) {
        errors_.TypeError(at, "expected a group (a JSON object), got " + JsonTypeName(item));
        continue;
      }
      auto id_field = item.find("id");
      if (id_field == item.end() || !id_field->is_string()) {
        errors_.Add(FieldPath(at, "id"), "a group needs its id, a string");
        continue;
      }
      PathId id = ResolveId(id_field->get<std::string>(), parent);
      if (!ChildId(id, parent, id_field->get<std::string>(), FieldPath(at, "id"))) continue;
      if (!listed.insert(id).second) {
        errors_.Add(FieldPath(at, "id"), "group " + id.ToString() + " is given twice");
        continue;
      }
      Apply(item, id, at);
    }
    for (const PathId& group : existing_) {
      if (group.root() || !(group.Parent() == parent) || listed.count(group)) continue;
      Remove(group);
    }
  }

  // `given` replaces the apps right in `parent`.
  void Apps(const json& given, const PathId& parent, const std::string& path) {
    for (auto it = out_->apps.begin(); it != out_->apps.end();) {
      it = it->first.Parent() == parent ? out_->apps.erase(it) : std::next(it);
    }
    std::set<PathId> listed;
    for (size_t i = 0; i < given.size(); ++i) {
      std::string at = IndexPath(path, i);
      const json& item = given[i];
      if (!item.is_object()) {
        errors_.TypeError(at, "expected an app (a JSON object), got " + JsonTypeName(item));
        continue;
      }
      json app = item;
      if (auto id_field = item.find("id"); id_field != item.end() && id_field->is_string()) {
        PathId id = ResolveId(id_field->get<std::string>(), parent);
        if (!ChildId(id, parent, id_field->get<std::string>(), FieldPath(at, "id"))) continue;
        if (!listed.insert(id).second) {
          errors_.Add(FieldPath(at, "id"), "app " + id.ToString() + " is given twice");
          continue;
        }
        app["id"] = id.ToString();
      }
      // As Marathon: an app's dependencies are seen from its group too.
      if (auto dependencies = app.find("dependencies");
          dependencies != app.end() && dependencies->is_array()) {
        for (auto& dependency : *dependencies) {
          if (dependency.is_string()) {
            dependency = ResolveId(dependency.get<std::string>(), parent).ToString();
          }
        }
      }
      ParsedApp parsed = ParseApp(app);
      if (!parsed.app) {
        errors_.Merge(at, parsed.errors);
        continue;
      }
      out_->apps[parsed.app->id] = std::move(*parsed.app);
    }
  }

  bool ChildId(const PathId& id, const PathId& parent, const std::string& given,
               const std::string& path) {
    if (id.root() || !(id.Parent() == parent)) {
      errors_.Add(path, NotChild(given, parent));
      return false;
    }
    std::vector<std::string> problems = PathIdErrors(id);
    for (const auto& problem : problems) errors_.Add(path, problem);
    return problems.empty();
  }

  void Remove(const PathId& group) {
    for (auto it = out_->apps.begin(); it != out_->apps.end();) {
      it = group.Contains(it->first) ? out_->apps.erase(it) : std::next(it);
    }
    for (auto it = out_->groups.begin(); it != out_->groups.end();) {
      it = group.Contains(it->first) ? out_->groups.erase(it) : std::next(it);
    }
  }

  std::set<PathId> existing_;
  TreeChange* out_;
  ValidationErrors errors_;
};

// The groups above `id` (not the root) get records, so that they stay when
// what implied them goes, as Marathon's groups do.
void KeepAncestors(const PathId& id, TreeChange& change) {
  for (PathId at = id.Parent(); !at.root(); at = at.Parent()) {
    if (!change.groups.count(at)) change.groups[at] = GroupRecord{at, {}, ""};
  }
}

}  // namespace

std::set<PathId> GroupIds(const std::vector<PathId>& apps, const std::vector<PathId>& groups) {
  std::set<PathId> ids{PathId()};
  for (const auto& app : apps) {
    for (PathId at = app.Parent(); !at.root(); at = at.Parent()) ids.insert(at);
  }
  for (const auto& group : groups) {
    for (PathId at = group; !at.root(); at = at.Parent()) ids.insert(at);
  }
  return ids;
}

std::set<PathId> GroupIds(const AppMap& apps, const GroupMap& groups) {
  std::vector<PathId> app_ids, group_ids;
  for (const auto& [id, app] : apps) app_ids.push_back(id);
  for (const auto& [id, group] : groups) group_ids.push_back(id);
  return GroupIds(app_ids, group_ids);
}

PathId ResolveId(const std::string& text, const PathId& base) {
  if (!text.empty() && text.front() == '/') return PathId::Parse(text);
  return PathId::Parse(base.ToString() + "/" + text);
}

PathId GroupOfUpdate(const json& body, const PathId& url_id) {
  if (body.is_object()) {
    if (auto id = body.find("id"); id != body.end() && id->is_string()) {
      return ResolveId(id->get<std::string>(), url_id);
    }
  }
  return url_id;
}

TreeChange PlanGroupUpdate(const json& body, const PathId& url_id, bool create, const AppMap& apps,
                           const GroupMap& groups) {
  ValidationErrors errors;
  if (!body.is_object()) {
    errors.TypeError("/", "expected a group (a JSON object), got " + JsonTypeName(body));
    return Invalid(std::move(errors));
  }
  if (auto id = body.find("id"); id != body.end() && !id->is_null() && !id->is_string()) {
    errors.TypeError("/id", "expected a string, got " + JsonTypeName(*id));
    return Invalid(std::move(errors));
  }
  PathId id = GroupOfUpdate(body, url_id);
  if (!id.root()) {
    for (const auto& error : PathIdErrors(id)) errors.Add("/id", error);
    if (!errors.empty()) return Invalid(std::move(errors));
  }
  std::set<PathId> existing = GroupIds(apps, groups);
  if (create) {
    if (existing.count(id)) {
      return Refuse(Refusal::kConflict, "Group " + id.ToString() +
                                            " is already created. Use PUT to change this group.");
    }
    if (apps.count(id)) {
      return Refuse(Refusal::kConflict,
                    "An app with the path " + id.ToString() + " already exists.");
    }
  }
  TreeChange change;
  change.apps = apps;
  change.groups = groups;
  bool version = body.contains("version") && !body.at("version").is_null();
  bool scale = body.contains("scaleBy") && !body.at("scaleBy").is_null();
  if (version || scale) {
    // As Marathon: version and scaleBy stand alone (with the id at most).
    for (const auto& [key, value] : body.items()) {
      if (key != "id" && key != "version" && key != "scaleBy" && !value.is_null()) {
        errors.Add("/" + key, std::string("cannot be given with ") +
                                  (version ? "version" : "scaleBy") + ": they stand alone");
      }
    }
    if (version) {
      errors.Add("/version",
                 "rolling a group back to a version is not supported: PUT the group's "
                 "definition instead (apps roll back one by one with PUT /v2/apps/{id})");
    }
    FieldReader reader(body, "/", &errors);
    std::optional<double> factor = reader.Number("scaleBy", 0, 1e9);
    if (!errors.empty()) return Invalid(std::move(errors));
    if (!existing.count(id)) return Refuse(Refusal::kNotFound, UnknownGroup(id));
    for (auto& [app_id, app] : change.apps) {
      if (!id.Contains(app_id) || app.global) continue;  // global apps follow their agents
      double scaled = std::ceil(app.instances * *factor);
      app.instances = scaled >= INT_MAX ? INT_MAX : static_cast<int>(scaled);
    }
    return change;
  }
  GroupUpdater updater(apps, groups, &change);
  updater.Apply(body, id, "/");
  if (!updater.errors().empty()) return Invalid(std::move(updater.errors()));
  KeepAncestors(id, change);
  return change;
}

TreeChange PlanGroupDelete(const PathId& id, const AppMap& apps, const GroupMap& groups) {
  if (!GroupIds(apps, groups).count(id)) return Refuse(Refusal::kNotFound, UnknownGroup(id));
  TreeChange change;
  for (const auto& [app_id, app] : apps) {
    if (!id.Contains(app_id)) change.apps[app_id] = app;
  }
  for (const auto& [group_id, group] : groups) {
    if (!id.Contains(group_id)) change.groups[group_id] = group;
  }
  if (!id.root()) {
    // The group it was in stays, changed, as in Marathon.
    PathId parent = id.Parent();
    if (!parent.root()) {
      GroupRecord record =
          change.groups.count(parent) ? change.groups.at(parent) : GroupRecord{parent, {}, ""};
      record.version.clear();
      change.groups[parent] = std::move(record);
      KeepAncestors(parent, change);
    }
  }
  return change;
}

TreeChange PlanAppsUpdate(const json& body, bool partial, bool allow_create, const AppMap& apps,
                          const GroupMap& groups) {
  ValidationErrors errors;
  if (!body.is_array()) {
    errors.TypeError("/", "expected an array of apps, got " + JsonTypeName(body));
    return Invalid(std::move(errors));
  }
  TreeChange change;
  change.apps = apps;
  change.groups = groups;
  for (size_t i = 0; i < body.size(); ++i) {
    std::string at = IndexPath("/", i);
    const json& item = body[i];
    if (!item.is_object()) {
      errors.TypeError(at, "expected an app (a JSON object), got " + JsonTypeName(item));
      continue;
    }
    auto id_field = item.find("id");
    if (id_field == item.end() || !id_field->is_string()) {
      errors.Add(FieldPath(at, "id"), "each app of the array needs its id, a string");
      continue;
    }
    PathId id = PathId::Parse(id_field->get<std::string>());
    auto current = change.apps.find(id);
    if (current == change.apps.end() && !allow_create) {
      return Refuse(Refusal::kNotFound, "App '" + id.ToString() + "' does not exist");
    }
    ParsedApp parsed;
    if (current != change.apps.end() && partial) {
      parsed = ParseApp(MergeAppUpdate(AppSpecJson(current->second), item));
    } else {
      json whole = item;
      whole["id"] = id.ToString();
      parsed = ParseApp(whole);
    }
    if (!parsed.app) {
      errors.Merge(at, parsed.errors);
      continue;
    }
    parsed.app->id = id;
    change.apps[id] = std::move(*parsed.app);
  }
  if (!errors.empty()) return Invalid(std::move(errors));
  return change;
}

}  // namespace stoa::service

// Changes to several apps and groups at once, as Marathon makes them: the
// group API's create, update (apps and groups given replace the group's own;
// scaleBy scales every app beneath) and delete, and PUT/PATCH /v2/apps with an
// array. Each turns the current apps and explicit groups into the state to
// reach (a TreeChange for ServiceCore::ChangeTree), or refuses with Marathon's
// answer. Ids in a group's body are relative to that group ("web" in /shop is
// /shop/web; "../db" is /db), absolute ones must be its children. Pure.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "frameworks/service/core.hpp"

namespace stoa::service {

using AppMap = std::map<PathId, AppDefinition>;
using GroupMap = std::map<PathId, GroupRecord>;

// Every group there is: the root, the groups apps live in, the explicit ones,
// and the groups above each of them.
std::set<PathId> GroupIds(const AppMap& apps, const GroupMap& groups);
std::set<PathId> GroupIds(const std::vector<PathId>& apps, const std::vector<PathId>& groups);

// `text` as an id seen from `base`: absolute when it starts with '/'.
PathId ResolveId(const std::string& text, const PathId& base);

// POST /v2/groups[/{id}] (`create`) and PUT /v2/groups[/{id}]: `body` is
// Marathon's GroupUpdate, `url_id` the group the URL names (the root for
// /v2/groups); the body's `id` is seen from it.
TreeChange PlanGroupUpdate(const nlohmann::json& body, const PathId& url_id, bool create,
                           const AppMap& apps, const GroupMap& groups);
// The group a POST or PUT body names (for the Location header).
PathId GroupOfUpdate(const nlohmann::json& body, const PathId& url_id);

// DELETE /v2/groups[/{id}]: every app and group beneath `id` goes (the root
// itself stays).
TreeChange PlanGroupDelete(const PathId& id, const AppMap& apps, const GroupMap& groups);

// PUT (`allow_create`) and PATCH /v2/apps with an array of apps, each with its
// id; `partial` merges each into the app it names, as PUT /v2/apps/{id} does.
// Apps named twice are changed one after the other.
TreeChange PlanAppsUpdate(const nlohmann::json& body, bool partial, bool allow_create,
                          const AppMap& apps, const GroupMap& groups);

}  // namespace stoa::service

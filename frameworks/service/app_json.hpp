// Marathon's app JSON <-> AppDefinition. Parsing validates field by field as
// Marathon's schema and validators do, collecting every problem with its JSON
// path; rendering gives the app in the shape Marathon 1.x clients read.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "frameworks/service/app.hpp"
#include "frameworks/service/validation.hpp"

namespace stoa::service {

struct ParsedApp {
  std::optional<AppDefinition> app;  // set when `errors` is empty
  ValidationErrors errors;
};

// An app from a request body (POST /v2/apps, PUT /v2/apps/{id}). `version`
// and `versionInfo` are ignored (the service sets them); response-only fields
// a client may send back (tasks, counts, deployments) are dropped.
ParsedApp ParseApp(const nlohmann::json& body);

// The definition alone: every field that was given or that Stoa acts on,
// without versions. What a partial update is applied to.
nlohmann::json AppSpecJson(const AppDefinition& app);
// The app as GET /v2/apps/{id} shows it (without tasks and counts), with
// versions and Marathon's defaults for the fields that were not given.
nlohmann::json AppJson(const AppDefinition& app);

// A partial update (PATCH, or PUT with partialUpdate): each top-level field of
// `update` replaces the app's. Setting `cmd` drops `args` and the other way
// round, and `ports` replaces `portDefinitions` (and the other way round).
// REQUIRES: `update` is an object.
nlohmann::json MergeAppUpdate(nlohmann::json spec, const nlohmann::json& update);

// The service ports of an app: its port definitions' numbers.
std::vector<int> ServicePorts(const AppDefinition& app);

}  // namespace stoa::service

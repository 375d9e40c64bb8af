// How `stoa app list` and `stoa app show` print apps for people: aligned
// tables of what the service framework's /v2/apps answers.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace stoa::cli {

// One row per app: id, running/instances, health, resources, deployments, command.
std::string AppListText(const nlohmann::json& apps);
// One app (as GET /v2/apps/{id} gives it): its fields, then a row per task.
std::string AppDetailsText(const nlohmann::json& app);

}  // namespace stoa::cli

// Resources as the operator APIs render them: an object with a number per
// scalar ({"cpus": 2, "mem": 1024}) and the text form per range resource
// ({"ports": "[31000-32000]"}). The master's and the agent's /state agree.
#pragma once

#include <nlohmann/json.hpp>

#include "common/resources.hpp"

namespace stoa {

nlohmann::json ResourcesJson(const Resources& resources);

}  // namespace stoa

// Where an app can be reached: its instances that should get traffic, with
// their host and host ports, beside its service ports and labels. The one
// source `stoa dns` and `stoa lb` read (GET /v2/endpoints and
// /v2/apps/{id}/endpoints, a Stoa extension of Marathon's API).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "frameworks/service/core.hpp"

namespace stoa::service {

// Whether `task` of `app` should get traffic: running and reachable, not
// being killed, healthy when the app has health checks (a task with no result
// yet is not), and ready when it runs the app's current config and the app
// has a readiness check.
bool InRotation(const TaskRecord& task, const AppDefinition& app);

// {"id", "servicePorts", "portDefinitions", "labels", "tasksRunning",
//  "endpoints": [{"taskId", "host", "agentId", "ports", "version"}]}: the
// tasks InRotation, by task id.
nlohmann::json EndpointsJson(const AppView& view);

}  // namespace stoa::service

// The bodies of Marathon's events (/v2/events), field by field as Marathon's
// event bus documentation gives them, without "eventType" and "timestamp"
// (ServiceCore::Emit adds both). Deployment plans are in Marathon's light
// format (plan-format=light): no original and target root groups.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "frameworks/service/app.hpp"
#include "frameworks/service/records.hpp"

namespace stoa::service {

// api_post_event: an API request changed `app`.
nlohmann::json ApiPostEventJson(const std::string& client_ip, const std::string& uri,
                                const AppDefinition& app);
// status_update_event: `task` is now `state` (with the status's message).
nlohmann::json StatusUpdateEventJson(const TaskRecord& task, TaskState state,
                                     const std::string& message);
// instance_changed_event: `task`'s instance is now in the condition of `state`.
nlohmann::json InstanceChangedEventJson(const TaskRecord& task, TaskState state);
// Marathon's instance condition for a task state ("Running", "Killed", ...).
std::string InstanceCondition(TaskState state);
// app_terminated_event: every task of the deleted app has ended.
nlohmann::json AppTerminatedEventJson(const PathId& app);

// A deployment plan {id, steps: [{actions: [{action, app}]}], version}.
nlohmann::json DeploymentPlanJson(const Deployment& deployment);
// deployment_info (and the step events): `deployment` at its step of `action` on `app`.
nlohmann::json DeploymentInfoEventJson(const Deployment& deployment, const std::string& action,
                                       const PathId& app);
// deployment_success: `deployment` is done.
nlohmann::json DeploymentSuccessEventJson(const Deployment& deployment);
// deployment_failed: `deployment` ended without reaching its goal (reverted,
// rolled back by itself, or stopped), and why.
nlohmann::json DeploymentFailedEventJson(const Deployment& deployment, const std::string& reason);

// event_stream_attached / event_stream_detached: {remoteAddress}.
nlohmann::json EventStreamEventJson(const std::string& remote_address);

}  // namespace stoa::service

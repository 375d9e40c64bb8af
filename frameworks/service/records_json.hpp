// The stored forms of the service framework's records (JSON, so that an
// operator can read them with any storage tool).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "common/status.hpp"
#include "frameworks/service/app.hpp"
#include "frameworks/service/records.hpp"

namespace stoa::service {

// "TASK_RUNNING" -> kRunning; nullopt for an unknown name.
std::optional<TaskState> TaskStateNamed(const std::string& name);

nlohmann::json TaskRecordJson(const TaskRecord& task);
Result<TaskRecord> ParseTaskRecord(const nlohmann::json& json);

nlohmann::json DeploymentJson(const Deployment& deployment);
Result<Deployment> ParseDeployment(const nlohmann::json& json);

nlohmann::json GroupRecordJson(const GroupRecord& group);
Result<GroupRecord> ParseGroupRecord(const nlohmann::json& json);

// An app with its versions, as stored (and as the versions API returns it).
nlohmann::json StoredAppJson(const AppDefinition& app);
Result<AppDefinition> ParseStoredApp(const nlohmann::json& json);

}  // namespace stoa::service

// The core's side of the executor's checks: each health result a status
// update carries moves the task's TaskHealth on (Marathon's Health: first and
// last success, last failure and its cause, failures in a row), readiness
// comes from the check's HTTP status, and Marathon's health events go out.
#include <algorithm>

#include "common/logging.hpp"
#include "frameworks/service/app_checks.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {
namespace {

using json = nlohmann::json;

// An update the executor sent because its health check killed the task.
bool HealthKill(const TaskStatus& status) {
  return status.reason == Reason::kTaskHealthCheckStatusUpdated && status.healthy == false &&
         (status.state == TaskState::kKilling || IsTerminal(status.state));
}

}  // namespace

void ServiceCore::UpdateHealth(TaskRecord& record, const TaskStatus& status,
                               const AppDefinition* app) {
  TaskHealth& health = record.health;
  double at = status.timestamp > 0 ? status.timestamp : Now();
  std::string app_id = record.app_id.ToString();
  if (app != nullptr && !app->readiness_checks.empty() && status.check_status &&
      status.check_status->http_status_code) {
    const auto& codes = app->readiness_checks.front().http_status_codes_for_ready;
    // Ready once, as Marathon's readiness: a later answer does not undo it.
    if (std::find(codes.begin(), codes.end(), *status.check_status->http_status_code) !=
        codes.end()) {
      health.ready = true;
    }
  }
  if (app == nullptr || app->health_checks.empty() || !status.healthy) return;

  if (HealthKill(status)) {
    // Reported once: on KILLING, or on the end when KILLING was not seen.
    if (!record.kill_requested && record.state != TaskState::kKilling) {
      Logger("service")->warn("task {} of {} failed its health check and is killed: {}", record.id,
                              app_id, status.message);
      Emit("unhealthy_instance_kill_event",
           {{"appId", app_id},
            {"taskId", record.id},
            {"instanceId", record.id},
            {"version", record.version},
            {"reason",
             health.last_failure_cause.empty() ? status.message : health.last_failure_cause},
            {"host", record.host},
            {"slaveId", record.agent_id}});
    }
    health.reported = true;
    health.alive = false;
    return;
  }
  bool was_alive = health.reported && health.alive;
  if (status.state == TaskState::kRunning &&
      status.reason == Reason::kTaskHealthCheckStatusUpdated) {
    // A new result of the health check.
    if (*status.healthy) {
      if (health.first_success == 0) health.first_success = at;
      health.last_success = at;
      health.consecutive_failures = 0;
    } else {
      health.last_failure = at;
      health.last_failure_cause = status.message;
      ++health.consecutive_failures;
      json check = HealthChecksJson(app->health_checks).front();
      Emit("failed_health_check_event",
           {{"appId", app_id}, {"taskId", record.id}, {"healthCheck", check}});
    }
  } else if (!health.reported) {
    // The last result, as an answer to reconciliation says it (after a restart).
    if (*status.healthy) {
      health.first_success = health.last_success = at;
    } else {
      health.last_failure = at;
      health.last_failure_cause = status.message;
      health.consecutive_failures = 1;
    }
  } else {
    return;  // the result we have already, carried along by another update
  }
  health.reported = true;
  health.alive = *status.healthy;
  if (health.alive != was_alive) {
    Emit("health_status_changed_event", {{"appId", app_id},
                                         {"instanceId", record.id},
                                         {"version", record.version},
                                         {"alive", health.alive}});
  }
}

}  // namespace stoa::service

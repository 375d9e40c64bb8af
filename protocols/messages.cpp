#include "protocols/messages.hpp"

#include <cmath>

namespace stoa {

const char* ToString(TaskState state) {
  static const char* const kNames[] = {
      "TASK_STAGING",     "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
      "TASK_FAILED",      "TASK_KILLED",   "TASK_ERROR",   "TASK_LOST",    "TASK_DROPPED",
      "TASK_UNREACHABLE", "TASK_GONE",     "TASK_UNKNOWN",
  };
  return kNames[static_cast<int>(state)];
}

const char* ToString(Reason reason) {
  static const char* const kNames[] = {
      "REASON_NONE",
      "REASON_COMMAND_EXECUTOR_FAILED",
      "REASON_CONTAINER_LAUNCH_FAILED",
      "REASON_MEMORY_LIMIT",
      "REASON_PIDS_LIMIT",
      "REASON_CONTAINER_LIMITATION_DISK",
      "REASON_EXECUTOR_TERMINATED",
      "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
      "REASON_FRAMEWORK_REMOVED",
      "REASON_AGENT_REMOVED",
      "REASON_AGENT_RESTARTED",
      "REASON_AGENT_UNKNOWN",
      "REASON_AGENT_DISCONNECTED",
      "REASON_TASK_INVALID",
      "REASON_TASK_UNKNOWN",
      "REASON_TASK_KILLED_DURING_LAUNCH",
      "REASON_RECONCILIATION",
      "REASON_INVALID_OFFERS",
      "REASON_MASTER_DISCONNECTED",
      "REASON_KILLED_BY_FRAMEWORK",
      "REASON_AGENT_REREGISTERED",
      "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
      "REASON_TASK_CHECK_STATUS_UPDATED",
  };
  return kNames[static_cast<int>(reason)];
}

const char* ToString(Source source) {
  switch (source) {
    case Source::kMaster:
      return "SOURCE_MASTER";
    case Source::kAgent:
      return "SOURCE_AGENT";
    case Source::kExecutor:
      return "SOURCE_EXECUTOR";
  }
  return "SOURCE_UNKNOWN";
}

const char* ToString(CheckType type) {
  switch (type) {
    case CheckType::kHttp:
      return "HTTP";
    case CheckType::kTcp:
      return "TCP";
    case CheckType::kCommand:
      return "COMMAND";
  }
  return "UNKNOWN";
}

namespace {

Status CheckError(const std::string& kind, const CheckInfo& check) {
  auto bad = [&](const std::string& what) { return Status::Error(kind + ": " + what); };
  if (check.type == CheckType::kHttp || check.type == CheckType::kTcp) {
    if (check.port == 0 || check.port > 65535) {
      return bad("port " + std::to_string(check.port) + " is not 1 to 65535");
    }
  }
  if (check.type == CheckType::kHttp && check.scheme != "http" && check.scheme != "https") {
    return bad("scheme '" + check.scheme + "' is not http or https");
  }
  if (check.type == CheckType::kCommand && check.command.empty()) {
    return bad("a COMMAND check needs a command");
  }
  for (auto [name, value] :
       {std::pair{"delay", check.delay_seconds}, std::pair{"interval", check.interval_seconds},
        std::pair{"timeout", check.timeout_seconds}}) {
    if (!std::isfinite(value) || value < 0) {
      return bad(std::string(name) + " must be a finite number of seconds, 0 or more");
    }
  }
  if (check.interval_seconds <= 0) return bad("the interval must be longer than 0 seconds");
  if (check.timeout_seconds <= 0) return bad("the timeout must be longer than 0 seconds");
  return Status::Ok();
}

}  // namespace

Status ValidateCheck(const CheckInfo& check) { return CheckError("check", check); }

Status ValidateHealthCheck(const HealthCheck& health) {
  if (Status s = CheckError("health check", health.check); !s.ok()) return s;
  if (!std::isfinite(health.grace_period_seconds) || health.grace_period_seconds < 0) {
    return Status::Error(
        "health check: the grace period must be a finite number of seconds, 0 or more");
  }
  return Status::Ok();
}

const char* ToString(Operation::Type type) {
  switch (type) {
    case Operation::Type::kLaunch:
      return "LAUNCH";
    case Operation::Type::kLaunchGroup:
      return "LAUNCH_GROUP";
    case Operation::Type::kReserve:
      return "RESERVE";
    case Operation::Type::kUnreserve:
      return "UNRESERVE";
    case Operation::Type::kCreate:
      return "CREATE";
    case Operation::Type::kDestroy:
      return "DESTROY";
  }
  return "UNKNOWN";
}

bool IsTerminal(TaskState state) {
  switch (state) {
    case TaskState::kFinished:
    case TaskState::kFailed:
    case TaskState::kKilled:
    case TaskState::kError:
    case TaskState::kLost:
    case TaskState::kDropped:
    case TaskState::kGone:
      return true;
    default:
      return false;
  }
}

bool IsValidTransition(TaskState from, TaskState to) {
  if (IsTerminal(from)) return false;
  // An unreachable task may be found again (its agent reregisters) in any state.
  if (from == TaskState::kUnreachable) return true;
  switch (to) {
    case TaskState::kStaging:
      return false;
    case TaskState::kStarting:
      return from == TaskState::kStaging || from == TaskState::kStarting;
    case TaskState::kRunning:
      return from == TaskState::kStaging || from == TaskState::kStarting ||
             from == TaskState::kRunning;
    case TaskState::kKilling:
      return true;
    default:
      return true;  // terminal, UNREACHABLE, UNKNOWN: from any live state
  }
}

}  // namespace stoa

// The executor's configuration from its environment, and the pure helpers
// that describe how a task ended and which task ids can name a directory.
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "executors/executor.hpp"
#include "executors/executor_impl.hpp"

namespace stoa::executors {
namespace {

// ZeroMQ routing ids are at most 255 bytes; "executor-<id>-<pid>-<nonce>" must fit.
constexpr size_t kMaxExecutorIdBytes = 200;

}  // namespace

std::string SignalName(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  return abbreviation != nullptr ? std::string("SIG") + abbreviation
                                 : "signal " + std::to_string(signal);
}

Result<ExecutorConfig> ConfigFromEnvironment(
    const std::function<const char*(const char*)>& lookup) {
  ExecutorConfig config;
  std::vector<std::string> missing;
  auto required = [&](const char* name, std::string* out) {
    const char* value = lookup(name);
    if (value == nullptr || *value == '\0') {
      missing.emplace_back(name);
    } else {
      *out = value;
    }
  };
  required("STOA_AGENT_ENDPOINT", &config.agent_endpoint);
  required("STOA_FRAMEWORK_ID", &config.framework_id);
  required("STOA_EXECUTOR_ID", &config.executor_id);
  required("STOA_SANDBOX", &config.sandbox);
  required("STOA_AGENT_ID", &config.agent_id);
  // Optional here: the agent is the one that checks it (an agent from before
  // secrets existed starts executors without one).
  if (const char* secret = lookup("STOA_EXECUTOR_SECRET"); secret != nullptr)
    config.secret = secret;
  if (!missing.empty()) {
    std::string names;
    for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
    return Status::Error("missing environment variable" +
                         std::string(missing.size() > 1 ? "s " : " ") + names +
                         " (the agent sets them when it starts stoa-executor)");
  }

  std::vector<std::string> problems;
  if (!config.agent_endpoint.starts_with("ipc://") &&
      !config.agent_endpoint.starts_with("tcp://")) {
    problems.push_back("STOA_AGENT_ENDPOINT='" + config.agent_endpoint +
                       "' is not an agent address (expected ipc://PATH or tcp://HOST:PORT)");
  }
  if (config.executor_id.size() > kMaxExecutorIdBytes) {
    problems.push_back("STOA_EXECUTOR_ID is " + std::to_string(config.executor_id.size()) +
                       " bytes long; at most " + std::to_string(kMaxExecutorIdBytes) +
                       " are allowed");
  }
  std::error_code error;
  std::filesystem::path sandbox = std::filesystem::absolute(config.sandbox, error);
  if (error) {
    problems.push_back("STOA_SANDBOX='" + config.sandbox + "': " + error.message());
  } else {
    sandbox = sandbox.lexically_normal();
    if (!sandbox.has_filename() && sandbox.has_parent_path()) sandbox = sandbox.parent_path();
    if (!std::filesystem::is_directory(sandbox, error)) {
      problems.push_back("STOA_SANDBOX='" + config.sandbox + "' is not a directory" +
                         (error ? ": " + error.message() : ""));
    }
    config.sandbox = sandbox.string();
  }
  auto flag = [&](const char* name, bool* value) {
    const char* text = lookup(name);
    std::string given = text == nullptr ? "" : text;
    if (given == "1") {
      *value = true;
    } else if (!given.empty() && given != "0") {
      problems.push_back(std::string(name) + "='" + given + "' must be 0 or 1");
    }
  };
  flag("STOA_EXECUTOR_GROUP", &config.group);
  flag("STOA_EXECUTOR_STAYS", &config.stays);
  if (config.stays && !config.group) {
    problems.push_back("STOA_EXECUTOR_STAYS=1 is for task groups (STOA_EXECUTOR_GROUP=1)");
  }
  auto optional = [&](const char* name) {
    const char* value = lookup(name);
    return std::string(value == nullptr ? "" : value);
  };
  config.task_user = optional("STOA_TASK_USER");
  config.rootfs = optional("STOA_ROOTFS");
  config.rootfs_sandbox = optional("STOA_ROOTFS_SANDBOX");
  if (const char* capabilities = lookup("STOA_TASK_CAPABILITIES"); capabilities != nullptr) {
    Result<isolators::CapabilitySet> set = isolators::ParseCapabilities(capabilities);
    if (set.ok()) {
      config.task_capabilities = *set;
    } else {
      problems.push_back("STOA_TASK_CAPABILITIES: " + set.error());
    }
  }
  if (!config.rootfs.empty() && (config.rootfs[0] != '/' || config.rootfs_sandbox.empty() ||
                                 config.rootfs_sandbox[0] != '/')) {
    problems.push_back("STOA_ROOTFS='" + config.rootfs + "' and STOA_ROOTFS_SANDBOX='" +
                       config.rootfs_sandbox + "' must both be absolute paths");
  }
  if (!problems.empty()) {
    std::string text;
    for (const auto& problem : problems) text += (text.empty() ? "" : "; ") + problem;
    return Status::Error(text);
  }
  return config;
}

Termination DescribeTermination(int wait_status, bool kill_requested) {
  Termination termination;
  if (WIFEXITED(wait_status)) {
    int code = WEXITSTATUS(wait_status);
    termination.exit_status = code;
    if (kill_requested) {
      termination.state = TaskState::kKilled;
      termination.message = "Command killed";
    } else if (code == 0) {
      termination.state = TaskState::kFinished;
      termination.message = "Command exited with status 0";
    } else {
      termination.state = TaskState::kFailed;
      termination.reason = Reason::kCommandExecutorFailed;
      termination.message = "Command exited with status " + std::to_string(code);
    }
    return termination;
  }
  termination.exit_status = wait_status;
  if (kill_requested) {
    termination.state = TaskState::kKilled;
    termination.message = "Command killed";
    return termination;
  }
  termination.state = TaskState::kFailed;
  termination.reason = Reason::kCommandExecutorFailed;
  if (WIFSIGNALED(wait_status)) {
    termination.message = "Command terminated by signal " + SignalName(WTERMSIG(wait_status));
    if (WCOREDUMP(wait_status)) termination.message += " (core dumped)";
  } else {
    termination.message = "Command ended with wait status " + std::to_string(wait_status);
  }
  return termination;
}

Status ValidateTaskIdForPath(const TaskId& task_id) {
  if (task_id.empty()) return Status::Error("the task id is empty");
  if (task_id == "." || task_id == "..") {
    return Status::Error("task id '" + task_id + "' cannot name a sandbox directory");
  }
  if (task_id.find('/') != std::string::npos || task_id.find('\0') != std::string::npos) {
    return Status::Error("task id '" + task_id +
                         "' contains '/' or NUL and cannot name a sandbox directory");
  }
  return Status::Ok();
}

}  // namespace stoa::executors

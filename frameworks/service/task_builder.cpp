#include "frameworks/service/task_builder.hpp"

#include <cctype>

#include "frameworks/service/validation.hpp"

namespace stoa::service {
namespace {

// Marathon's limit on label variables: longer keys and values are left out.
constexpr size_t kMaxVariableLength = 512;
constexpr std::string_view kLabelPrefix = "MARATHON_APP_LABEL_";

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// A label key as a variable name: runs of anything but [A-Za-z0-9_] become '_'.
std::string VariableName(const std::string& key) {
  std::string out;
  bool in_run = false;
  for (char c : key) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (keep) {
      out += c;
      in_run = false;
    } else if (!in_run) {
      out += '_';
      in_run = true;
    }
  }
  return Upper(out);
}

// The host port a check of `task` targets: `port` when given, else the host
// port of the app's port `index`; 0 when there is none.
int CheckPort(const TaskRecord& task, std::optional<int> port, std::optional<int> index) {
  if (port && *port > 0) return *port;
  size_t at = static_cast<size_t>(index.value_or(0));
  return at < task.ports.size() ? task.ports[at] : 0;
}

// Marathon's health check as the executor's: every protocol (HTTP, HTTPS, TCP,
// COMMAND and MESOS_*) runs next to the task.
std::optional<stoa::HealthCheck> ExecutorHealthCheck(const HealthCheck& check,
                                                     const TaskRecord& task) {
  stoa::HealthCheck health;
  CheckInfo& probe = health.check;
  const std::string& protocol = check.protocol;
  bool mesos_level = protocol == "COMMAND" || protocol.rfind("MESOS_", 0) == 0;
  if (protocol == "COMMAND") {
    probe.type = CheckType::kCommand;
    probe.command = check.command;
  } else {
    probe.type = protocol == "TCP" || protocol == "MESOS_TCP" ? CheckType::kTcp : CheckType::kHttp;
    probe.scheme = protocol == "HTTPS" || protocol == "MESOS_HTTPS" ? "https" : "http";
    probe.path = check.path.empty() ? "/" : check.path;
    int port = CheckPort(task, check.port, check.port_index);
    if (port <= 0) return std::nullopt;
    probe.port = static_cast<uint32_t>(port);
  }
  probe.delay_seconds = check.delay_seconds;
  probe.interval_seconds = check.interval_seconds;
  probe.timeout_seconds = check.timeout_seconds;
  health.grace_period_seconds = check.grace_period_seconds;
  // Marathon's own HTTP and TCP checks never kill with 0; its Mesos-level
  // ones (COMMAND, MESOS_*) kill at the first failure then.
  int failures = check.max_consecutive_failures;
  if (mesos_level && failures == 0) failures = 1;
  health.consecutive_failures = static_cast<uint32_t>(failures);
  return health;
}

// Marathon's readiness check as the executor's check: an HTTP(S) GET from the
// task's start on, whose status code the core compares with the codes for ready.
std::optional<CheckInfo> ExecutorReadinessCheck(const AppDefinition& app,
                                                const ReadinessCheck& check,
                                                const TaskRecord& task) {
  std::optional<int> index;
  for (size_t i = 0; i < app.port_definitions.size(); ++i) {
    if (app.port_definitions[i].name == check.port_name) index = static_cast<int>(i);
  }
  if (!index) return std::nullopt;
  int port = CheckPort(task, std::nullopt, index);
  if (port <= 0) return std::nullopt;
  CheckInfo probe;
  probe.type = CheckType::kHttp;
  probe.scheme = check.protocol == "HTTPS" ? "https" : "http";
  probe.port = static_cast<uint32_t>(port);
  probe.path = check.path;
  probe.delay_seconds = 0;
  probe.interval_seconds = check.interval_seconds;
  probe.timeout_seconds = check.timeout_seconds;
  return probe;
}

}  // namespace

std::map<std::string, std::string> TaskEnvironment(const AppDefinition& app,
                                                   const TaskRecord& task) {
  std::map<std::string, std::string> env;
  env["MESOS_TASK_ID"] = task.id;
  env["MARATHON_APP_ID"] = app.id.ToString();
  env["MARATHON_APP_VERSION"] = task.version;
  env["MARATHON_APP_RESOURCE_CPUS"] = NumberText(app.cpus);
  env["MARATHON_APP_RESOURCE_MEM"] = NumberText(app.mem);
  env["MARATHON_APP_RESOURCE_DISK"] = NumberText(app.disk);
  env["MARATHON_APP_RESOURCE_GPUS"] = std::to_string(app.gpus);
  std::string names;
  for (const auto& [key, value] : app.labels) {
    if (key.size() + kLabelPrefix.size() >= kMaxVariableLength ||
        value.size() >= kMaxVariableLength) {
      continue;
    }
    std::string name = VariableName(key);
    names += (names.empty() ? "" : " ") + name;
    env[std::string(kLabelPrefix) + name] = value;
  }
  env["MARATHON_APP_LABELS"] = names;

  std::string ports;
  for (size_t i = 0; i < task.ports.size(); ++i) {
    std::string port = std::to_string(task.ports[i]);
    env["PORT" + std::to_string(i)] = port;
    ports += (i == 0 ? "" : ",") + port;
    if (i < app.port_definitions.size()) {
      const PortDefinition& definition = app.port_definitions[i];
      // By the port asked for (the service port), or by the host port when none was.
      env["PORT_" + (definition.port != 0 ? std::to_string(definition.port) : port)] = port;
      if (!definition.name.empty()) env["PORT_" + Upper(definition.name)] = port;
    }
  }
  if (!task.ports.empty()) {
    env["PORT"] = std::to_string(task.ports[0]);
    env["PORTS"] = ports;
  }
  env["HOST"] = task.host;
  for (const auto& [name, value] : app.env) env[name] = value;  // the app's own win
  return env;
}

TaskInfo BuildTask(const AppDefinition& app, const TaskRecord& task, const InstanceMatch& match) {
  TaskInfo info;
  info.task_id = task.id;
  info.name = app.id.ToString();
  info.agent_id = task.agent_id;
  info.resources = match.resources;
  if (app.args && !app.args->empty()) {
    info.command.shell = false;
    info.command.value = app.args->front();
    info.command.arguments = *app.args;
  } else {
    info.command.shell = true;
    info.command.value = app.cmd.value_or("");
  }
  if (app.user) info.command.user = *app.user;
  for (const auto& [name, value] : TaskEnvironment(app, task)) {
    info.command.environment.emplace_back(name, value);
  }
  for (const auto& [key, value] : app.labels) info.labels.emplace_back(key, value);
  if (app.task_kill_grace_period_seconds) {
    info.kill_grace_period_ms = int64_t{*app.task_kill_grace_period_seconds} * 1000;
  }
  if (!app.health_checks.empty()) {
    info.health_check = ExecutorHealthCheck(app.health_checks.front(), task);
  }
  if (!app.readiness_checks.empty()) {
    info.check = ExecutorReadinessCheck(app, app.readiness_checks.front(), task);
  }
  if (app.container) {
    info.container.rootfs = app.container->rootfs;
    for (const auto& volume : app.container->volumes) {
      info.container.volumes.push_back(
          Volume{volume.host_path, volume.container_path, volume.read_only});
    }
  }
  return info;
}

}  // namespace stoa::service

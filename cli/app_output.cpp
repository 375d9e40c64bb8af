#include "cli/app_output.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/table.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

std::string Number(const json& value) {
  if (!value.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value.get<double>());
  return text;
}

// The command line: `cmd`, or `args` joined by spaces.
std::string Command(const json& app) {
  if (app.contains("cmd") && app["cmd"].is_string()) return app["cmd"];
  std::string joined;
  for (const auto& arg : app.value("args", json::array())) {
    if (arg.is_string()) joined += (joined.empty() ? "" : " ") + arg.get<std::string>();
  }
  return joined.empty() ? "-" : joined;
}

bool HasHealthChecks(const json& app) {
  const json checks = app.value("healthChecks", json::array());
  return checks.is_array() && !checks.empty();
}

std::string Deployments(const json& app) {
  std::string ids;
  for (const auto& deployment : app.value("deployments", json::array())) {
    if (deployment.is_object() && deployment.contains("id")) {
      ids += (ids.empty() ? "" : ", ") + deployment["id"].get<std::string>();
    }
  }
  return ids;
}

std::string TaskHealth(const json& task, bool checked) {
  if (!checked) return "-";
  const json results = task.value("healthCheckResults", json::array());
  if (!results.is_array() || results.empty()) return "unknown";
  for (const auto& result : results) {
    if (!result.value("alive", false)) return "unhealthy";
  }
  return "healthy";
}

std::string Joined(const json& values) {
  std::string text;
  for (const auto& value : values) {
    text +=
        (text.empty() ? "" : ",") + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return text.empty() ? "-" : text;
}

}  // namespace

std::string AppListText(const json& apps) {
  if (apps.empty()) return "no apps (deploy one with `stoa app deploy FILE.json`)\n";
  Table table({"ID", "RUNNING", "HEALTHY", "CPUS", "MEM", "DEPLOYMENT", "CMD"});
  for (const auto& app : apps) {
    std::string deployments = Deployments(app);
    table.Add({app.value("id", "?"),
               std::to_string(app.value("tasksRunning", 0)) + "/" +
                   std::to_string(app.value("instances", 0)),
               HasHealthChecks(app) ? std::to_string(app.value("tasksHealthy", 0)) : "-",
               Number(app.value("cpus", json())), Number(app.value("mem", json())),
               deployments.empty() ? "-" : Truncated(deployments, 36),
               Truncated(Command(app), 48)});
  }
  return table.Render();
}

std::string AppDetailsText(const json& app) {
  bool checked = HasHealthChecks(app);
  Table fields({"app", app.value("id", "?")});
  fields.Add({"version", app.value("version", "-")});
  fields.Add({"command", Command(app)});
  std::string counts = std::to_string(app.value("tasksRunning", 0)) + " running, " +
                       std::to_string(app.value("tasksStaged", 0)) + " staging";
  if (checked) {
    counts += ", " + std::to_string(app.value("tasksHealthy", 0)) + " healthy, " +
              std::to_string(app.value("tasksUnhealthy", 0)) + " unhealthy";
  }
  fields.Add({"instances", std::to_string(app.value("instances", 0)) + " (" + counts + ")"});
  fields.Add({"resources", "cpus " + Number(app.value("cpus", json())) + ", mem " +
                               Number(app.value("mem", json())) + " MiB, disk " +
                               Number(app.value("disk", json())) + " MiB"});
  fields.Add({"service ports", Joined(app.value("ports", json::array()))});
  if (checked) {
    std::string checks;
    for (const auto& check : app["healthChecks"]) {
      std::string one = check.value("protocol", "HTTP");
      if (check.contains("path") && check["path"].is_string())
        one += " " + check["path"].get<std::string>();
      if (check.contains("portIndex")) one += " on port index " + check["portIndex"].dump();
      checks += (checks.empty() ? "" : "; ") + one;
    }
    fields.Add({"health checks", checks});
  }
  std::string deployments = Deployments(app);
  fields.Add({"deployment", deployments.empty() ? "none in progress" : deployments});
  if (auto failure = app.find("lastTaskFailure"); failure != app.end() && failure->is_object()) {
    fields.Add({"last failure",
                failure->value("state", "") + " of " + failure->value("taskId", "") + " on " +
                    failure->value("host", "") + " at " + failure->value("timestamp", "") + ": " +
                    failure->value("message", "")});
  }
  std::string text = fields.Render();
  const json tasks = app.value("tasks", json::array());
  if (tasks.empty()) return text + "\nno tasks\n";
  Table rows({"TASK", "STATE", "HOST", "PORTS", "HEALTH", "STARTED"});
  for (const auto& task : tasks) {
    rows.Add({task.value("id", "?"), task.value("state", "?"), task.value("host", "-"),
              Joined(task.value("ports", json::array())), TaskHealth(task, checked),
              task.value("startedAt", "-")});
  }
  return text + "\n" + rows.Render();
}

}  // namespace stoa::cli

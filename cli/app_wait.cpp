#include "cli/app_wait.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/progress_line.hpp"
#include "common/duration.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

constexpr double kPollSeconds = 0.25;
constexpr double kUnreachableSeconds = 5;

// Where the app stands, as the service shows it.
struct Standing {
  bool app_exists = false;
  int instances = 0, running = 0, staged = 0, healthy = 0, unhealthy = 0;
  bool health_checks = false;
  std::string version;
  std::string last_failure;  // "TASK_FAILED: why" of the newest failure, with its task id
  std::string last_failure_task;
};

Result<Standing> ReadStanding(ServiceClient& client, const std::string& app_id, bool removal) {
  Standing standing;
  // A removed app is gone from every listing at once; its StopApplication
  // deployment is what lasts until its tasks are.
  if (removal) return standing;
  auto reply = client.Call("GET", AppPath(app_id));
  if (!reply.ok()) return reply.status();
  if (reply->status == 404) return standing;
  if (reply->status != 200) return Status::Error(client.Refusal(*reply));
  json app = json::parse(reply->body, nullptr, false).value("app", json::object());
  standing.app_exists = true;
  standing.version = app.value("version", "");
  standing.instances = app.value("instances", 0);
  standing.running = app.value("tasksRunning", 0);
  standing.staged = app.value("tasksStaged", 0);
  standing.healthy = app.value("tasksHealthy", 0);
  standing.unhealthy = app.value("tasksUnhealthy", 0);
  standing.health_checks = !app.value("healthChecks", json::array()).empty();
  if (auto failure = app.find("lastTaskFailure"); failure != app.end() && failure->is_object()) {
    standing.last_failure_task = failure->value("taskId", "");
    standing.last_failure = failure->value("state", "") + ": " + failure->value("message", "");
  }
  return standing;
}

bool AtGoal(const Standing& s, const WaitOptions& options) {
  if (options.removal) return true;  // the deployment ends when no task is left
  if (!options.version.empty() && s.version != options.version) return false;
  return s.app_exists && s.running == s.instances && s.staged == 0 && s.unhealthy == 0;
}

std::string Describe(const Standing& s, bool removal) {
  if (removal) return "stopping its tasks";
  if (!s.app_exists) return "the app is gone";
  std::string text = std::to_string(s.running) + "/" + std::to_string(s.instances) + " running";
  if (s.staged > 0) text += ", " + std::to_string(s.staged) + " staging";
  if (s.health_checks) text += ", " + std::to_string(s.healthy) + " healthy";
  if (s.unhealthy > 0) text += ", " + std::to_string(s.unhealthy) + " unhealthy";
  return text;
}

Result<bool> DeploymentListed(ServiceClient& client, const std::string& deployment_id) {
  auto deployments = client.Json("GET", "/v2/deployments");
  if (!deployments.ok()) return deployments.status();
  if (!deployments->is_array()) return Status::Error("/v2/deployments did not answer a JSON array");
  for (const auto& deployment : *deployments) {
    if (deployment.value("id", "") == deployment_id) return true;
  }
  return false;
}

}  // namespace

int WaitForDeployment(ServiceClient& client, const std::string& app_id,
                      const std::string& deployment_id, const WaitOptions& options) {
  FILE* out = options.quiet_stdout ? stderr : stdout;
  ProgressLine progress(out);
  double start = MonotonicSeconds();
  double unreachable_since = -1;
  std::string failure_at_start;
  bool first = true;
  Standing standing;
  while (true) {
    Result<bool> listed = DeploymentListed(client, deployment_id);
    Result<Standing> read = listed.ok() ? ReadStanding(client, app_id, options.removal)
                                        : Result<Standing>(listed.status());
    double now = MonotonicSeconds();
    if (!read.ok()) {
      if (unreachable_since < 0) unreachable_since = now;
      if (now - unreachable_since >= kUnreachableSeconds) {
        progress.End();
        std::fprintf(stderr, "%s: %s\n", options.command.c_str(), read.error().c_str());
        return 1;
      }
    } else {
      unreachable_since = -1;
      standing = *read;
      if (first) failure_at_start = standing.last_failure_task;
      first = false;
      std::string line = options.verb + " " + app_id + ": " + Describe(standing, options.removal);
      if (!standing.last_failure_task.empty() && standing.last_failure_task != failure_at_start) {
        line += "; last failure: " + standing.last_failure;
      }
      progress.Show(line);
      if (!*listed) break;
    }
    if (options.timeout > 0 && now - start >= options.timeout) {
      progress.End();
      std::fprintf(stderr,
                   "%s: %s did not reach its goal within %s (%s); the deployment %s goes on: "
                   "`stoa app show %s` shows where it stands\n",
                   options.command.c_str(), app_id.c_str(), FormatDuration(options.timeout).c_str(),
                   Describe(standing, options.removal).c_str(), deployment_id.c_str(),
                   app_id.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(kPollSeconds));
  }
  progress.End();
  if (!AtGoal(standing, options)) {
    std::string why = "a task ended since";
    if (!options.removal && !standing.app_exists) {
      why = "the app was removed";
    } else if (!options.removal && !options.version.empty() &&
               standing.version != options.version) {
      why = "another change (version " + standing.version + ") superseded it";
    }
    std::fprintf(stderr, "%s: the deployment %s ended with %s not at its goal (%s): %s\n",
                 options.command.c_str(), deployment_id.c_str(), app_id.c_str(),
                 Describe(standing, options.removal).c_str(), why.c_str());
    return 1;
  }
  std::fprintf(out, "%s %s: %s (%.1f s)\n", options.done_verb.c_str(), app_id.c_str(),
               options.removal ? "its tasks are gone" : Describe(standing, false).c_str(),
               MonotonicSeconds() - start);
  std::fflush(out);
  return 0;
}

}  // namespace stoa::cli

// `stoa app`: deploy, list, show, scale, restart, roll back and remove apps of
// the service framework over its Marathon API; changes wait for their
// deployment unless --no-wait.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/app_client.hpp"
#include "cli/app_output.hpp"
#include "cli/app_wait.hpp"
#include "cli/commands.hpp"
#include "cli/json_file.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

struct AppFlags {
  std::string service;  // empty: $STOA_SERVICE, else kDefaultServiceUrl
  bool json = false;
  bool no_wait = false;
  bool force = false;
  std::string timeout = "0secs";
  double timeout_seconds = 0;
  std::string file;
  std::string id;
  int instances = 0;
  std::string version;
};

// What one subcommand does once its flags are parsed; returns the exit code.
using Action = int (*)(const AppFlags&, ServiceClient&, const std::string& command);

std::optional<ServiceClient> Connect(const AppFlags& flags, const std::string& command) {
  auto address = ResolveAddress(kServiceApi, flags.service);
  if (!address.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), address.error().c_str());
    return std::nullopt;
  }
  return ServiceClient(*address);
}

// The deployment a change started, from Marathon's header or its body.
std::string DeploymentId(const HttpReply& reply, const json& body) {
  if (auto header = reply.headers.find("Marathon-Deployment-Id"); header != reply.headers.end()) {
    return header->second;
  }
  if (body.contains("deploymentId") && body["deploymentId"].is_string()) {
    return body["deploymentId"];
  }
  for (const auto& deployment : body.value("deployments", json::array())) {
    if (deployment.contains("id")) return deployment["id"];
  }
  return "";
}

WaitOptions Verbs(const char* verb, const char* done_verb) {
  WaitOptions options;
  options.verb = verb;
  options.done_verb = done_verb;
  return options;
}

// Sends a change, then waits for its deployment (unless --no-wait).
int Change(const AppFlags& flags, ServiceClient& client, const std::string& command,
           const std::string& method, const std::string& path, const std::string& body,
           std::string app_id, WaitOptions wait, const std::string& what) {
  auto reply = client.Call(method, path, body);
  if (!reply.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), reply.error().c_str());
    return 1;
  }
  if (reply->status < 200 || reply->status >= 300) {
    std::fprintf(stderr, "%s: the service refused %s: %s\n", command.c_str(), what.c_str(),
                 client.Refusal(*reply).c_str());
    return 1;
  }
  json answer = json::parse(reply->body, nullptr, false);
  if (answer.is_discarded()) answer = json::object();
  std::string deployment = DeploymentId(*reply, answer);
  if (answer.contains("id") && answer["id"].is_string()) app_id = answer["id"];  // as resolved
  FILE* out = flags.json ? stderr : stdout;
  std::fprintf(out, "%s %s (deployment %s)\n", wait.verb.c_str(), app_id.c_str(),
               deployment.empty() ? "none" : deployment.c_str());
  std::fflush(out);
  int code = 0;
  if (!flags.no_wait && !deployment.empty()) {
    wait.command = command;
    wait.timeout = flags.timeout_seconds;
    if (answer.contains("version") && answer["version"].is_string())
      wait.version = answer["version"];
    wait.quiet_stdout = flags.json;
    code = WaitForDeployment(client, app_id, deployment, wait);
  }
  if (flags.json) PrintJson(answer);
  return code;
}

std::string ForceQuery(const AppFlags& flags, char separator) {
  return flags.force ? std::string(1, separator) + "force=true" : "";
}

int Deploy(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  auto definition = ReadJsonObjectFile(flags.file, "an app definition (a JSON object with an id)");
  if (!definition.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), definition.error().c_str());
    return 2;
  }
  // With an id the app may exist: then the file replaces its definition (PUT).
  // Without one, POST lets the service say what is missing.
  auto id = definition->find("id");
  if (id == definition->end() || !id->is_string()) {
    return Change(flags, client, command, "POST", "/v2/apps" + ForceQuery(flags, '?'),
                  definition->dump(), "(no id)", Verbs("deploying", "deployed"),
                  InputName(flags.file));
  }
  std::string app_id = NormalizeAppId(id->get<std::string>());
  auto existing = client.Call("GET", AppPath(app_id));
  if (!existing.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), existing.error().c_str());
    return 1;
  }
  WaitOptions wait = Verbs("deploying", "deployed");
  if (existing->status == 200) {
    return Change(flags, client, command, "PUT",
                  AppPath(app_id) + "?partialUpdate=false" + ForceQuery(flags, '&'),
                  definition->dump(), app_id, wait, InputName(flags.file));
  }
  return Change(flags, client, command, "POST", "/v2/apps" + ForceQuery(flags, '?'),
                definition->dump(), app_id, wait, InputName(flags.file));
}

int List(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  auto body = client.Json("GET", "/v2/apps");
  if (!body.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), body.error().c_str());
    return 1;
  }
  json apps = body->value("apps", json::array());
  if (flags.json) {
    PrintJson(apps);
  } else {
    std::printf("%s", AppListText(apps).c_str());
  }
  return 0;
}

int Show(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  auto body = client.Json("GET", AppPath(flags.id));
  if (!body.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), body.error().c_str());
    return 1;
  }
  json app = body->value("app", json::object());
  if (flags.json) {
    PrintJson(app);
  } else {
    std::printf("%s", AppDetailsText(app).c_str());
  }
  return 0;
}

int Scale(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  std::string id = NormalizeAppId(flags.id);
  return Change(flags, client, command, "PUT", AppPath(id) + ForceQuery(flags, '?'),
                json{{"instances", flags.instances}}.dump(), id, Verbs("scaling", "scaled"),
                "the scale of " + id);
}

int Restart(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  std::string id = NormalizeAppId(flags.id);
  return Change(flags, client, command, "POST", AppPath(id) + "/restart" + ForceQuery(flags, '?'),
                "", id, Verbs("restarting", "restarted"), "the restart of " + id);
}

// The version before the current one, from /v2/apps/{id}/versions (newest first).
Result<std::string> PreviousVersion(ServiceClient& client, const std::string& id) {
  auto app = client.Json("GET", AppPath(id));
  if (!app.ok()) return app.status();
  std::string current = app->value("app", json::object()).value("version", "");
  auto listed = client.Json("GET", AppPath(id) + "/versions");
  if (!listed.ok()) return listed.status();
  std::vector<std::string> versions;
  for (const auto& version : listed->value("versions", json::array())) {
    if (version.is_string()) versions.push_back(version);
  }
  auto at = std::find(versions.begin(), versions.end(), current);
  size_t next = at == versions.end() ? 1 : static_cast<size_t>(at - versions.begin()) + 1;
  if (next >= versions.size()) {
    return Status::Error(id + " has no version before " +
                         (current.empty() ? "its current one" : current) +
                         ": there is nothing to roll back to");
  }
  return versions[next];
}

int Rollback(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  std::string id = NormalizeAppId(flags.id);
  std::string version = flags.version;
  if (version.empty()) {
    auto previous = PreviousVersion(client, id);
    if (!previous.ok()) {
      std::fprintf(stderr, "%s: %s\n", command.c_str(), previous.error().c_str());
      return 1;
    }
    version = *previous;
  }
  std::fprintf(flags.json ? stderr : stdout, "rolling %s back to version %s\n", id.c_str(),
               version.c_str());
  return Change(flags, client, command, "PUT", AppPath(id) + ForceQuery(flags, '?'),
                json{{"version", version}}.dump(), id, Verbs("rolling back", "rolled back"),
                "the rollback of " + id);
}

int Remove(const AppFlags& flags, ServiceClient& client, const std::string& command) {
  std::string id = NormalizeAppId(flags.id);
  WaitOptions wait = Verbs("removing", "removed");
  wait.removal = true;
  return Change(flags, client, command, "DELETE", AppPath(id), "", id, wait,
                "the removal of " + id);
}

CLI::App* AddSubcommand(CLI::App* parent, const std::shared_ptr<AppFlags>& flags, int* exit_code,
                        const char* name, const char* description, Action action) {
  CLI::App* cmd = parent->add_subcommand(name, description);
  cmd->add_option("--service", flags->service,
                  std::string("The service framework, http://HOST:PORT (default: $STOA_SERVICE, "
                              "else ") +
                      kDefaultServiceUrl + ", where `stoa up` starts it)");
  cmd->add_flag("--json", flags->json, "Print the service's JSON instead of tables");
  std::string command = std::string("stoa app ") + name;
  cmd->callback([flags, exit_code, action, command] {
    flags->timeout_seconds = DurationFlag("timeout", flags->timeout);
    std::optional<ServiceClient> client = Connect(*flags, command);
    if (!client) {
      *exit_code = 2;
      return;
    }
    try {
      *exit_code = action(*flags, *client, command);
    } catch (const json::exception& e) {
      std::fprintf(stderr, "%s: the service at %s answered JSON of an unexpected shape: %s\n",
                   command.c_str(), client->address().Url().c_str(), e.what());
      *exit_code = 1;
    }
  });
  return cmd;
}

void AddChangeFlags(CLI::App* cmd, const std::shared_ptr<AppFlags>& flags, bool force = true) {
  cmd->add_flag("--no-wait", flags->no_wait, "Return once the service took the change");
  if (force)
    cmd->add_flag("--force", flags->force, "Supersede a deployment of the app in progress");
  cmd->add_option("--timeout", flags->timeout,
                  "Give up waiting after this long and exit 1 (0secs: never)")
      ->capture_default_str();
}

}  // namespace

void AddAppCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AppFlags>();
  CLI::App* cmd = app.add_subcommand("app", "Deploy and manage apps of the service framework");
  cmd->require_subcommand(1);

  CLI::App* deploy = AddSubcommand(cmd, flags, exit_code, "deploy",
                                   "Create or replace an app from a Marathon app definition "
                                   "(FILE.json, - for stdin) and wait for its deployment",
                                   Deploy);
  deploy->add_option("file", flags->file, "The app definition (JSON)")->required();
  AddChangeFlags(deploy, flags);

  AddSubcommand(cmd, flags, exit_code, "list", "The apps: instances running, health, command",
                List);

  CLI::App* show = AddSubcommand(cmd, flags, exit_code, "show",
                                 "One app: its definition, deployments and tasks", Show);
  show->add_option("id", flags->id, "The app's id (/shop/web)")->required();

  CLI::App* scale =
      AddSubcommand(cmd, flags, exit_code, "scale", "Change an app's instances", Scale);
  scale->add_option("id", flags->id, "The app's id")->required();
  scale->add_option("instances", flags->instances, "How many instances")
      ->required()
      ->check(CLI::Range(0, 2147483647));
  AddChangeFlags(scale, flags);

  CLI::App* restart =
      AddSubcommand(cmd, flags, exit_code, "restart",
                    "Replace every task of an app (within its upgradeStrategy)", Restart);
  restart->add_option("id", flags->id, "The app's id")->required();
  AddChangeFlags(restart, flags);

  CLI::App* rollback = AddSubcommand(cmd, flags, exit_code, "rollback",
                                     "Go back to an earlier version of an app", Rollback);
  rollback->add_option("id", flags->id, "The app's id")->required();
  rollback->add_option("--version", flags->version,
                       "The version to go back to (default: the one before the current one)");
  AddChangeFlags(rollback, flags);

  CLI::App* remove = AddSubcommand(cmd, flags, exit_code, "remove",
                                   "Remove an app and wait until its tasks are gone", Remove);
  remove->add_option("id", flags->id, "The app's id")->required();
  AddChangeFlags(remove, flags, false);  // a removal always supersedes, as in Marathon
}

}  // namespace stoa::cli

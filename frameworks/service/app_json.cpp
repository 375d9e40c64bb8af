#include "frameworks/service/app_json.hpp"

#include <set>

#include "frameworks/service/app_checks.hpp"
#include "frameworks/service/app_fields.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

constexpr int64_t kInt32Max = 2147483647;

// The fields ParseApp reads into typed members; all others are kept as given.
const std::set<std::string>& ActedFields() {
  static const std::set<std::string> fields = {"id",
                                               "cmd",
                                               "args",
                                               "user",
                                               "env",
                                               "labels",
                                               "cpus",
                                               "mem",
                                               "disk",
                                               "gpus",
                                               "instances",
                                               "global",
                                               "portDefinitions",
                                               "ports",
                                               "requirePorts",
                                               "constraints",
                                               "healthChecks",
                                               "readinessChecks",
                                               "upgradeStrategy",
                                               "autoscale",
                                               "backoffSeconds",
                                               "backoffFactor",
                                               "maxLaunchDelaySeconds",
                                               "killSelection",
                                               "taskKillGracePeriodSeconds",
                                               "unreachableStrategy",
                                               "container",
                                               "version",
                                               "versionInfo"};
  return fields;
}

// Fields of responses that clients send back with a GET-modify-PUT.
const std::set<std::string>& ResponseOnlyFields() {
  static const std::set<std::string> fields = {
      "tasksStaged",           "tasksRunning",   "tasksHealthy",
      "tasksUnhealthy",        "deployments",    "tasks",
      "lastTaskFailure",       "taskStats",      "tasksStats",
      "readinessCheckResults", "autoscaleStatus"};
  return fields;
}

// Light type checks of kept fields Marathon's schema knows, so that a typo of
// type is refused as Marathon refuses it even though Stoa does not act on it.
void CheckKeptField(const std::string& key, const json& value, ValidationErrors* errors) {
  static const std::set<std::string> arrays = {
      "acceptedResourceRoles", "dependencies", "fetch", "uris", "storeUrls", "networks"};
  static const std::set<std::string> objects = {"secrets",        "ipAddress", "residency",
                                                "resourceLimits", "check",     "executorResources"};
  static const std::set<std::string> strings = {"executor", "role"};
  std::string path = FieldPath("/", key);
  if (arrays.count(key) && !value.is_array()) {
    errors->TypeError(path, "expected an array, got " + JsonTypeName(value));
  } else if (objects.count(key) && !value.is_object()) {
    errors->TypeError(path, "expected an object, got " + JsonTypeName(value));
  } else if (strings.count(key) && !value.is_string()) {
    errors->TypeError(path, "expected a string, got " + JsonTypeName(value));
  } else if (key == "tty" && !value.is_boolean()) {
    errors->TypeError(path, "expected a boolean, got " + JsonTypeName(value));
  } else if (key == "networks") {
    for (size_t i = 0; i < value.size(); ++i) {
      const json& network = value[i];
      if (network.is_object() && network.value("mode", "container") != "host") {
        errors->Add(IndexPath(path, i),
                    "only host networking is supported: give \"mode\": \"host\" or leave out "
                    "networks");
      }
    }
  }
}

void ParseEnv(FieldReader& reader, AppDefinition* app) {
  const json* env = reader.Object("env");
  if (env == nullptr) return;
  for (const auto& [name, value] : env->items()) {
    std::string path = FieldPath(reader.PathOf("env"), name);
    if (value.is_string()) {
      app->env[name] = value.get<std::string>();
    } else if (value.is_object() && value.contains("secret")) {
      reader.errors()->Add(path, "secrets are not supported yet: give the value itself");
    } else {
      reader.errors()->TypeError(path, "expected a string, got " + JsonTypeName(value));
    }
  }
}

void ParsePortFields(FieldReader& reader, AppDefinition* app) {
  bool has_ports = reader.present("ports");
  bool has_definitions = reader.present("portDefinitions");
  auto ports = has_ports ? ParsePorts(reader) : std::nullopt;
  auto definitions = ParsePortDefinitions(reader);
  if (has_ports && has_definitions && ports && definitions) {
    bool same = ports->size() == definitions->size();
    for (size_t i = 0; same && i < ports->size(); ++i) {
      same = (*ports)[i].port == (*definitions)[i].port;
    }
    if (!same) {
      reader.errors()->Add("/", "cannot specify both ports and port definitions");
      return;
    }
  }
  if (has_definitions) {
    if (definitions) app->port_definitions = *definitions;
  } else if (has_ports) {
    if (ports) app->port_definitions = *ports;
  } else {
    // As Marathon: an app that says nothing of ports gets one, named "default".
    PortDefinition port;
    port.name = "default";
    app->port_definitions = {port};
  }
  if (auto require = reader.Bool("requirePorts")) app->require_ports = *require;
}

void ParseScalars(FieldReader& reader, AppDefinition* app) {
  if (auto cpus = reader.Number("cpus", 0.001, 1e9)) app->cpus = *cpus;
  if (auto mem = reader.Number("mem", 0, 1e12)) app->mem = *mem;
  if (auto disk = reader.Number("disk", 0, 1e12)) app->disk = *disk;
  if (auto gpus = reader.Integer("gpus", 0, kInt32Max)) app->gpus = static_cast<int>(*gpus);
  if (auto instances = reader.Integer("instances", 0, kInt32Max)) {
    app->instances = static_cast<int>(*instances);
  }
  if (auto global = reader.Bool("global")) app->global = *global;
  if (app->global && app->instances != 1) {
    reader.errors()->Add(reader.PathOf("instances"),
                         "a global app runs one instance on every agent its constraints allow: "
                         "leave out instances (or give 1)");
  }
  if (auto backoff = reader.Integer("backoffSeconds", 0, kInt32Max)) {
    app->backoff_seconds = static_cast<int>(*backoff);
  }
  if (auto factor = reader.Number("backoffFactor", 1.0, 1e6)) app->backoff_factor = *factor;
  if (auto max_delay = reader.Integer("maxLaunchDelaySeconds", 0, kInt32Max)) {
    app->max_launch_delay_seconds = static_cast<int>(*max_delay);
  }
  if (auto grace = reader.Integer("taskKillGracePeriodSeconds", 0, kInt32Max)) {
    app->task_kill_grace_period_seconds = static_cast<int>(*grace);
  }
  if (auto selection = reader.String("killSelection")) {
    if (*selection == "YOUNGEST_FIRST") {
      app->kill_selection = KillSelection::kYoungestFirst;
    } else if (*selection == "OLDEST_FIRST") {
      app->kill_selection = KillSelection::kOldestFirst;
    } else {
      reader.errors()->Add(reader.PathOf("killSelection"),
                           "'" + *selection + "' is not one of YOUNGEST_FIRST, OLDEST_FIRST");
    }
  }
}

void ParseCommand(FieldReader& reader, AppDefinition* app) {
  if (auto cmd = reader.String("cmd")) {
    if (cmd->empty()) reader.errors()->Add(reader.PathOf("cmd"), "must not be empty");
    app->cmd = *cmd;
  }
  if (auto args = reader.Strings("args")) app->args = *args;
  if (auto user = reader.String("user")) app->user = *user;
  bool cmd = app->cmd.has_value();
  bool args = app->args.has_value() && !app->args->empty();
  bool errors_here = reader.errors()->has("/cmd") || reader.errors()->has("/args");
  if (!errors_here && (cmd && args)) {
    reader.errors()->Add("/", "give either 'cmd' or 'args', not both");
  } else if (!errors_here && !cmd && !args) {
    reader.errors()->Add("/", "give the command to run: 'cmd' (a shell command) or 'args'");
  }
}

}  // namespace

ParsedApp ParseApp(const json& body) {
  ParsedApp parsed;
  ValidationErrors& errors = parsed.errors;
  if (!body.is_object()) {
    errors.TypeError("/", "expected an app definition (a JSON object), got " + JsonTypeName(body));
    return parsed;
  }
  AppDefinition app;
  FieldReader reader(body, "/", &errors);
  if (auto id = reader.String("id")) {
    app.id = PathId::Parse(*id);
    for (const auto& error : PathIdErrors(app.id)) errors.Add("/id", error);
  } else if (!reader.present("id")) {
    errors.TypeError("/id", "is required: the app's id, e.g. \"/shop/web\"");
  }
  ParseCommand(reader, &app);
  ParseEnv(reader, &app);
  if (auto labels = reader.StringMap("labels")) app.labels = *labels;
  ParseScalars(reader, &app);
  ParsePortFields(reader, &app);
  if (auto constraints = ParseConstraints(reader)) app.constraints = *constraints;
  if (auto checks = ParseHealthChecks(reader, app.port_definitions.size())) {
    app.health_checks = *checks;
  }
  if (auto checks = ParseReadinessChecks(reader, app.port_definitions)) {
    app.readiness_checks = *checks;
  }
  if (auto upgrade = ParseUpgradeStrategy(reader)) app.upgrade_strategy = *upgrade;
  app.autoscale = ParseAutoscale(reader);
  if (auto it = body.find("unreachableStrategy"); it != body.end() && !it->is_null()) {
    if (auto strategy = ParseUnreachableStrategy(*it, "/unreachableStrategy", &errors)) {
      app.unreachable_strategy = *strategy;
    }
  }
  if (reader.present("container")) app.container = ParseContainer(reader);
  for (const auto& [key, value] : body.items()) {
    if (value.is_null() || ActedFields().count(key) || ResponseOnlyFields().count(key)) continue;
    CheckKeptField(key, value, &errors);
    app.kept[key] = value;
  }
  if (errors.empty()) parsed.app = std::move(app);
  return parsed;
}

json AppSpecJson(const AppDefinition& app) {
  json out = app.kept;
  out["id"] = app.id.ToString();
  if (app.cmd) out["cmd"] = *app.cmd;
  if (app.args) out["args"] = *app.args;
  if (app.user) out["user"] = *app.user;
  out["env"] = app.env;
  out["labels"] = app.labels;
  out["cpus"] = app.cpus;
  out["mem"] = app.mem;
  out["disk"] = app.disk;
  out["gpus"] = app.gpus;
  out["instances"] = app.instances;
  if (app.global) out["global"] = true;  // only where set: strict clients know no such key
  out["portDefinitions"] = PortDefinitionsJson(app.port_definitions);
  out["requirePorts"] = app.require_ports;
  out["constraints"] = ConstraintsJson(app.constraints);
  out["healthChecks"] = HealthChecksJson(app.health_checks);
  out["readinessChecks"] = ReadinessChecksJson(app.readiness_checks);
  out["upgradeStrategy"] = UpgradeStrategyJson(app.upgrade_strategy);
  if (app.autoscale) out["autoscale"] = AutoscaleJson(*app.autoscale);
  out["backoffSeconds"] = app.backoff_seconds;
  out["backoffFactor"] = app.backoff_factor;
  out["maxLaunchDelaySeconds"] = app.max_launch_delay_seconds;
  out["killSelection"] =
      app.kill_selection == KillSelection::kOldestFirst ? "OLDEST_FIRST" : "YOUNGEST_FIRST";
  if (app.task_kill_grace_period_seconds) {
    out["taskKillGracePeriodSeconds"] = *app.task_kill_grace_period_seconds;
  }
  out["unreachableStrategy"] = UnreachableStrategyJson(app.unreachable_strategy);
  if (app.container) out["container"] = ContainerJson(*app.container);
  return out;
}

json AppJson(const AppDefinition& app) {
  json out = AppSpecJson(app);
  // Marathon 1.x writes these whether or not they were given.
  static const std::pair<const char*, json> kDefaults[] = {{"cmd", nullptr},
                                                           {"args", nullptr},
                                                           {"user", nullptr},
                                                           {"executor", ""},
                                                           {"uris", json::array()},
                                                           {"fetch", json::array()},
                                                           {"storeUrls", json::array()},
                                                           {"container", nullptr},
                                                           {"readinessChecks", json::array()},
                                                           {"dependencies", json::array()},
                                                           {"acceptedResourceRoles", nullptr},
                                                           {"ipAddress", nullptr},
                                                           {"secrets", json::object()},
                                                           {"taskKillGracePeriodSeconds", nullptr}};
  for (const auto& [key, value] : kDefaults) {
    if (!out.contains(key)) out[key] = value;
  }
  out["ports"] = ServicePorts(app);
  out["version"] = app.version;
  out["versionInfo"] = {{"lastScalingAt", app.version_info.last_scaling_at},
                        {"lastConfigChangeAt", app.version_info.last_config_change_at}};
  return out;
}

json MergeAppUpdate(json spec, const json& update) {
  for (const auto& [key, value] : update.items()) {
    if (key == "id" || key == "version" || key == "versionInfo") continue;
    spec[key] = value;
  }
  auto replaces = [&](const char* given, const char* dropped) {
    if (update.contains(given) && !update.contains(dropped)) spec.erase(dropped);
  };
  replaces("cmd", "args");
  replaces("args", "cmd");
  replaces("ports", "portDefinitions");
  replaces("portDefinitions", "ports");
  return spec;
}

std::vector<int> ServicePorts(const AppDefinition& app) {
  std::vector<int> ports;
  for (const auto& port : app.port_definitions) ports.push_back(port.port);
  return ports;
}

bool OnlyScaled(const AppDefinition& a, const AppDefinition& b) {
  AppDefinition x = a;
  AppDefinition y = b;
  x.instances = y.instances = 0;
  x.autoscale = y.autoscale = std::nullopt;  // a policy changes how many, not what runs
  x.version = y.version = "";
  x.version_info = y.version_info = VersionInfo{};
  return x == y;
}

}  // namespace stoa::service

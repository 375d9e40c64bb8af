#include <regex>
#include <set>

#include "frameworks/batch/job_fields.hpp"

namespace stoa::batch {

using nlohmann::json;

namespace {

// Longer patterns are refused: std::regex compiles recursively.
constexpr size_t kMaxPatternLength = 1000;

std::string NotOneOf(const std::string& value, const char* what, const char* allowed) {
  return "'" + value + "' is not a valid " + what + ". Allowed values: " + allowed;
}

}  // namespace

void ReadEnv(JsonFields& run, RunSpec* spec) {
  const json* env = run.Object("env");
  if (env == nullptr) return;
  for (const auto& [name, value] : env->items()) {
    std::string path = ChildPath(run.PathOf("env"), name);
    if (value.is_string()) {
      spec->env[name] = value.get<std::string>();
    } else if (value.is_object()) {
      run.errors()->Add(path, "Stoa has no secret store yet: " + name +
                                  " cannot be set from a secret; give its value as a string");
    } else {
      run.errors()->Add(path, WrongType("string", value));
    }
  }
}

void ReadPlacement(JsonFields& run, RunSpec* spec) {
  const json* placement = run.Object("placement");
  if (placement == nullptr) return;
  JsonFields fields(*placement, run.PathOf("placement"), run.errors());
  fields.AllowOnly({"constraints"});
  ForEachObject(fields, "constraints", [&](JsonFields& item, size_t) {
    item.AllowOnly({"attribute", "operator", "value"});
    item.Require({"attribute", "operator"});
    auto attribute = item.NonEmptyString("attribute");
    auto op = item.String("operator");
    auto value = item.String("value");
    if (op) {
      if (*op == "EQ") op = "IS";  // Metronome's synonym, rendered as IS
      if (*op != "IS" && *op != "LIKE" && *op != "UNLIKE") {
        item.errors()->Add(item.PathOf("operator"),
                           NotOneOf(*op, "operator", "IS, EQ, LIKE, UNLIKE"));
        op.reset();
      }
    }
    if (op && !item.Has("value")) {
      item.errors()->Add(item.PathOf("value"), "Property value missing: operator " + *op +
                                                   " compares the attribute with a value.");
    }
    if (op && value && (*op == "LIKE" || *op == "UNLIKE")) {
      if (value->size() > kMaxPatternLength) {
        item.errors()->Add(item.PathOf("value"), "The regular expression is longer than " +
                                                     std::to_string(kMaxPatternLength) +
                                                     " characters.");
        value.reset();
      } else {
        try {
          std::regex compiled(*value);
        } catch (const std::regex_error& e) {
          item.errors()->Add(item.PathOf("value"),
                             "'" + *value + "' is not a valid regular expression: " + e.what());
          value.reset();
        }
      }
    }
    if (attribute && op && value) spec->constraints.push_back({*attribute, *op, *value});
  });
}

void ReadVolumes(JsonFields& run, RunSpec* spec) {
  ForEachObject(run, "volumes", [&](JsonFields& item, size_t) {
    item.AllowOnly({"containerPath", "hostPath", "mode", "secret"});
    if (item.Has("secret")) {
      item.errors()->Add(item.PathOf("secret"),
                         "Stoa has no secret store yet: secret volumes are not supported");
      return;
    }
    item.Require({"containerPath", "hostPath", "mode"});
    auto container_path = item.NonEmptyString("containerPath");
    auto host_path = item.NonEmptyString("hostPath");
    auto mode = item.String("mode");
    if (mode && *mode != "RO" && *mode != "RW") {
      item.errors()->Add(item.PathOf("mode"), NotOneOf(*mode, "mode", "RO, RW"));
      mode.reset();
    }
    if (container_path && host_path && mode) {
      spec->volumes.push_back({*container_path, *host_path, *mode});
    }
  });
}

void ReadNetworks(JsonFields& run, RunSpec* spec, JsonErrors* notes) {
  std::vector<JobNetwork> networks;
  std::vector<std::string> paths;
  bool every_valid = ForEachObject(run, "networks", [&](JsonFields& item, size_t) {
    item.AllowOnly({"name", "mode", "labels"});
    item.Require({"mode"});
    auto name = item.String("name");
    auto mode = item.String("mode");
    auto labels = item.StringMap("labels");
    bool ok = mode && (name || !item.Has("name")) && (labels || !item.Has("labels"));
    auto refuse = [&](std::string_view field, const char* message) {
      item.errors()->Add(item.PathOf(field), message);
      ok = false;
    };
    if (mode && *mode == "host") {
      if (item.Has("name")) refuse("name", "must be empty for host network");
      if (labels && !labels->empty()) refuse("labels", "must be empty for host network");
    } else if (mode && *mode == "container/bridge") {
      if (item.Has("name")) refuse("name", "must be empty for container/bridge networks");
    } else if (mode && *mode == "container") {
      if (!item.Has("name") || (name && name->empty())) {
        refuse("name", "must not be empty for container networks");
      }
    } else if (mode) {
      item.errors()->Add(item.PathOf("mode"),
                         NotOneOf(*mode, "network mode", "host, container/bridge, container"));
      ok = false;
    }
    if (!ok) return;
    networks.push_back(
        {name.value_or(""), *mode, labels ? *labels : std::map<std::string, std::string>{}});
    paths.push_back(item.path());
  });
  const json* array = run.Get("networks");
  if (!every_valid || array == nullptr || !array->is_array() || networks.size() != array->size()) {
    return;  // the elements' own errors are enough
  }
  std::set<std::string> modes;
  std::set<std::string> names;
  bool unique = true;
  for (const JobNetwork& network : networks) {
    modes.insert(network.mode);
    if (!network.name.empty()) unique = names.insert(network.name).second && unique;
  }
  bool ok = true;
  std::string path = run.PathOf("networks");
  if (modes.size() > 1) {
    run.errors()->Add(path,
                      "You may not mix host, container, or container/bridge networking. Only "
                      "define one kind of network.");
    ok = false;
  }
  if (networks.size() > 1 && (modes.count("host") > 0 || modes.count("container/bridge") > 0)) {
    run.errors()->Add(path, "Only one host or container/bridge network modes are allowed");
    ok = false;
  }
  if (!unique) {
    run.errors()->Add(path, "network names must be unique");
    ok = false;
  }
  if (!ok) return;
  for (size_t i = 0; i < networks.size(); ++i) {
    if (networks[i].mode == "host") continue;
    std::string which = networks[i].name.empty() ? "" : " '" + networks[i].name + "'";
    notes->Add(paths[i],
               "kept as given, but Stoa's tasks use the host's network: they do not "
               "join the " +
                   networks[i].mode + " network" + which);
  }
  spec->networks = std::move(networks);
}

void ReadRestart(JsonFields& run, RunSpec* spec) {
  const json* restart = run.Object("restart");
  if (restart == nullptr) return;
  JsonFields fields(*restart, run.PathOf("restart"), run.errors());
  fields.AllowOnly({"policy", "activeDeadlineSeconds"});
  fields.Require({"policy"});
  if (auto policy = fields.String("policy")) {
    if (*policy == "NEVER") {
      spec->restart_policy = RestartPolicy::kNever;
    } else if (*policy == "ON_FAILURE") {
      spec->restart_policy = RestartPolicy::kOnFailure;
    } else {
      fields.errors()->Add(fields.PathOf("policy"),
                           NotOneOf(*policy, "restart policy", "NEVER, ON_FAILURE"));
    }
  }
  if (auto deadline = fields.Integer("activeDeadlineSeconds", 0)) {
    spec->active_deadline_seconds = *deadline;
  }
}

json EnvJson(const RunSpec& spec) {
  json env = json::object();
  for (const auto& [name, value] : spec.env) env[name] = value;
  return env;
}

json PlacementJson(const RunSpec& spec) {
  json constraints = json::array();
  for (const JobConstraint& c : spec.constraints) {
    constraints.push_back({{"attribute", c.attribute}, {"operator", c.op}, {"value", c.value}});
  }
  return {{"constraints", std::move(constraints)}};
}

json VolumesJson(const RunSpec& spec) {
  json volumes = json::array();
  for (const JobVolume& v : spec.volumes) {
    volumes.push_back(
        {{"containerPath", v.container_path}, {"hostPath", v.host_path}, {"mode", v.mode}});
  }
  return volumes;
}

json NetworksJson(const RunSpec& spec) {
  json networks = json::array();
  for (const JobNetwork& network : spec.networks) {
    json item = {{"mode", network.mode}};
    if (!network.name.empty()) item["name"] = network.name;
    if (!network.labels.empty()) item["labels"] = network.labels;
    networks.push_back(std::move(item));
  }
  return networks;
}

json RestartJson(const RunSpec& spec) {
  json restart = {
      {"policy", spec.restart_policy == RestartPolicy::kOnFailure ? "ON_FAILURE" : "NEVER"}};
  if (spec.active_deadline_seconds) {
    restart["activeDeadlineSeconds"] = *spec.active_deadline_seconds;
  }
  return restart;
}

}  // namespace stoa::batch

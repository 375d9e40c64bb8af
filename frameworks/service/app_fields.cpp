#include "frameworks/service/app_fields.hpp"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

namespace stoa::service {

using json = nlohmann::json;

namespace {

constexpr int64_t kInt32Max = 2147483647;

// Marathon's names of ports: lowercase letters, digits and inner dashes.
bool ValidPortName(const std::string& name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty() || !alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// Checks that the port numbers (other than 0) and the names are unique.
bool UniquePorts(const std::vector<PortDefinition>& ports, const std::string& path,
                 ValidationErrors* errors) {
  std::set<int> numbers;
  std::set<std::string> names;
  bool ok = true;
  for (const auto& port : ports) {
    if (port.port != 0 && !numbers.insert(port.port).second) {
      errors->Add(path, "Ports must be unique: " + std::to_string(port.port) + " is given twice");
      ok = false;
    }
    if (!port.name.empty() && !names.insert(port.name).second) {
      errors->Add(path, "Port names must be unique: '" + port.name + "' is given twice");
      ok = false;
    }
  }
  return ok;
}

std::optional<ConstraintOperator> OperatorNamed(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  static const std::pair<const char*, ConstraintOperator> kOperators[] = {
      {"UNIQUE", ConstraintOperator::kUnique},
      {"CLUSTER", ConstraintOperator::kCluster},
      {"GROUP_BY", ConstraintOperator::kGroupBy},
      {"LIKE", ConstraintOperator::kLike},
      {"UNLIKE", ConstraintOperator::kUnlike},
      {"MAX_PER", ConstraintOperator::kMaxPer},
      {"IS", ConstraintOperator::kIs}};
  for (const auto& [text, op] : kOperators) {
    if (name == text) return op;
  }
  return std::nullopt;
}

bool IsWholeNumber(const std::string& text) {
  if (text.empty() || text.size() > 9) return false;
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Operator-specific rules of one constraint; the error, or empty.
std::string ConstraintError(const Constraint& c) {
  if (c.field.empty()) return "missing field for constraint declaration";
  switch (c.op) {
    case ConstraintOperator::kUnique:
      if (c.value.has_value() && !c.value->empty()) return "UNIQUE does not accept a value";
      return "";
    case ConstraintOperator::kCluster:
      return "";
    case ConstraintOperator::kGroupBy:
      if (c.value.has_value() && !c.value->empty() && !IsWholeNumber(*c.value)) {
        return "GROUP_BY takes a whole number (how many values to spread over) or no value";
      }
      return "";
    case ConstraintOperator::kMaxPer:
      if (!c.value.has_value() || !IsWholeNumber(*c.value)) {
        return "MAX_PER takes a whole number: the most instances per value";
      }
      return "";
    case ConstraintOperator::kLike:
    case ConstraintOperator::kUnlike:
      if (!c.value.has_value() || c.value->empty()) {
        return std::string(ToString(c.op)) + " takes a regular expression as its value";
      }
      try {
        std::regex pattern(*c.value);
      } catch (const std::regex_error&) {
        return "'" + *c.value + "' is not a valid regular expression";
      }
      return "";
    case ConstraintOperator::kIs: {
      std::string value = c.value.value_or("");
      bool text = std::all_of(value.begin(), value.end(), [](unsigned char ch) {
        return std::isalnum(ch) || ch == '_' || ch == '/' || ch == '.' || ch == '-';
      });
      if (!text) return "IS takes a text or number value (letters, digits, '_', '/', '.', '-')";
      return "";
    }
  }
  return "";
}

}  // namespace

const char* ToString(ConstraintOperator op) {
  switch (op) {
    case ConstraintOperator::kUnique:
      return "UNIQUE";
    case ConstraintOperator::kCluster:
      return "CLUSTER";
    case ConstraintOperator::kGroupBy:
      return "GROUP_BY";
    case ConstraintOperator::kLike:
      return "LIKE";
    case ConstraintOperator::kUnlike:
      return "UNLIKE";
    case ConstraintOperator::kMaxPer:
      return "MAX_PER";
    case ConstraintOperator::kIs:
      return "IS";
  }
  return "UNIQUE";
}

std::optional<std::vector<PortDefinition>> ParsePortDefinitions(FieldReader& reader) {
  std::vector<PortDefinition> ports;
  bool ok = ForEachObject(reader, "portDefinitions", [&](FieldReader& item) {
    PortDefinition port;
    size_t before = item.errors()->count();
    if (auto number = item.Integer("port", 0, 65535)) port.port = static_cast<int>(*number);
    if (auto protocol = item.String("protocol")) {
      if (*protocol != "tcp" && *protocol != "udp" && *protocol != "udp,tcp") {
        item.errors()->Add(item.PathOf("protocol"),
                           "'" + *protocol + "' is not one of tcp, udp, udp,tcp");
      }
      port.protocol = *protocol;
    }
    if (auto name = item.String("name")) {
      if (!ValidPortName(*name)) {
        item.errors()->Add(item.PathOf("name"),
                           "'" + *name +
                               "' is not a valid port name: lowercase letters, digits and "
                               "inner dashes");
      }
      port.name = *name;
    }
    if (auto labels = item.StringMap("labels")) port.labels = *labels;
    ports.push_back(std::move(port));
    return item.errors()->count() == before;
  });
  if (!reader.present("portDefinitions")) return std::vector<PortDefinition>{};
  if (!ok) return std::nullopt;
  if (!UniquePorts(ports, reader.PathOf("portDefinitions"), reader.errors())) return std::nullopt;
  return ports;
}

std::optional<std::vector<PortDefinition>> ParsePorts(FieldReader& reader) {
  const json* array = reader.Array("ports");
  if (array == nullptr) return std::nullopt;
  std::vector<PortDefinition> ports;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const json& item = (*array)[i];
    std::string path = IndexPath(reader.PathOf("ports"), i);
    if (!item.is_number_integer() && !item.is_number_unsigned()) {
      reader.errors()->TypeError(path, "expected a whole number, got " + JsonTypeName(item));
      ok = false;
      continue;
    }
    int64_t number =
        item.is_number_unsigned() && item.get<uint64_t>() > 65535 ? 65536 : item.get<int64_t>();
    if (number < 0 || number > 65535) {
      reader.errors()->Add(path, "got " + std::to_string(number) + ", expected 0 to 65535");
      ok = false;
      continue;
    }
    PortDefinition port;
    port.port = static_cast<int>(number);
    ports.push_back(port);
  }
  if (!ok) return std::nullopt;
  if (!UniquePorts(ports, reader.PathOf("ports"), reader.errors())) return std::nullopt;
  return ports;
}

std::optional<std::vector<Constraint>> ParseConstraints(FieldReader& reader) {
  const json* array = reader.Array("constraints");
  if (array == nullptr) {
    if (reader.present("constraints")) return std::nullopt;
    return std::vector<Constraint>{};
  }
  std::vector<Constraint> constraints;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const json& item = (*array)[i];
    std::string path = IndexPath(reader.PathOf("constraints"), i);
    bool strings = item.is_array() && std::all_of(item.begin(), item.end(),
                                                  [](const json& v) { return v.is_string(); });
    if (!strings) {
      reader.errors()->TypeError(path, "expected an array of strings: [field, operator, value]");
      ok = false;
      continue;
    }
    if (item.size() < 2 || item.size() > 3) {
      reader.errors()->Add(path, "Each constraint must have either 2 or 3 fields");
      ok = false;
      continue;
    }
    Constraint constraint;
    constraint.field = item[0].get<std::string>();
    auto op = OperatorNamed(item[1].get<std::string>());
    if (!op) {
      reader.errors()->Add(path, "'" + item[1].get<std::string>() +
                                     "' is not a constraint operator: use UNIQUE, CLUSTER, "
                                     "GROUP_BY, LIKE, UNLIKE, MAX_PER or IS");
      ok = false;
      continue;
    }
    constraint.op = *op;
    if (item.size() == 3) constraint.value = item[2].get<std::string>();
    // Marathon writes UNIQUE with an empty third field; it means no value.
    if (constraint.op == ConstraintOperator::kUnique && constraint.value == "") {
      constraint.value.reset();
    }
    if (std::string error = ConstraintError(constraint); !error.empty()) {
      reader.errors()->Add(path, error);
      ok = false;
      continue;
    }
    // The constraints are a set: a repeated one means nothing more.
    if (std::find(constraints.begin(), constraints.end(), constraint) == constraints.end()) {
      constraints.push_back(std::move(constraint));
    }
  }
  if (!ok) return std::nullopt;
  return constraints;
}

std::optional<UpgradeStrategy> ParseUpgradeStrategy(FieldReader& reader) {
  const json* object = reader.Object("upgradeStrategy");
  if (object == nullptr) {
    if (reader.present("upgradeStrategy")) return std::nullopt;
    return UpgradeStrategy{};
  }
  FieldReader item(*object, reader.PathOf("upgradeStrategy"), reader.errors());
  UpgradeStrategy strategy;
  bool ok = true;
  for (auto [field, out] : {std::pair{"minimumHealthCapacity", &strategy.minimum_health_capacity},
                            std::pair{"maximumOverCapacity", &strategy.maximum_over_capacity}}) {
    if (!item.present(field)) continue;
    if (auto value = item.Number(field, 0, 1)) {
      *out = *value;
    } else {
      ok = false;
    }
  }
  if (const json* rollback = item.Object("rollback")) {
    FieldReader policy_reader(*rollback, item.PathOf("rollback"), reader.errors());
    RollbackPolicy policy;
    if (policy_reader.present("enabled")) {
      auto enabled = policy_reader.Bool("enabled");
      ok = ok && enabled.has_value();
      policy.enabled = enabled.value_or(policy.enabled);
    }
    if (policy_reader.present("maxFailures")) {
      auto failures = policy_reader.Integer("maxFailures", 1, 1000000);
      ok = ok && failures.has_value();
      policy.max_failures = static_cast<int>(failures.value_or(policy.max_failures));
    }
    strategy.rollback = policy;
  } else if (item.present("rollback")) {
    ok = false;
  }
  if (!ok) return std::nullopt;
  return strategy;
}

std::optional<AutoscalePolicy> ParseAutoscale(FieldReader& reader) {
  const json* object = reader.Object("autoscale");
  if (object == nullptr) return std::nullopt;
  FieldReader item(*object, reader.PathOf("autoscale"), reader.errors());
  AutoscalePolicy policy;
  bool ok = true;
  auto min = item.Integer("minInstances", 1, 100000);
  auto max = item.Integer("maxInstances", 1, 100000);
  if (!item.present("minInstances")) item.errors()->Add(item.PathOf("minInstances"), "is required");
  if (!item.present("maxInstances")) item.errors()->Add(item.PathOf("maxInstances"), "is required");
  ok = min.has_value() && max.has_value();
  if (ok && *max < *min) {
    item.errors()->Add(item.PathOf("maxInstances"), "must not be below minInstances");
    ok = false;
  }
  bool cpu = item.present("targetCpuUtilization"), rps = item.present("targetRequestsPerSecond");
  if (cpu == rps) {
    item.errors()->Add(item.PathOf("targetCpuUtilization"),
                       "give one target: targetCpuUtilization (the percent of its cpus an "
                       "instance should use on average) or targetRequestsPerSecond (per instance, "
                       "through stoa lb)");
    ok = false;
  } else if (auto target = cpu ? item.Number("targetCpuUtilization", 1, 10000)
                               : item.Number("targetRequestsPerSecond", 0.001, 1e9)) {
    (cpu ? policy.target_cpu_percent : policy.target_rps) = *target;
  } else {
    ok = false;
  }
  if (item.present("cooldownSeconds")) {
    auto cooldown = item.Number("cooldownSeconds", 0, 86400);
    ok = ok && cooldown.has_value();
    policy.cooldown_seconds = cooldown.value_or(policy.cooldown_seconds);
  }
  if (!ok) return std::nullopt;
  policy.min_instances = static_cast<int>(*min);
  policy.max_instances = static_cast<int>(*max);
  return policy;
}

json AutoscaleJson(const AutoscalePolicy& policy) {
  json out = {{"minInstances", policy.min_instances},
              {"maxInstances", policy.max_instances},
              {"cooldownSeconds", policy.cooldown_seconds}};
  if (policy.target_rps > 0) {
    out["targetRequestsPerSecond"] = policy.target_rps;
  } else {
    out["targetCpuUtilization"] = policy.target_cpu_percent;
  }
  return out;
}

std::optional<UnreachableStrategy> ParseUnreachableStrategy(const json& value,
                                                            const std::string& path,
                                                            ValidationErrors* errors) {
  UnreachableStrategy strategy;
  if (value.is_string()) {
    if (value.get<std::string>() != "disabled") {
      errors->Add(path, "'" + value.get<std::string>() +
                            "' is not valid: give \"disabled\" or an object with "
                            "inactiveAfterSeconds and expungeAfterSeconds");
      return std::nullopt;
    }
    strategy.enabled = false;
    return strategy;
  }
  if (!value.is_object()) {
    errors->TypeError(path, "expected \"disabled\" or an object, got " + JsonTypeName(value));
    return std::nullopt;
  }
  FieldReader item(value, path, errors);
  size_t before = errors->count();
  if (auto inactive = item.Integer("inactiveAfterSeconds", 0, INT64_MAX / 1000)) {
    strategy.inactive_after_seconds = *inactive;
  }
  if (auto expunge = item.Integer("expungeAfterSeconds", 0, INT64_MAX / 1000)) {
    strategy.expunge_after_seconds = *expunge;
  }
  if (errors->count() != before) return std::nullopt;
  if (strategy.inactive_after_seconds > strategy.expunge_after_seconds) {
    errors->Add(path, "inactiveAfterSeconds (" + std::to_string(strategy.inactive_after_seconds) +
                          ") must not be greater than expungeAfterSeconds (" +
                          std::to_string(strategy.expunge_after_seconds) + ")");
    return std::nullopt;
  }
  return strategy;
}

std::optional<AppContainer> ParseContainer(FieldReader& reader) {
  const json* object = reader.Object("container");
  if (object == nullptr) return std::nullopt;
  FieldReader item(*object, reader.PathOf("container"), reader.errors());
  ValidationErrors* errors = reader.errors();
  size_t before = errors->count();
  AppContainer container;
  container.given = *object;
  std::string type = item.String("type").value_or(item.present("type") ? "" : "DOCKER");
  if (type == "DOCKER") {
    errors->Add(item.PathOf("type"),
                "Stoa has no Docker containerizer: give \"type\": \"MESOS\" (the default "
                "for Marathon's schema is DOCKER)");
  } else if (type != "MESOS" && !type.empty()) {
    errors->Add(item.PathOf("type"), "'" + type + "' is not one of MESOS, DOCKER");
  }
  container.given["type"] = type.empty() ? "MESOS" : type;
  if (item.present("docker")) {
    errors->Add(item.PathOf("docker"),
                "Stoa cannot run container images yet: leave out container.docker");
  }
  if (auto rootfs = item.String("rootfs")) {
    if (rootfs->empty() || rootfs->front() != '/' || rootfs->find("..") != std::string::npos) {
      errors->Add(item.PathOf("rootfs"),
                  "must be an absolute path without '..' on the agent (a directory or a "
                  "tarball)");
    } else {
      container.rootfs = *rootfs;
    }
  }
  if (const json* mappings = item.Array("portMappings");
      mappings != nullptr && !mappings->empty()) {
    errors->Add(item.PathOf("portMappings"), "portMappings are not allowed with host networking");
  }
  ForEachObject(item, "volumes", [&](FieldReader& volume_reader) {
    size_t volume_before = errors->count();
    for (const char* kind : {"persistent", "external", "secret"}) {
      if (volume_reader.present(kind)) {
        errors->Add(volume_reader.path(),
                    std::string(kind) + " volumes are not supported yet: give a hostPath");
        return false;
      }
    }
    HostVolume volume;
    auto container_path = volume_reader.String("containerPath");
    auto host_path = volume_reader.String("hostPath");
    auto mode = volume_reader.String("mode");
    if (!volume_reader.present("containerPath") || container_path == "") {
      errors->Add(volume_reader.PathOf("containerPath"), "is required and must not be empty");
    } else if (container_path && container_path->find("..") != std::string::npos) {
      errors->Add(volume_reader.PathOf("containerPath"), "must not contain '..'");
    } else if (container_path && container_path->front() == '/' && container.rootfs.empty()) {
      errors->Add(volume_reader.PathOf("containerPath"),
                  "must be relative (a directory in the task's sandbox) unless the container "
                  "has a rootfs");
    }
    if (!volume_reader.present("hostPath") || host_path == "") {
      errors->Add(volume_reader.PathOf("hostPath"), "is required and must not be empty");
    } else if (host_path && host_path->front() != '/') {
      errors->Add(volume_reader.PathOf("hostPath"), "must be an absolute path on the agent");
    }
    if (!volume_reader.present("mode")) {
      errors->Add(volume_reader.PathOf("mode"), "is required: RO or RW");
    } else if (mode && *mode != "RO" && *mode != "RW") {
      errors->Add(volume_reader.PathOf("mode"), "'" + *mode + "' is not one of RO, RW");
    }
    if (errors->count() != volume_before) return false;
    volume.container_path = *container_path;
    volume.host_path = *host_path;
    volume.read_only = *mode == "RO";
    container.volumes.push_back(std::move(volume));
    return true;
  });
  if (errors->count() != before) return std::nullopt;
  return container;
}

json PortDefinitionsJson(const std::vector<PortDefinition>& ports) {
  json out = json::array();
  for (const auto& port : ports) {
    json item = {{"port", port.port}, {"protocol", port.protocol}, {"labels", port.labels}};
    if (!port.name.empty()) item["name"] = port.name;
    out.push_back(std::move(item));
  }
  return out;
}

json ConstraintsJson(const std::vector<Constraint>& constraints) {
  json out = json::array();
  for (const auto& c : constraints) {
    json item = {c.field, ToString(c.op)};
    if (c.value) item.push_back(*c.value);
    out.push_back(std::move(item));
  }
  return out;
}

json UpgradeStrategyJson(const UpgradeStrategy& strategy) {
  json out = {{"minimumHealthCapacity", strategy.minimum_health_capacity},
              {"maximumOverCapacity", strategy.maximum_over_capacity}};
  if (strategy.rollback) {
    out["rollback"] = {{"enabled", strategy.rollback->enabled},
                       {"maxFailures", strategy.rollback->max_failures}};
  }
  return out;
}

json UnreachableStrategyJson(const UnreachableStrategy& strategy) {
  if (!strategy.enabled) return "disabled";
  return {{"inactiveAfterSeconds", strategy.inactive_after_seconds},
          {"expungeAfterSeconds", strategy.expunge_after_seconds}};
}

json ContainerJson(const AppContainer& container) { return container.given; }

}  // namespace stoa::service

#include "frameworks/service/app_checks.hpp"

#include <algorithm>
#include <set>

#include "frameworks/service/app_fields.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

constexpr int64_t kInt32Max = 2147483647;

}  // namespace

std::optional<std::vector<HealthCheck>> ParseHealthChecks(FieldReader& reader, size_t port_count) {
  std::vector<HealthCheck> checks;
  int mesos_checks = 0;
  bool ok = ForEachObject(reader, "healthChecks", [&](FieldReader& item) {
    HealthCheck check;
    ValidationErrors* errors = item.errors();
    size_t before = errors->count();
    if (auto protocol = item.String("protocol")) {
      static const std::set<std::string> kProtocols = {
          "HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"};
      if (kProtocols.count(*protocol) == 0) {
        errors->Add(item.PathOf("protocol"),
                    "'" + *protocol +
                        "' is not one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, "
                        "MESOS_TCP");
      }
      check.protocol = *protocol;
    }
    if (auto path = item.String("path")) check.path = *path;
    if (auto index = item.Integer("portIndex", 0, 65535))
      check.port_index = static_cast<int>(*index);
    if (auto port = item.Integer("port", 1, 65535)) check.port = static_cast<int>(*port);
    if (const json* command = item.Object("command")) {
      FieldReader command_reader(*command, item.PathOf("command"), errors);
      if (auto value = command_reader.String("value")) check.command = *value;
      if (!command_reader.present("value")) {
        errors->Add(command_reader.PathOf("value"), "a command check needs a command value");
      }
      if (!item.present("protocol")) check.protocol = "COMMAND";
    }
    auto seconds = [&](const char* field, int* out, int64_t minimum) {
      if (auto value = item.Integer(field, minimum, kInt32Max)) *out = static_cast<int>(*value);
    };
    seconds("gracePeriodSeconds", &check.grace_period_seconds, 0);
    // The executor runs each check: one every 0 seconds would never stop.
    seconds("intervalSeconds", &check.interval_seconds, 1);
    seconds("timeoutSeconds", &check.timeout_seconds, 1);
    seconds("maxConsecutiveFailures", &check.max_consecutive_failures, 0);
    seconds("delaySeconds", &check.delay_seconds, 0);
    if (auto ignore = item.Bool("ignoreHttp1xx")) check.ignore_http1xx = *ignore;
    if (auto ip = item.String("ipProtocol")) {
      if (*ip != "IPv4") {
        errors->Add(item.PathOf("ipProtocol"), "only IPv4 health checks are supported");
      }
      check.ip_protocol = *ip;
    }
    if (check.protocol == "COMMAND") {
      if (check.command.empty() && !item.present("command")) {
        errors->Add(item.PathOf("command"), "a COMMAND health check needs a command");
      }
      ++mesos_checks;
    } else {
      if (check.protocol.rfind("MESOS_", 0) == 0) ++mesos_checks;
      // As Marathon: a check with neither port nor portIndex uses the first port.
      if (!check.port && !check.port_index && port_count > 0) check.port_index = 0;
      if (check.port_index && static_cast<size_t>(*check.port_index) >= port_count) {
        errors->Add(item.PathOf("portIndex"),
                    "Health check port indices must address an element of the ports array: " +
                        std::to_string(*check.port_index) + " is not below " +
                        std::to_string(port_count));
      } else if (!check.port && !check.port_index) {
        errors->Add(item.path(),
                    "the app has no ports: give the health check a port or the app a port");
      }
    }
    if (check.timeout_seconds > check.interval_seconds && check.interval_seconds > 0) {
      errors->Add(item.PathOf("timeoutSeconds"), "must not be longer than intervalSeconds (" +
                                                     std::to_string(check.interval_seconds) + ")");
    }
    checks.push_back(std::move(check));
    return errors->count() == before;
  });
  if (!reader.present("healthChecks")) return std::vector<HealthCheck>{};
  if (!ok) return std::nullopt;
  if (mesos_checks > 1) {
    reader.errors()->Add(reader.PathOf("healthChecks"),
                         "an app can have at most one COMMAND or MESOS_* health check");
    return std::nullopt;
  }
  return checks;
}

std::optional<std::vector<ReadinessCheck>> ParseReadinessChecks(
    FieldReader& reader, const std::vector<PortDefinition>& ports) {
  std::vector<ReadinessCheck> checks;
  bool ok = ForEachObject(reader, "readinessChecks", [&](FieldReader& item) {
    ReadinessCheck check;
    ValidationErrors* errors = item.errors();
    size_t before = errors->count();
    auto not_empty = [&](const char* field, std::string* out) {
      auto value = item.String(field);
      if (!value) return;
      if (value->empty()) errors->Add(item.PathOf(field), "must not be empty");
      *out = *value;
    };
    not_empty("name", &check.name);
    not_empty("path", &check.path);
    not_empty("portName", &check.port_name);
    if (auto protocol = item.String("protocol")) {
      if (*protocol != "HTTP" && *protocol != "HTTPS") {
        errors->Add(item.PathOf("protocol"), "'" + *protocol + "' is not one of HTTP, HTTPS");
      }
      check.protocol = *protocol;
    }
    if (auto interval = item.Integer("intervalSeconds", 1, kInt32Max)) {
      check.interval_seconds = static_cast<int>(*interval);
    }
    if (auto timeout = item.Integer("timeoutSeconds", 1, kInt32Max)) {
      check.timeout_seconds = static_cast<int>(*timeout);
    }
    if (const json* codes = item.Array("httpStatusCodesForReady")) {
      std::string path = item.PathOf("httpStatusCodesForReady");
      check.http_status_codes_for_ready.clear();
      for (size_t i = 0; i < codes->size(); ++i) {
        const json& code = (*codes)[i];
        if (!code.is_number_integer() && !code.is_number_unsigned()) {
          errors->TypeError(IndexPath(path, i),
                            "expected a whole number, got " + JsonTypeName(code));
          continue;
        }
        int64_t number =
            code.is_number_unsigned() && code.get<uint64_t>() > 999 ? 1000 : code.get<int64_t>();
        if (number < 100 || number > 999) {
          errors->Add(IndexPath(path, i), "got " + std::to_string(number) +
                                              ", expected an HTTP status code (100 to 999)");
          continue;
        }
        int status = static_cast<int>(number);
        auto& list = check.http_status_codes_for_ready;
        if (std::find(list.begin(), list.end(), status) == list.end()) list.push_back(status);
      }
      if (codes->empty())
        errors->Add(path, "must not be empty: give the status codes that mean ready");
    }
    if (auto preserve = item.Bool("preserveLastResponse")) check.preserve_last_response = *preserve;
    if (check.timeout_seconds >= check.interval_seconds) {
      errors->Add(item.PathOf("timeoutSeconds"), "must be shorter than intervalSeconds (" +
                                                     std::to_string(check.interval_seconds) + ")");
    }
    bool named = std::any_of(ports.begin(), ports.end(), [&](const PortDefinition& port) {
      return port.name == check.port_name;
    });
    if (!check.port_name.empty() && !named) {
      errors->Add(item.PathOf("portName"), "No port definition reference for portName " +
                                               check.port_name +
                                               ": name one of the app's portDefinitions");
    }
    checks.push_back(std::move(check));
    return errors->count() == before;
  });
  if (!reader.present("readinessChecks")) return std::vector<ReadinessCheck>{};
  if (!ok) return std::nullopt;
  if (checks.size() > 1) {
    reader.errors()->Add(reader.PathOf("readinessChecks"),
                         "an app can have at most one readiness check");
    return std::nullopt;
  }
  return checks;
}

json HealthChecksJson(const std::vector<HealthCheck>& checks) {
  json out = json::array();
  for (const auto& check : checks) {
    json item = {{"protocol", check.protocol},
                 {"gracePeriodSeconds", check.grace_period_seconds},
                 {"intervalSeconds", check.interval_seconds},
                 {"timeoutSeconds", check.timeout_seconds},
                 {"maxConsecutiveFailures", check.max_consecutive_failures},
                 {"delaySeconds", check.delay_seconds},
                 {"ipProtocol", check.ip_protocol}};
    if (check.protocol == "HTTP" || check.protocol == "HTTPS" || check.protocol == "MESOS_HTTP" ||
        check.protocol == "MESOS_HTTPS") {
      item["path"] = check.path.empty() ? "/" : check.path;
      item["ignoreHttp1xx"] = check.ignore_http1xx;
    }
    if (check.port_index) item["portIndex"] = *check.port_index;
    if (check.port) item["port"] = *check.port;
    if (check.protocol == "COMMAND") item["command"] = {{"value", check.command}};
    out.push_back(std::move(item));
  }
  return out;
}

json ReadinessChecksJson(const std::vector<ReadinessCheck>& checks) {
  json out = json::array();
  for (const auto& check : checks) {
    out.push_back({{"name", check.name},
                   {"protocol", check.protocol},
                   {"path", check.path},
                   {"portName", check.port_name},
                   {"intervalSeconds", check.interval_seconds},
                   {"timeoutSeconds", check.timeout_seconds},
                   {"httpStatusCodesForReady", check.http_status_codes_for_ready},
                   {"preserveLastResponse", check.preserve_last_response}});
  }
  return out;
}

}  // namespace stoa::service

// Parsers and renderers of an app's checks: Marathon's healthChecks and
// readinessChecks, each problem with its field's path, for app_json.cpp.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "frameworks/service/app.hpp"
#include "frameworks/service/validation.hpp"

namespace stoa::service {

// `port_count`: how many ports the app has, for portIndex.
std::optional<std::vector<HealthCheck>> ParseHealthChecks(FieldReader& reader, size_t port_count);
// At most one, naming one of `ports` by its name (portName).
std::optional<std::vector<ReadinessCheck>> ParseReadinessChecks(
    FieldReader& reader, const std::vector<PortDefinition>& ports);

nlohmann::json HealthChecksJson(const std::vector<HealthCheck>& checks);
nlohmann::json ReadinessChecksJson(const std::vector<ReadinessCheck>& checks);

}  // namespace stoa::service

// Parsers and renderers of the structured fields of an app (ports,
// constraints, health checks, strategies, container), for app_json.cpp.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "frameworks/service/app.hpp"
#include "frameworks/service/validation.hpp"

namespace stoa::service {

std::optional<std::vector<PortDefinition>> ParsePortDefinitions(FieldReader& reader);
// The deprecated "ports": [0, 80] as port definitions.
std::optional<std::vector<PortDefinition>> ParsePorts(FieldReader& reader);
std::optional<std::vector<Constraint>> ParseConstraints(FieldReader& reader);
// `port_count`: how many ports the app has, for portIndex.
std::optional<std::vector<HealthCheck>> ParseHealthChecks(FieldReader& reader, size_t port_count);
std::optional<UpgradeStrategy> ParseUpgradeStrategy(FieldReader& reader);
// "disabled" or {"inactiveAfterSeconds", "expungeAfterSeconds"}.
std::optional<UnreachableStrategy> ParseUnreachableStrategy(const nlohmann::json& value,
                                                            const std::string& path,
                                                            ValidationErrors* errors);
std::optional<AppContainer> ParseContainer(FieldReader& reader);

nlohmann::json PortDefinitionsJson(const std::vector<PortDefinition>& ports);
nlohmann::json ConstraintsJson(const std::vector<Constraint>& constraints);
nlohmann::json HealthChecksJson(const std::vector<HealthCheck>& checks);
nlohmann::json UpgradeStrategyJson(const UpgradeStrategy& strategy);
nlohmann::json UnreachableStrategyJson(const UnreachableStrategy& strategy);
nlohmann::json ContainerJson(const AppContainer& container);

}  // namespace stoa::service

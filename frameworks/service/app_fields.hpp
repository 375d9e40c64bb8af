// Parsers and renderers of the structured fields of an app (ports,
// constraints, strategies, container), for app_json.cpp; the checks are in
// app_checks.hpp.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "frameworks/service/app.hpp"
#include "frameworks/service/validation.hpp"

namespace stoa::service {

// Each element of the array at `reader`'s `field` that is an object, with its path.
template <typename Fn>
bool ForEachObject(FieldReader& reader, const std::string& field, Fn fn) {
  const nlohmann::json* array = reader.Array(field);
  if (array == nullptr) return false;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = IndexPath(reader.PathOf(field), i);
    const nlohmann::json& item = (*array)[i];
    if (!item.is_object()) {
      reader.errors()->TypeError(path, "expected an object, got " + JsonTypeName(item));
      ok = false;
      continue;
    }
    FieldReader element(item, path, reader.errors());
    ok = fn(element) && ok;
  }
  return ok;
}

std::optional<std::vector<PortDefinition>> ParsePortDefinitions(FieldReader& reader);
// The deprecated "ports": [0, 80] as port definitions.
std::optional<std::vector<PortDefinition>> ParsePorts(FieldReader& reader);
std::optional<std::vector<Constraint>> ParseConstraints(FieldReader& reader);
std::optional<UpgradeStrategy> ParseUpgradeStrategy(FieldReader& reader);
// `autoscale` (Stoa's extension): none when absent or invalid (then with errors).
std::optional<AutoscalePolicy> ParseAutoscale(FieldReader& reader);
nlohmann::json AutoscaleJson(const AutoscalePolicy& policy);
// "disabled" or {"inactiveAfterSeconds", "expungeAfterSeconds"}.
std::optional<UnreachableStrategy> ParseUnreachableStrategy(const nlohmann::json& value,
                                                            const std::string& path,
                                                            ValidationErrors* errors);
std::optional<AppContainer> ParseContainer(FieldReader& reader);

nlohmann::json PortDefinitionsJson(const std::vector<PortDefinition>& ports);
nlohmann::json ConstraintsJson(const std::vector<Constraint>& constraints);
nlohmann::json UpgradeStrategyJson(const UpgradeStrategy& strategy);
nlohmann::json UnreachableStrategyJson(const UnreachableStrategy& strategy);
nlohmann::json ContainerJson(const AppContainer& container);

}  // namespace stoa::service

// Reading fields of the service's endpoints JSON without trusting its types:
// a field of another type reads as missing, never as an exception.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace stoa::discovery {

inline std::string StringField(const nlohmann::json& object, const char* key,
                               const std::string& fallback = "") {
  if (!object.is_object()) return fallback;
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

inline nlohmann::json ArrayField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nlohmann::json::array();
  auto found = object.find(key);
  return found != object.end() && found->is_array() ? *found : nlohmann::json::array();
}

inline nlohmann::json ObjectField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nlohmann::json::object();
  auto found = object.find(key);
  return found != object.end() && found->is_object() ? *found : nlohmann::json::object();
}

// An integer in [1, 65535], or 0.
inline int PortValue(const nlohmann::json& value) {
  if (!value.is_number_integer()) return 0;
  auto port = value.get<int64_t>();
  return port >= 1 && port <= 65535 ? static_cast<int>(port) : 0;
}

}  // namespace stoa::discovery

#include "frameworks/batch/json_fields.hpp"

#include <cmath>
#include <limits>

namespace stoa::batch {

using nlohmann::json;

void JsonErrors::Add(const std::string& path, std::string message) {
  for (JsonError& error : list_) {
    if (error.path == path) {
      error.errors.push_back(std::move(message));
      return;
    }
  }
  list_.push_back({path, {std::move(message)}});
}

std::string ErrorSummary(const std::vector<JsonError>& errors) {
  std::string line;
  for (const JsonError& error : errors) {
    for (const std::string& text : error.errors) {
      if (!line.empty()) line += "; ";
      line += error.path + ": " + text;
    }
  }
  return line;
}

json ErrorBody(const std::vector<JsonError>& errors) {
  json details = json::array();
  for (const JsonError& error : errors) {
    details.push_back({{"path", error.path}, {"errors", error.errors}});
  }
  return {{"message", "Object is not valid"}, {"details", std::move(details)}};
}

std::string ChildPath(const std::string& parent, std::string_view key) {
  return (parent == "/" ? "" : parent) + "/" + std::string(key);
}

std::string IndexPath(const std::string& parent, size_t index) {
  return ChildPath(parent, std::to_string(index));
}

namespace {

const char* TypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    default:
      return "null";
  }
}

}  // namespace

std::string WrongType(std::string_view expected, const json& value) {
  return "Wrong type. Expected " + std::string(expected) + ", was " + TypeName(value) + ".";
}

std::string Shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

json JsonNumber(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9.0e15) {
    return static_cast<int64_t>(value);
  }
  return value;
}

void JsonFields::AllowOnly(std::initializer_list<std::string_view> names) {
  std::string others;
  for (const auto& [key, value] : object_.items()) {
    bool known = false;
    for (std::string_view name : names) known = known || key == name;
    if (known) continue;
    if (!others.empty()) others += " and ";
    others += "'" + key + "'";
  }
  if (!others.empty()) {
    errors_->Add(path_,
                 "Additional properties are not allowed, but found properties " + others + ".");
  }
}

void JsonFields::Require(std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (!Has(name)) errors_->Add(PathOf(name), "Property " + std::string(name) + " missing.");
  }
}

const json* JsonFields::Get(std::string_view name) const {
  auto found = object_.find(name);
  if (found == object_.end() || found->is_null()) return nullptr;
  return &*found;
}

std::optional<std::string> JsonFields::String(std::string_view name) {
  const json* value = Get(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    errors_->Add(PathOf(name), WrongType("string", *value));
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<std::string> JsonFields::NonEmptyString(std::string_view name) {
  auto text = String(name);
  if (text && text->empty()) {
    errors_->Add(PathOf(name), "'' does not match minimum length of 1.");
    return std::nullopt;
  }
  return text;
}

std::optional<bool> JsonFields::Bool(std::string_view name) {
  const json* value = Get(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    errors_->Add(PathOf(name), WrongType("boolean", *value));
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<double> JsonFields::Number(std::string_view name, double minimum) {
  const json* value = Get(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    errors_->Add(PathOf(name), WrongType("number", *value));
    return std::nullopt;
  }
  double number = value->get<double>();
  if (!std::isfinite(number)) {
    errors_->Add(PathOf(name), Shown(*value) + " is not a finite number.");
    return std::nullopt;
  }
  if (number < minimum) {
    errors_->Add(PathOf(name), Shown(*value) + " is smaller than required minimum value of " +
                                   JsonNumber(minimum).dump() + ".");
    return std::nullopt;
  }
  return number;
}

std::optional<int64_t> JsonFields::Integer(std::string_view name, int64_t minimum) {
  const json* value = Get(name);
  if (value == nullptr) return std::nullopt;
  int64_t number = 0;
  if (value->is_number_integer() && !value->is_number_unsigned()) {
    number = value->get<int64_t>();
  } else if (value->is_number_unsigned()) {
    uint64_t big = value->get<uint64_t>();
    if (big > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      errors_->Add(PathOf(name), Shown(*value) + " is too large.");
      return std::nullopt;
    }
    number = static_cast<int64_t>(big);
  } else if (value->is_number_float() && std::isfinite(value->get<double>()) &&
             value->get<double>() == std::floor(value->get<double>())) {
    double whole = value->get<double>();
    if (std::fabs(whole) >= 9.0e18) {
      errors_->Add(PathOf(name), Shown(*value) + " is too large.");
      return std::nullopt;
    }
    number = static_cast<int64_t>(whole);
  } else {
    errors_->Add(PathOf(name), WrongType("integer", *value));
    return std::nullopt;
  }
  if (number < minimum) {
    errors_->Add(PathOf(name), std::to_string(number) +
                                   " is smaller than required minimum value of " +
                                   std::to_string(minimum) + ".");
    return std::nullopt;
  }
  return number;
}

const json* JsonFields::Array(std::string_view name) {
  const json* value = Get(name);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) {
    errors_->Add(PathOf(name), WrongType("array", *value));
    return nullptr;
  }
  return value;
}

const json* JsonFields::Object(std::string_view name) {
  const json* value = Get(name);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) {
    errors_->Add(PathOf(name), WrongType("object", *value));
    return nullptr;
  }
  return value;
}

std::optional<std::vector<std::string>> JsonFields::Strings(std::string_view name) {
  const json* array = Array(name);
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> strings;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const json& element = (*array)[i];
    if (!element.is_string()) {
      errors_->Add(IndexPath(PathOf(name), i), WrongType("string", element));
      ok = false;
      continue;
    }
    strings.push_back(element.get<std::string>());
  }
  if (!ok) return std::nullopt;
  return strings;
}

std::optional<std::map<std::string, std::string>> JsonFields::StringMap(std::string_view name) {
  const json* object = Object(name);
  if (object == nullptr) return std::nullopt;
  std::map<std::string, std::string> map;
  bool ok = true;
  for (const auto& [key, value] : object->items()) {
    if (!value.is_string()) {
      errors_->Add(ChildPath(PathOf(name), key), WrongType("string", value));
      ok = false;
      continue;
    }
    map[key] = value.get<std::string>();
  }
  if (!ok) return std::nullopt;
  return map;
}

}  // namespace stoa::batch

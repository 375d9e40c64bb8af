#include "frameworks/service/validation.hpp"

#include <cmath>
#include <sstream>

namespace stoa::service {

using json = nlohmann::json;

void ValidationErrors::TypeError(const std::string& path, const std::string& message) {
  type_errors_ = true;
  Add(path, message);
}

void ValidationErrors::Add(const std::string& path, const std::string& message) {
  ++count_;
  auto& list = errors_[path];
  if (list.empty()) order_.push_back(path);
  list.push_back(message);
}

void ValidationErrors::Merge(const std::string& prefix, const ValidationErrors& other) {
  type_errors_ = type_errors_ || other.type_errors_;
  for (const auto& path : other.order_) {
    std::string full =
        path == "/" ? (prefix.empty() ? "/" : prefix) : (prefix == "/" ? "" : prefix) + path;
    for (const auto& message : other.errors_.at(path)) Add(full, message);
  }
}

std::vector<std::string> ValidationErrors::at(const std::string& path) const {
  auto it = errors_.find(path);
  return it == errors_.end() ? std::vector<std::string>{} : it->second;
}

json ValidationErrors::Body() const {
  json details = json::array();
  for (const auto& path : order_) {
    details.push_back({{"path", path}, {"errors", errors_.at(path)}});
  }
  return {{"message", type_errors_ ? "Invalid JSON" : "Object is not valid"}, {"details", details}};
}

std::string ValidationErrors::Summary() const {
  std::string out;
  for (const auto& path : order_) {
    for (const auto& error : errors_.at(path)) {
      out += (out.empty() ? "" : "; ") + path + ": " + error;
    }
  }
  return out;
}

std::string FieldPath(const std::string& parent, const std::string& field) {
  return (parent == "/" ? "" : parent) + "/" + field;
}

std::string IndexPath(const std::string& parent, size_t index) {
  return (parent == "/" ? "" : parent) + "(" + std::to_string(index) + ")";
}

std::string JsonTypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::null:
      return "null";
    default:
      return "an unexpected value";
  }
}

std::string NumberText(double value) {
  std::ostringstream out;
  out << value;
  std::string text = out.str();
  if (std::isfinite(value) && text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

const json* FieldReader::Get(const std::string& field) const {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool FieldReader::present(const std::string& field) const { return Get(field) != nullptr; }

std::optional<std::string> FieldReader::String(const std::string& field) {
  const json* value = Get(field);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    errors_->TypeError(PathOf(field), "expected a string, got " + JsonTypeName(*value));
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<bool> FieldReader::Bool(const std::string& field) {
  const json* value = Get(field);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    errors_->TypeError(PathOf(field), "expected a boolean, got " + JsonTypeName(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<double> FieldReader::Number(const std::string& field, double minimum,
                                          double maximum) {
  const json* value = Get(field);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    errors_->TypeError(PathOf(field), "expected a number, got " + JsonTypeName(*value));
    return std::nullopt;
  }
  double number = value->get<double>();
  if (!std::isfinite(number)) {
    errors_->Add(PathOf(field), "must be a finite number");
    return std::nullopt;
  }
  if (number < minimum) {
    errors_->Add(PathOf(field),
                 "got " + NumberText(number) + ", expected " + NumberText(minimum) + " or more");
    return std::nullopt;
  }
  if (number > maximum) {
    errors_->Add(PathOf(field),
                 "got " + NumberText(number) + ", expected " + NumberText(maximum) + " or less");
    return std::nullopt;
  }
  return number;
}

std::optional<int64_t> FieldReader::Integer(const std::string& field, int64_t minimum,
                                            int64_t maximum) {
  const json* value = Get(field);
  if (value == nullptr) return std::nullopt;
  bool whole = value->is_number_integer() ||
               (value->is_number_float() && std::isfinite(value->get<double>()) &&
                std::floor(value->get<double>()) == value->get<double>() &&
                std::fabs(value->get<double>()) < 9e15);
  if (!whole) {
    errors_->TypeError(PathOf(field),
                       "expected a whole number, got " +
                           (value->is_number() ? value->dump() : JsonTypeName(*value)));
    return std::nullopt;
  }
  int64_t number = value->is_number_unsigned() && value->get<uint64_t>() > INT64_MAX
                       ? INT64_MAX
                       : (value->is_number_float() ? static_cast<int64_t>(value->get<double>())
                                                   : value->get<int64_t>());
  if (number < minimum) {
    errors_->Add(PathOf(field), "got " + std::to_string(number) + ", expected " +
                                    std::to_string(minimum) + " or more");
    return std::nullopt;
  }
  if (number > maximum) {
    errors_->Add(PathOf(field), "got " + std::to_string(number) + ", expected " +
                                    std::to_string(maximum) + " or less");
    return std::nullopt;
  }
  return number;
}

const json* FieldReader::Array(const std::string& field) {
  const json* value = Get(field);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) {
    errors_->TypeError(PathOf(field), "expected an array, got " + JsonTypeName(*value));
    return nullptr;
  }
  return value;
}

const json* FieldReader::Object(const std::string& field) {
  const json* value = Get(field);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) {
    errors_->TypeError(PathOf(field), "expected an object, got " + JsonTypeName(*value));
    return nullptr;
  }
  return value;
}

std::optional<std::vector<std::string>> FieldReader::Strings(const std::string& field) {
  const json* array = Array(field);
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const json& item = (*array)[i];
    if (!item.is_string()) {
      errors_->TypeError(IndexPath(PathOf(field), i),
                         "expected a string, got " + JsonTypeName(item));
      ok = false;
      continue;
    }
    out.push_back(item.get<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> FieldReader::StringMap(const std::string& field) {
  const json* object = Object(field);
  if (object == nullptr) return std::nullopt;
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& [key, value] : object->items()) {
    if (!value.is_string()) {
      errors_->TypeError(FieldPath(PathOf(field), key),
                         "expected a string, got " + JsonTypeName(value));
      ok = false;
      continue;
    }
    out[key] = value.get<std::string>();
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace stoa::service

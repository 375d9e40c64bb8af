// Typed reads of a request body's fields for job_json: each problem is
// recorded with its path in Metronome's words, and the read gives nothing. An
// absent field, or null, is not an error: the caller applies the default.
// Internal to the batch_json library.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frameworks/batch/job_json.hpp"

namespace stoa::batch {

// Problems grouped by path, in the order found.
class JsonErrors {
 public:
  void Add(const std::string& path, std::string message);
  bool empty() const { return list_.empty(); }
  std::vector<JsonError> Take() { return std::move(list_); }

 private:
  std::vector<JsonError> list_;
};

// "/" + "run" -> "/run"; "/run" + "mem" -> "/run/mem".
std::string ChildPath(const std::string& parent, std::string_view key);
// "/run/volumes" + 0 -> "/run/volumes/0".
std::string IndexPath(const std::string& parent, size_t index);
// Metronome's words: "Wrong type. Expected number, was string."
std::string WrongType(std::string_view expected, const nlohmann::json& value);
// A value for a message: its JSON text, cut at 80 characters.
std::string Shown(const nlohmann::json& value);
// A number as Metronome renders it: whole numbers without a fraction (32, not 32.0).
nlohmann::json JsonNumber(double value);

class JsonFields {
 public:
  // REQUIRES: object.is_object().
  JsonFields(const nlohmann::json& object, std::string path, JsonErrors* errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  // The schema's `additionalProperties: false`: one error naming the others.
  void AllowOnly(std::initializer_list<std::string_view> names);
  // The schema's `required`: "Property id missing." for each one absent.
  void Require(std::initializer_list<std::string_view> names);

  // The field's value; none when absent or null.
  const nlohmann::json* Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name) != nullptr; }
  std::string PathOf(std::string_view name) const { return ChildPath(path_, name); }
  const std::string& path() const { return path_; }
  JsonErrors* errors() const { return errors_; }

  std::optional<std::string> String(std::string_view name);
  // A string of at least one character.
  std::optional<std::string> NonEmptyString(std::string_view name);
  std::optional<bool> Bool(std::string_view name);
  // A finite number >= minimum.
  std::optional<double> Number(std::string_view name, double minimum);
  // A whole number >= minimum (2.0 is whole, as in JSON Schema).
  std::optional<int64_t> Integer(std::string_view name, int64_t minimum);
  // An array or an object; else a type error.
  const nlohmann::json* Array(std::string_view name);
  const nlohmann::json* Object(std::string_view name);
  std::optional<std::vector<std::string>> Strings(std::string_view name);
  // An object of string values ("labels").
  std::optional<std::map<std::string, std::string>> StringMap(std::string_view name);

 private:
  const nlohmann::json& object_;
  std::string path_;
  JsonErrors* errors_;
};

// Calls fn(item, index) for each element of the array at `name` that is an
// object (the others are type errors). False when any element was not one.
template <typename Fn>
bool ForEachObject(JsonFields& fields, std::string_view name, Fn fn) {
  const nlohmann::json* array = fields.Array(name);
  if (array == nullptr) return true;
  bool all = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const nlohmann::json& element = (*array)[i];
    std::string path = IndexPath(fields.PathOf(name), i);
    if (!element.is_object()) {
      fields.errors()->Add(path, WrongType("object", element));
      all = false;
      continue;
    }
    JsonFields item(element, path, fields.errors());
    fn(item, i);
  }
  return all;
}

}  // namespace stoa::batch

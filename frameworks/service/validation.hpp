// What is wrong with a request body, field by field, in the shape of
// Marathon's error body: {"message": ..., "details": [{"path": "/cpus",
// "errors": [...]}]}. Paths are JSON paths as Marathon writes them: "/" for
// the whole object, "/name" for a field, "(i)" for an array element
// ("/portDefinitions(0)/port").
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace stoa::service {

class ValidationErrors {
 public:
  // A value of the wrong JSON type (Marathon: "Invalid JSON").
  void TypeError(const std::string& path, const std::string& message);
  // A well-typed value that breaks a rule (Marathon: "Object is not valid").
  void Add(const std::string& path, const std::string& message);

  // Every error of `other`, its paths put under `prefix` ("/apps(0)" + "/cpus").
  void Merge(const std::string& prefix, const ValidationErrors& other);

  bool empty() const { return errors_.empty(); }
  // How many errors were recorded, over all paths.
  size_t count() const { return count_; }
  bool has(const std::string& path) const { return errors_.count(path) > 0; }
  // The errors of one path, in the order they were found.
  std::vector<std::string> at(const std::string& path) const;
  // The error body; its message says whether types or rules were broken.
  nlohmann::json Body() const;
  // One line for logs: "/cpus: got -1, expected 0.001 or more; /id: ...".
  std::string Summary() const;

 private:
  bool type_errors_ = false;
  size_t count_ = 0;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<std::string>> errors_;
};

// "/a" + "b" -> "/a/b"; "/" + "b" -> "/b".
std::string FieldPath(const std::string& parent, const std::string& field);
// "/a" + 2 -> "/a(2)".
std::string IndexPath(const std::string& parent, size_t index);

// Typed reads of the fields of a JSON object; every problem is recorded with
// the field's path and the read returns nullopt. An absent field (or null) is
// not an error: the caller applies the default.
class FieldReader {
 public:
  FieldReader(const nlohmann::json& object, std::string path, ValidationErrors* errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  bool present(const std::string& field) const;
  std::string PathOf(const std::string& field) const { return FieldPath(path_, field); }
  const std::string& path() const { return path_; }
  ValidationErrors* errors() const { return errors_; }

  std::optional<std::string> String(const std::string& field);
  std::optional<bool> Bool(const std::string& field);
  std::optional<double> Number(const std::string& field, double minimum, double maximum);
  // A whole number within [minimum, maximum].
  std::optional<int64_t> Integer(const std::string& field, int64_t minimum, int64_t maximum);
  // The JSON value when it is an array (or object); else a type error.
  const nlohmann::json* Array(const std::string& field);
  const nlohmann::json* Object(const std::string& field);
  // An array of strings.
  std::optional<std::vector<std::string>> Strings(const std::string& field);
  // An object of string values ("labels").
  std::optional<std::map<std::string, std::string>> StringMap(const std::string& field);

 private:
  const nlohmann::json* Get(const std::string& field) const;
  const nlohmann::json& object_;
  std::string path_;
  ValidationErrors* errors_;
};

// The JSON type of `value` as a person says it: "a string", "an array", ...
std::string JsonTypeName(const nlohmann::json& value);
// A number as Marathon's messages print it: 1 -> "1.0", 0.5 -> "0.5".
std::string NumberText(double value);

}  // namespace stoa::service

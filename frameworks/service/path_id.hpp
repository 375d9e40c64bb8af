// App ids as Marathon has them: absolute paths of names ("/shop/web"). Parsing
// is lenient as Marathon's is (repeated and trailing slashes are dropped, "."
// and ".." resolved, relative ids taken from the root); validation then checks
// each name. Task ids embed the app id so that a task id alone names its app.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stoa::service {

class PathId {
 public:
  PathId() = default;  // the root, "/"
  // Splits on '/', drops empty names and resolves "." and ".." (never above the root).
  static PathId Parse(std::string_view text);

  // "/shop/web"; the root is "/".
  std::string ToString() const;
  // "shop_web": the names joined by '_' (which no valid name contains).
  std::string SafePath() const;
  const std::vector<std::string>& names() const { return names_; }
  bool root() const { return names_.empty(); }
  PathId Parent() const;
  // True when `other` is this path or lies beneath it.
  bool Contains(const PathId& other) const;

  auto operator<=>(const PathId&) const = default;

 private:
  std::vector<std::string> names_;
};

// What is wrong with `id` as an app id, in Marathon's rules: at least one name;
// each name lowercase letters, digits and '-', in dot-separated parts that start
// and end with a letter or digit; the last name not a reserved word of the API
// (restart, tasks, versions). Empty when valid.
std::vector<std::string> PathIdErrors(const PathId& id);

// A fresh task id for an instance of `app`: "shop_web.instance-<uuid>".
std::string NewTaskId(const PathId& app);
// The app a task id names, or nullopt when it is not one of ours.
std::optional<PathId> AppOfTaskId(std::string_view task_id);

}  // namespace stoa::service

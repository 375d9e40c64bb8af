#include "frameworks/service/path_id.hpp"

#include "common/ids.hpp"

namespace stoa::service {
namespace {

constexpr std::string_view kInstanceMarker = ".instance-";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One dot-separated part of a name: [a-z0-9], or [a-z0-9][a-z0-9-]*[a-z0-9].
bool ValidLabel(std::string_view label) {
  if (label.empty() || !IsLowerAlnum(label.front()) || !IsLowerAlnum(label.back())) return false;
  for (char c : label) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool ValidName(std::string_view name) {
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    if (!ValidLabel(name.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

PathId PathId::Parse(std::string_view text) {
  PathId id;
  size_t start = 0;
  while (start <= text.size()) {
    size_t slash = text.find('/', start);
    std::string_view name = text.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (name == "..") {
      if (!id.names_.empty()) id.names_.pop_back();
    } else if (!name.empty() && name != ".") {
      id.names_.emplace_back(name);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return id;
}

std::string PathId::ToString() const {
  if (names_.empty()) return "/";
  std::string out;
  for (const auto& name : names_) out += "/" + name;
  return out;
}

std::string PathId::SafePath() const {
  std::string out;
  for (const auto& name : names_) out += (out.empty() ? "" : "_") + name;
  return out;
}

PathId PathId::Parent() const {
  PathId parent = *this;
  if (!parent.names_.empty()) parent.names_.pop_back();
  return parent;
}

bool PathId::Contains(const PathId& other) const {
  if (other.names_.size() < names_.size()) return false;
  return std::equal(names_.begin(), names_.end(), other.names_.begin());
}

std::vector<std::string> PathIdErrors(const PathId& id) {
  std::vector<std::string> errors;
  if (id.root()) {
    errors.push_back("Path must contain at least one path element");
    return errors;
  }
  for (const auto& name : id.names()) {
    if (!ValidName(name)) {
      errors.push_back("'" + name +
                       "' is not a valid name: use lowercase letters, digits and '-' in "
                       "dot-separated parts that start and end with a letter or digit");
    }
  }
  const std::string& last = id.names().back();
  if (last == "restart" || last == "tasks" || last == "versions") {
    errors.push_back(
        "must not end with any of the following reserved keywords: restart, tasks, versions");
  }
  return errors;
}

std::string NewTaskId(const PathId& app) {
  return app.SafePath() + std::string(kInstanceMarker) + NewUuid();
}

std::optional<PathId> AppOfTaskId(std::string_view task_id) {
  size_t marker = task_id.rfind(kInstanceMarker);
  if (marker == std::string_view::npos || marker == 0) return std::nullopt;
  std::string path(task_id.substr(0, marker));
  for (char& c : path) {
    if (c == '_') c = '/';
  }
  PathId id = PathId::Parse(path);
  if (!PathIdErrors(id).empty()) return std::nullopt;
  return id;
}

}  // namespace stoa::service

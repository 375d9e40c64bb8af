// Resources algebra. Invariants kept by every mutator: no entry is empty, no two
// entries are SameKind(), and ranges are sorted, disjoint and non-adjacent.
//
// The text form is the header's, extended so that every field round-trips:
//   name[(role[,principal])][[persistence_id:container_path]]:value
// e.g. "disk(db,alice)[vol-1:/data]:100". The extension only appears when a
// principal or a persistent volume is present.
#include "common/resources.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace stoa {

namespace {

constexpr std::string_view kSeparators = "(){}[]:;,";

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || kSeparators.find(c) != std::string_view::npos) return false;
  }
  return true;
}

// Mesos role rules, reduced to what our text form needs.
bool IsValidRole(std::string_view role) {
  if (role == "*") return true;
  if (role.empty() || role == "." || role == ".." || role.front() == '-') return false;
  for (char c : role) {
    if (c <= ' ' || c == '*' || kSeparators.find(c) != std::string_view::npos) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(separator, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Sorts and merges valid ranges (overlapping or adjacent ones become one).
// Inverted ranges (begin > end) are kept, unmerged, at the end so that
// ValidateTaskResources can report them instead of them silently vanishing.
void NormalizeRanges(std::vector<Range>& ranges) {
  auto inverted = std::stable_partition(ranges.begin(), ranges.end(),
                                        [](const Range& r) { return r.begin <= r.end; });
  std::sort(ranges.begin(), inverted,
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  auto out = ranges.begin();
  for (auto it = ranges.begin(); it != inverted; ++it) {
    if (out != ranges.begin()) {
      Range& last = *(out - 1);
      // `last.end + 1` cannot overflow: it is only formed when last.end < max.
      if (last.end == std::numeric_limits<uint64_t>::max() || it->begin <= last.end + 1) {
        last.end = std::max(last.end, it->end);
        continue;
      }
    }
    *out++ = *it;
  }
  out = std::move(inverted, ranges.end(), out);
  ranges.erase(out, ranges.end());
}

// a \ b for normalized a and b.
std::vector<Range> SubtractRanges(const std::vector<Range>& a, const std::vector<Range>& b) {
  std::vector<Range> result;
  size_t j = 0;
  for (Range current : a) {
    bool remaining = true;
    while (j < b.size() && b[j].end < current.begin) ++j;
    for (size_t k = j; k < b.size() && b[k].begin <= current.end; ++k) {
      if (b[k].begin > current.begin) result.push_back({current.begin, b[k].begin - 1});
      if (b[k].end >= current.end) {
        remaining = false;
        break;
      }
      current.begin = b[k].end + 1;
    }
    if (remaining) result.push_back(current);
  }
  return result;
}

// True when every range of b lies inside one range of a (both normalized).
bool ContainsRanges(const std::vector<Range>& a, const std::vector<Range>& b) {
  size_t i = 0;
  for (const Range& r : b) {
    while (i < a.size() && a[i].end < r.begin) ++i;
    if (i == a.size() || a[i].begin > r.begin || a[i].end < r.end) return false;
  }
  return true;
}

std::string FormatMillis(int64_t millis) {
  std::string out;
  uint64_t magnitude =
      millis < 0 ? uint64_t{0} - static_cast<uint64_t>(millis) : static_cast<uint64_t>(millis);
  if (millis < 0) out += '-';
  out += std::to_string(magnitude / 1000);
  uint64_t fraction = magnitude % 1000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 3 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  return out;
}

// Converts a value to fixed-point millis; nullopt when not finite or too large.
std::optional<int64_t> ToMillis(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  double millis = std::round(value * 1000.0);
  // 2^63 is exactly representable; anything at or above it does not fit.
  if (std::fabs(millis) >= 9223372036854775808.0) return std::nullopt;
  return static_cast<int64_t>(millis);
}

std::optional<uint64_t> ParseUint(std::string_view text) {
  text = Trim(text);
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

const char* TypeName(Resource::Type type) {
  switch (type) {
    case Resource::Type::kScalar:
      return "a scalar";
    case Resource::Type::kRanges:
      return "ranges";
    case Resource::Type::kSet:
      return "a set";
  }
  return "an unknown type";
}

// The well-known resources have a fixed type.
std::optional<Resource::Type> KnownType(std::string_view name) {
  if (name == "cpus" || name == "mem" || name == "disk" || name == "gpus") {
    return Resource::Type::kScalar;
  }
  if (name == "ports") return Resource::Type::kRanges;
  return std::nullopt;
}

Status CheckKnownType(const Resource& resource) {
  auto known = KnownType(resource.name);
  if (known && *known != resource.type) {
    if (*known == Resource::Type::kRanges) {
      return Status::Error(resource.name + " must be ranges like [31000-32000], not " +
                           TypeName(resource.type));
    }
    return Status::Error(resource.name + " must be " + TypeName(*known) + ", not " +
                         TypeName(resource.type));
  }
  return Status::Ok();
}

Result<Resource> ParseEntry(std::string_view entry, const std::string& default_role) {
  Resource resource;
  size_t pos = entry.find_first_of("([:");
  if (pos == std::string_view::npos) {
    return Status::Error("expected 'name:value'");
  }
  std::string_view name = Trim(entry.substr(0, pos));
  if (!IsValidName(name)) {
    return Status::Error("'" + std::string(name) + "' is not a valid resource name");
  }
  resource.name = std::string(name);
  resource.role = default_role;

  if (entry[pos] == '(') {
    size_t close = entry.find(')', pos);
    if (close == std::string_view::npos) return Status::Error("missing ')' after the role");
    std::vector<std::string_view> parts = Split(entry.substr(pos + 1, close - pos - 1), ',');
    if (parts.size() > 2) return Status::Error("expected '(role)' or '(role,principal)'");
    std::string_view role = Trim(parts[0]);
    if (!IsValidRole(role)) {
      return Status::Error("'" + std::string(role) + "' is not a valid role");
    }
    resource.role = std::string(role);
    if (parts.size() == 2) {
      std::string_view principal = Trim(parts[1]);
      if (!IsValidName(principal)) {
        return Status::Error("'" + std::string(principal) + "' is not a valid principal");
      }
      resource.principal = std::string(principal);
    }
    pos = entry.find_first_not_of(" \t", close + 1);
    if (pos == std::string_view::npos) return Status::Error("missing ':value'");
  }

  if (entry[pos] == '[') {
    size_t close = entry.find(']', pos);
    if (close == std::string_view::npos) {
      return Status::Error("missing ']' after the persistent volume");
    }
    std::string_view volume = entry.substr(pos + 1, close - pos - 1);
    size_t colon = volume.find(':');
    if (colon == std::string_view::npos) {
      return Status::Error("expected '[persistence_id:container_path]'");
    }
    resource.persistence_id = std::string(Trim(volume.substr(0, colon)));
    resource.container_path = std::string(Trim(volume.substr(colon + 1)));
    if (!IsValidName(resource.persistence_id)) {
      return Status::Error("'" + resource.persistence_id + "' is not a valid persistence id");
    }
    pos = entry.find_first_not_of(" \t", close + 1);
    if (pos == std::string_view::npos) return Status::Error("missing ':value'");
  }

  if (entry[pos] != ':') return Status::Error("expected ':' after the name");
  std::string_view value = Trim(entry.substr(pos + 1));
  if (value.empty()) return Status::Error("missing value");

  if (value.front() == '[') {
    resource.type = Resource::Type::kRanges;
    if (value.back() != ']') return Status::Error("missing ']' at the end of the ranges");
    std::string_view inside = Trim(value.substr(1, value.size() - 2));
    if (!inside.empty()) {
      for (std::string_view item : Split(inside, ',')) {
        size_t dash = item.find('-');
        auto begin = ParseUint(item.substr(0, dash));
        auto end = dash == std::string_view::npos ? begin : ParseUint(item.substr(dash + 1));
        if (!begin || !end) {
          return Status::Error("'" + std::string(Trim(item)) + "' is not a range like 31000-32000");
        }
        if (*begin > *end) {
          return Status::Error("range '" + std::string(Trim(item)) + "' ends before it begins");
        }
        resource.ranges.push_back({*begin, *end});
      }
    }
    NormalizeRanges(resource.ranges);
  } else if (value.front() == '{') {
    resource.type = Resource::Type::kSet;
    if (value.back() != '}') return Status::Error("missing '}' at the end of the set");
    std::string_view inside = Trim(value.substr(1, value.size() - 2));
    if (!inside.empty()) {
      for (std::string_view item : Split(inside, ',')) {
        item = Trim(item);
        if (!IsValidName(item)) {
          return Status::Error("'" + std::string(item) + "' is not a valid set item");
        }
        resource.set.insert(std::string(item));
      }
    }
  } else {
    resource.type = Resource::Type::kScalar;
    double number = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc() || end != value.data() + value.size() || !std::isfinite(number)) {
      return Status::Error("'" + std::string(value) + "' is not a number");
    }
    if (number < 0) return Status::Error("'" + std::string(value) + "' is negative");
    auto millis = ToMillis(number);
    if (!millis) return Status::Error("'" + std::string(value) + "' is too large");
    resource.scalar_millis = *millis;
  }

  if (Status status = CheckKnownType(resource); !status.ok()) return status;
  return resource;
}

}  // namespace

bool Resource::SameKind(const Resource& other) const {
  return type == other.type && name == other.name && role == other.role &&
         principal == other.principal && persistence_id == other.persistence_id &&
         container_path == other.container_path;
}

bool Resource::empty() const {
  switch (type) {
    case Type::kScalar:
      return scalar_millis == 0;
    case Type::kRanges:
      return ranges.empty();
    case Type::kSet:
      return set.empty();
  }
  return false;  // An unknown type is kept so that validation can report it.
}

Result<Resources> Resources::Parse(std::string_view text, const std::string& default_role) {
  if (!IsValidRole(default_role)) {
    return Status::Error("'" + default_role + "' is not a valid default role");
  }
  Resources resources;
  std::map<std::string, Resource::Type, std::less<>> types;
  for (std::string_view entry : Split(text, ';')) {
    entry = Trim(entry);
    if (entry.empty()) continue;
    Result<Resource> resource = ParseEntry(entry, default_role);
    if (!resource.ok()) {
      return Status::Error("resource '" + std::string(entry) + "': " + resource.error());
    }
    auto [it, inserted] = types.emplace(resource->name, resource->type);
    if (!inserted && it->second != resource->type) {
      return Status::Error("resource '" + std::string(entry) + "': '" + resource->name +
                           "' was already given as " + TypeName(it->second));
    }
    resources.Add(*resource);
  }
  return resources;
}

Resources Resources::Scalar(const std::string& name, double value, const std::string& role) {
  Resources resources;
  Resource resource;
  resource.name = name;
  resource.type = Resource::Type::kScalar;
  resource.role = role;
  // A value that does not fit in fixed point (NaN, infinite, > 9e15) yields nothing.
  resource.scalar_millis = ToMillis(value).value_or(0);
  resources.Add(resource);
  return resources;
}

Resources Resources::Ports(std::vector<Range> ranges, const std::string& role) {
  Resources resources;
  Resource resource;
  resource.name = "ports";
  resource.type = Resource::Type::kRanges;
  resource.ranges = std::move(ranges);
  resource.role = role;
  resources.Add(resource);
  return resources;
}

std::string Resources::ToString() const {
  std::string out;
  for (const Resource& r : entries_) {
    if (!out.empty()) out += ';';
    out += r.name;
    if (r.role != "*" || !r.principal.empty()) {
      out += '(';
      out += r.role;
      if (!r.principal.empty()) {
        out += ',';
        out += r.principal;
      }
      out += ')';
    }
    if (!r.persistence_id.empty() || !r.container_path.empty()) {
      out += '[';
      out += r.persistence_id;
      out += ':';
      out += r.container_path;
      out += ']';
    }
    out += ':';
    switch (r.type) {
      case Resource::Type::kScalar:
        out += FormatMillis(r.scalar_millis);
        break;
      case Resource::Type::kRanges: {
        out += '[';
        bool first = true;
        for (const Range& range : r.ranges) {
          if (!first) out += ',';
          first = false;
          out += std::to_string(range.begin);
          out += '-';
          out += std::to_string(range.end);
        }
        out += ']';
        break;
      }
      case Resource::Type::kSet: {
        out += '{';
        bool first = true;
        for (const std::string& item : r.set) {
          if (!first) out += ',';
          first = false;
          out += item;
        }
        out += '}';
        break;
      }
    }
  }
  return out;
}

void Resources::Add(const Resource& resource) {
  if (resource.empty()) return;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (!it->SameKind(resource)) continue;
    switch (resource.type) {
      case Resource::Type::kScalar:
        it->scalar_millis += resource.scalar_millis;
        break;
      case Resource::Type::kRanges:
        it->ranges.insert(it->ranges.end(), resource.ranges.begin(), resource.ranges.end());
        NormalizeRanges(it->ranges);
        break;
      case Resource::Type::kSet:
        it->set.insert(resource.set.begin(), resource.set.end());
        break;
    }
    // Only a negative (invalid) scalar can bring an entry back to zero.
    if (it->empty()) entries_.erase(it);
    return;
  }
  entries_.push_back(resource);
  if (resource.type == Resource::Type::kRanges) NormalizeRanges(entries_.back().ranges);
}

Resources& Resources::operator+=(const Resources& other) {
  if (this == &other) {
    // x + x: ranges and sets stay as they are, scalars double.
    for (Resource& r : entries_) {
      if (r.type == Resource::Type::kScalar) r.scalar_millis *= 2;
    }
    return *this;
  }
  if (entries_.empty()) {
    entries_ = other.entries_;  // Already normalized.
    return *this;
  }
  for (const Resource& resource : other.entries_) Add(resource);
  return *this;
}

Resources& Resources::operator-=(const Resources& other) {
  if (this == &other) {
    entries_.clear();
    return *this;
  }
  for (const Resource& resource : other.entries_) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Resource& r) { return r.SameKind(resource); });
    if (it == entries_.end()) continue;
    switch (resource.type) {
      case Resource::Type::kScalar:
        it->scalar_millis = it->scalar_millis > resource.scalar_millis
                                ? it->scalar_millis - resource.scalar_millis
                                : 0;
        break;
      case Resource::Type::kRanges:
        it->ranges = SubtractRanges(it->ranges, resource.ranges);
        break;
      case Resource::Type::kSet:
        for (const std::string& item : resource.set) it->set.erase(item);
        break;
    }
    if (it->empty()) entries_.erase(it);
  }
  return *this;
}

bool Resources::operator==(const Resources& other) const {
  if (entries_.size() != other.entries_.size()) return false;
  for (const Resource& resource : entries_) {
    auto it = std::find_if(other.entries_.begin(), other.entries_.end(),
                           [&](const Resource& r) { return r.SameKind(resource); });
    if (it == other.entries_.end() || !(*it == resource)) return false;
  }
  return true;
}

bool Resources::Contains(const Resources& other) const {
  for (const Resource& wanted : other.entries_) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Resource& r) { return r.SameKind(wanted); });
    if (it == entries_.end()) return false;
    switch (wanted.type) {
      case Resource::Type::kScalar:
        if (it->scalar_millis < wanted.scalar_millis) return false;
        break;
      case Resource::Type::kRanges:
        if (!ContainsRanges(it->ranges, wanted.ranges)) return false;
        break;
      case Resource::Type::kSet:
        if (!std::includes(it->set.begin(), it->set.end(), wanted.set.begin(), wanted.set.end())) {
          return false;
        }
        break;
    }
  }
  return true;
}

double Resources::Get(std::string_view name) const {
  return static_cast<double>(GetMillis(name)) / 1000.0;
}

int64_t Resources::GetMillis(std::string_view name) const {
  int64_t total = 0;
  for (const Resource& r : entries_) {
    if (r.type == Resource::Type::kScalar && r.name == name) total += r.scalar_millis;
  }
  return total;
}

std::vector<Range> Resources::GetRanges(std::string_view name) const {
  std::vector<Range> ranges;
  for (const Resource& r : entries_) {
    if (r.type == Resource::Type::kRanges && r.name == name) {
      ranges.insert(ranges.end(), r.ranges.begin(), r.ranges.end());
    }
  }
  NormalizeRanges(ranges);
  return ranges;
}

std::vector<std::string> Resources::ScalarNames() const {
  std::vector<std::string> names;
  for (const Resource& r : entries_) {
    if (r.type == Resource::Type::kScalar) names.push_back(r.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Resources Resources::Filter(const std::function<bool(const Resource&)>& keep) const {
  Resources result;
  for (const Resource& r : entries_) {
    if (keep(r)) result.entries_.push_back(r);  // A subset keeps the invariants.
  }
  return result;
}

Resources Resources::Unreserved() const {
  return Filter([](const Resource& r) { return !r.reserved(); });
}

Resources Resources::AllocatableTo(const std::string& role) const {
  return Filter([&role](const Resource& r) { return !r.reserved() || r.role == role; });
}

Resources Resources::WithRole(const std::string& role) const {
  Resources result;
  for (Resource r : entries_) {
    r.role = role;
    r.principal.clear();
    result.Add(r);
  }
  return result;
}

Status ValidateTaskResources(const Resources& resources) {
  for (const Resource& r : resources.entries()) {
    const std::string label = "resource '" + r.name + "'";
    if (!IsValidName(r.name)) {
      return Status::Error(label + ": not a valid resource name");
    }
    if (r.type != Resource::Type::kScalar && r.type != Resource::Type::kRanges &&
        r.type != Resource::Type::kSet) {
      return Status::Error(label + ": unknown type " + std::to_string(static_cast<int>(r.type)));
    }
    if (Status status = CheckKnownType(r); !status.ok()) {
      return Status::Error(label + ": " + status.message());
    }
    if (!IsValidRole(r.role)) {
      return Status::Error(label + ": '" + r.role + "' is not a valid role");
    }
    if (!r.principal.empty() && !r.reserved()) {
      return Status::Error(label + ": a reservation principal needs a role other than '*'");
    }
    if (!r.persistence_id.empty() || !r.container_path.empty()) {
      if (r.name != "disk" || r.type != Resource::Type::kScalar) {
        return Status::Error(label + ": only disk can be a persistent volume");
      }
      if (!r.reserved()) {
        return Status::Error(label + ": persistent volume '" + r.persistence_id +
                             "' must be reserved to a role");
      }
      if (r.persistence_id.empty() || r.container_path.empty()) {
        return Status::Error(label + ": a persistent volume needs both an id and a container path");
      }
    }
    switch (r.type) {
      case Resource::Type::kScalar:
        if (r.scalar_millis < 0) {
          return Status::Error(label + ": negative value " + FormatMillis(r.scalar_millis));
        }
        if (r.name == "gpus" && r.scalar_millis % 1000 != 0) {
          return Status::Error(label + ": " + FormatMillis(r.scalar_millis) +
                               " is not a whole number of gpus");
        }
        break;
      case Resource::Type::kRanges:
        for (size_t i = 0; i < r.ranges.size(); ++i) {
          const Range& range = r.ranges[i];
          if (range.begin > range.end) {
            return Status::Error(label + ": range " + std::to_string(range.begin) + "-" +
                                 std::to_string(range.end) + " ends before it begins");
          }
          if (i > 0 && r.ranges[i - 1].end >= range.begin) {
            return Status::Error(label + ": ranges overlap or are not sorted");
          }
        }
        break;
      case Resource::Type::kSet:
        for (const std::string& item : r.set) {
          if (!IsValidName(item)) {
            return Status::Error(label + ": '" + item + "' is not a valid set item");
          }
        }
        break;
    }
  }
  return Status::Ok();
}

}  // namespace stoa

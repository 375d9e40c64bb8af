// Resources: the algebra of what agents offer and tasks consume.
//
// A Resources value is a list of Resource entries (scalars such as cpus, mem,
// disk and gpus; ranges such as ports; sets). Entries with the same name, type,
// role, reservation and persistence are merged. Scalars use fixed-point
// arithmetic with three decimal digits, as Mesos does, so that adding and
// subtracting 0.1 a thousand times returns exactly to where it started.
//
// Text form (parse and print):  cpus:2;mem:1024;ports:[31000-32000,33000-33001];
//   disks:{a,b};cpus(web):1   where "(web)" is the role the entry is reserved to.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace stoa {

// Inclusive range [begin, end].
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const Range&) const = default;
};

struct Resource {
  enum class Type { kScalar, kRanges, kSet };

  std::string name;
  Type type = Type::kScalar;
  int64_t scalar_millis = 0;   // kScalar: value * 1000
  std::vector<Range> ranges;   // kRanges: sorted, disjoint, non-adjacent
  std::set<std::string> set;   // kSet
  std::string role = "*";      // "*" means unreserved
  std::string principal;       // who made a dynamic reservation ("" for static)
  std::string persistence_id;  // persistent volume id ("" when not a volume)
  std::string container_path;  // where a persistent volume is mounted

  double scalar() const { return static_cast<double>(scalar_millis) / 1000.0; }
  bool reserved() const { return role != "*"; }
  // True when two entries may be merged (all identity fields equal).
  bool SameKind(const Resource& other) const;
  bool empty() const;
  bool operator==(const Resource&) const = default;
};

class Resources {
 public:
  Resources() = default;

  // Parses the text form. Errors name the offending entry, e.g.
  // "resource 'cpus:x': 'x' is not a number".
  static Result<Resources> Parse(std::string_view text, const std::string& default_role = "*");
  // Builds a scalar resource, e.g. Resources::Scalar("cpus", 0.5).
  static Resources Scalar(const std::string& name, double value, const std::string& role = "*");
  static Resources Ports(std::vector<Range> ranges, const std::string& role = "*");

  std::string ToString() const;

  // Adds one entry, merging it with an entry of the same kind.
  void Add(const Resource& resource);
  Resources& operator+=(const Resources& other);
  // Subtracts as much of `other` as present; entries that reach zero are removed.
  Resources& operator-=(const Resources& other);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  bool operator==(const Resources& other) const;

  // True when every entry of `other` is covered by entries of the same kind here.
  bool Contains(const Resources& other) const;
  bool empty() const { return entries_.empty(); }

  // Sum of scalar `name` over every role and reservation (0 when absent).
  double Get(std::string_view name) const;
  int64_t GetMillis(std::string_view name) const;
  // Union of the ranges of `name` over every role.
  std::vector<Range> GetRanges(std::string_view name) const;
  // Names of all scalar resources present, sorted.
  std::vector<std::string> ScalarNames() const;

  Resources Filter(const std::function<bool(const Resource&)>& keep) const;
  Resources Unreserved() const;
  // Resources usable by `role`: unreserved ones and those reserved to `role`.
  Resources AllocatableTo(const std::string& role) const;
  // The same resources with every entry's role (and reservation) replaced.
  Resources WithRole(const std::string& role) const;

  const std::vector<Resource>& entries() const { return entries_; }

 private:
  std::vector<Resource> entries_;
};

// Checks that a task's resources are sane: non-negative, finite, known types,
// ports given as ranges; an error names what is wrong.
Status ValidateTaskResources(const Resources& resources);

}  // namespace stoa

// Control groups, v2 and v1: finding the hierarchy that has a controller, and
// the file operations every cgroups isolator and the launcher need. Containers
// live at <hierarchy>/<cgroups_root>/<container id>.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace stoa::isolators::cgroups {

// A mounted hierarchy: a cgroup2 mount (one for every controller) or a v1 mount
// of one or more controllers (e.g. "cpu,cpuacct").
struct Hierarchy {
  std::string mount_point;  // e.g. /sys/fs/cgroup or /sys/fs/cgroup/memory
  int version = 2;
  bool operator==(const Hierarchy&) const = default;
};

// The hierarchy where `controller` ("cpu", "cpuacct", "memory", "pids",
// "freezer") can be used: cgroup v2 if its root lists the controller in
// cgroup.controllers, else the v1 mount that has it. The error says why not.
Result<Hierarchy> FindHierarchy(const std::string& controller);

// A cgroup2 mount, with or without controllers (the launcher tracks and kills
// a container's processes with it).
std::optional<Hierarchy> FindUnifiedHierarchy();

// <mount_point>/<root>/<container_id>.
std::string ContainerPath(const Hierarchy& hierarchy, const std::string& root,
                          const std::string& container_id);

// Creates <mount_point>/<root>/<container_id> (and <root>), enabling
// `controller` on the way down on v2. Idempotent.
Status Create(const Hierarchy& hierarchy, const std::string& root, const std::string& container_id,
              const std::string& controller);

// Removes the cgroup directory; a missing one is fine. REQUIRES: it is empty.
Status Remove(const std::string& path);

// The ids (directory names) under <mount_point>/<root>.
std::vector<std::string> List(const Hierarchy& hierarchy, const std::string& root);

// Cgroups older than this that hold no process and belong to no known
// container are what agents that are gone left behind (a live container always
// holds a process; a launching one is younger).
inline constexpr double kStaleCgroupSeconds = 600;

// Removes the cgroups under <root> not in `keep` that hold no process and were
// made more than `min_age_seconds` ago; returns their ids.
std::vector<std::string> RemoveStale(const Hierarchy& hierarchy, const std::string& root,
                                     const std::set<std::string>& keep,
                                     double min_age_seconds = kStaleCgroupSeconds);

// Recovery of one controller's cgroups: removes those of `orphans` (stopping
// at the first failure), then the stale ones under <root> not in `keep`.
Status RemoveOrphans(const Hierarchy& hierarchy, const std::string& root,
                     const std::vector<std::string>& orphans, const std::set<std::string>& keep);

Status Write(const std::string& path, const std::string& file, const std::string& value);
Result<std::string> Read(const std::string& path, const std::string& file);
// The first number in the file (e.g. "max" reads as nullopt).
Result<std::optional<uint64_t>> ReadNumber(const std::string& path, const std::string& file);
// "key value" lines (memory.stat, cpu.stat, memory.events, ...).
Result<std::map<std::string, uint64_t>> ReadKeyed(const std::string& path, const std::string& file);

// Moves `pid` (the whole process) into the cgroup.
Status Assign(const std::string& path, pid_t pid);
// The pids in the cgroup.
std::vector<pid_t> Processes(const std::string& path);

// Kills every process in the cgroup and waits (up to `timeout_seconds`) until
// none is left. Uses cgroup.kill on v2 where the kernel has it; otherwise
// freezes the cgroup (v2 cgroup.freeze, or freezer.state in a v1 freezer
// hierarchy), SIGKILLs each process and thaws it, until the cgroup is empty.
Status KillAll(const Hierarchy& hierarchy, const std::string& path, double timeout_seconds = 10);

}  // namespace stoa::isolators::cgroups

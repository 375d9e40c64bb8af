// Validation of what frameworks ask the master to do. Each check returns an
// error a framework author can act on ("task 't1': resources cpus:3 are not in
// the offered cpus:2;mem:1024").
#pragma once

#include <functional>
#include <set>
#include <string>

#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

inline constexpr size_t kMaxIdLength = 256;
inline constexpr size_t kMaxCommandLength = 64 * 1024;
inline constexpr size_t kMaxTasksPerAccept = 10000;

// Checks an id's length and characters (printable, no '/' so it can name a directory).
Status ValidateId(const std::string& kind, const std::string& id);

// Checks one task of a LAUNCH or LAUNCH_GROUP against what remains of the
// offers (`available`, reduced by the caller as tasks are accepted), the
// agent the offers are on, and the framework's task ids in use.
Status ValidateTask(const TaskInfo& task, const AgentId& agent_id, const Resources& available,
                    const std::set<TaskId>& ids_in_use);
// The same, asking `in_use` whether the framework already has a task id
// (so that callers look ids up in their own indexes instead of copying them).
Status ValidateTaskIndexed(const TaskInfo& task, const AgentId& agent_id,
                           const Resources& available,
                           const std::function<bool(const TaskId&)>& in_use);

}  // namespace stoa::master

// Identifiers. Plain strings on the wire and in state; generated ids are unique
// across restarts (a UUID-like random part), readable in logs.
#pragma once

#include <string>

namespace stoa {

using AgentId = std::string;
using FrameworkId = std::string;
using TaskId = std::string;
using ExecutorId = std::string;
using OfferId = std::string;
using ContainerId = std::string;

// A random 128-bit identifier as 32 hex digits with dashes (UUID layout).
std::string NewUuid();
// 128 bits from the kernel's CSPRNG (getrandom) as 32 hex digits: for
// secrets, which NewUuid's seeded generator is not meant for.
std::string NewSecret();
// `prefix` followed by a fresh UUID, e.g. "agent-1f0c...".
std::string NewId(const std::string& prefix);

}  // namespace stoa

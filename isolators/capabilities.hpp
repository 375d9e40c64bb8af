// Linux capabilities a task may keep. Root in a container is not root on the
// host only if it lacks the capabilities that reach past the container
// (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, ...): tasks get a bounded
// set, as Docker and the Mesos linux/capabilities isolator give them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace stoa::isolators {

// A set of capabilities: bit N is capability N (CAP_CHOWN is 0).
using CapabilitySet = uint64_t;

// Every capability this kernel header knows.
CapabilitySet AllCapabilities();

// What tasks keep unless the agent is told otherwise: Docker's default set
// (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
// NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP).
CapabilitySet DefaultTaskCapabilities();

// "all", "none", or names separated by commas, with or without "CAP_", in
// any case: "chown,NET_BIND_SERVICE,cap_kill". Unknown names are an error
// that names them.
Result<CapabilitySet> ParseCapabilities(std::string_view text);

// The names in `set`, comma-separated, as ParseCapabilities reads them.
std::string FormatCapabilities(CapabilitySet set);

}  // namespace stoa::isolators

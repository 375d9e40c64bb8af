// Signalling a process the agent knows only by pid (an executor it re-attached
// to after a restart) without hitting another process that reused the pid.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace stoa::agent {

// When `pid` started (clock ticks since boot, /proc/<pid>/stat field 22); 0
// when no such process runs.
uint64_t ProcessStartTime(pid_t pid);

// Sends `signal` to `pid` only if it is still the process that started at
// `start_time`: a pidfd is opened first and the check made after, so a pid
// reused at any point is never signalled. False when it was not sent.
bool SignalIfSameProcess(pid_t pid, uint64_t start_time, int signal);

}  // namespace stoa::agent

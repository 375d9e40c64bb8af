// Ending a container that has neither a pid namespace nor a cgroup (posix
// isolation): its processes are found in /proc, as the leader's descendants and
// the members of its session, and stopped before they are killed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>

namespace stoa::isolators {

// What /proc/<pid>/stat says of a process (the fields Stoa uses).
struct ProcessStat {
  char state = '?';
  pid_t parent = 0, group = 0, session = 0;
  uint64_t user_ticks = 0, system_ticks = 0;    // utime, stime
  uint64_t reaped_user = 0, reaped_system = 0;  // cutime, cstime
  uint64_t rss_pages = 0;
};
// False when the process is gone (or its stat cannot be read).
bool ReadProcessStat(pid_t pid, ProcessStat* stat);
// Every process /proc lists, by pid.
std::map<pid_t, ProcessStat> ScanProcesses();

// SIGKILLs `leader` and every process that descends from it or is in its
// session, having stopped them all first so that none can fork past the scan
// of /proc. `leader_pidfd` names the leader across pid reuse; the leader may
// be a zombie not yet reaped (its pid, and so its session id, cannot be reused
// before then). Returns how many processes besides the leader it killed.
// A process that left the session and whose parent chain no longer leads to
// the leader (a daemon that double-forked after the leader died) is not found.
int KillProcessTree(pid_t leader, int leader_pidfd);

}  // namespace stoa::isolators

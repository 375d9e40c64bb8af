#include "agent/process.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/safe_fs.hpp"

namespace stoa::agent {

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command (field 2) is in parentheses and may hold spaces and ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 22 && fields >> field; ++index) {
    if (index == 22) {
      try {
        return std::stoull(field);
      } catch (const std::exception&) {
        return 0;
      }
    }
  }
  return 0;
}

bool SignalIfSameProcess(pid_t pid, uint64_t start_time, int signal) {
  if (pid <= 0 || start_time == 0) return false;
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) return false;
  // The pidfd holds the process that had `pid` when it was opened: if that one
  // is still alive now, /proc/<pid> below is that same process.
  if (ProcessStartTime(pid) != start_time) return false;
  return syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) == 0;
}

}  // namespace stoa::agent

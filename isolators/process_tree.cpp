#include "isolators/process_tree.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/safe_fs.hpp"

namespace stoa::isolators {

bool ReadProcessStat(pid_t pid, ProcessStat* stat) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  size_t close = text.rfind(')');  // the command may hold spaces and parentheses
  if (close == std::string::npos || close + 2 >= text.size()) return false;
  std::istringstream fields(text.substr(close + 2));
  long long skip = 0;
  fields >> stat->state >> stat->parent >> stat->group >> stat->session;
  for (int i = 0; i < 7; ++i) fields >> skip;  // tty_nr, tpgid, flags, minflt .. cmajflt
  fields >> stat->user_ticks >> stat->system_ticks >> stat->reaped_user >> stat->reaped_system;
  for (int i = 0; i < 6; ++i) fields >> skip;  // priority .. vsize
  fields >> stat->rss_pages;
  return static_cast<bool>(fields);
}

std::map<pid_t, ProcessStat> ScanProcesses() {
  std::map<pid_t, ProcessStat> all;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    ProcessStat stat;
    if (ReadProcessStat(pid, &stat)) all[pid] = stat;
  }
  return all;
}

namespace {

constexpr int kMaxRounds = 200;

// The processes of `all` that descend from `leader` or share its session.
std::set<pid_t> Members(const std::map<pid_t, ProcessStat>& all, pid_t leader) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::vector<pid_t> pending;
  for (const auto& [pid, info] : all) {
    children[info.parent].push_back(pid);
    if (pid != leader && info.session == leader) pending.push_back(pid);
  }
  pending.push_back(leader);
  std::set<pid_t> members;
  while (!pending.empty()) {
    pid_t pid = pending.back();
    pending.pop_back();
    if (!members.insert(pid).second) continue;
    for (pid_t child : children[pid]) pending.push_back(child);
  }
  members.erase(leader);
  return members;
}

int PidfdSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

bool Stopped(char state) { return state == 'T' || state == 't' || state == 'Z' || state == 'X'; }

}  // namespace

int KillProcessTree(pid_t leader, int leader_pidfd) {
  PidfdSignal(leader_pidfd, SIGSTOP);  // a zombie ignores it
  std::map<pid_t, UniqueFd> stopped;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::map<pid_t, ProcessStat> all = ScanProcesses();
    std::set<pid_t> members = Members(all, leader);
    bool settled = true;
    for (pid_t pid : members) {
      if (stopped.count(pid) > 0) {
        settled = settled && Stopped(all[pid].state);
        continue;
      }
      settled = false;
      // A pidfd first, then a second look: the pid is the member's, not a reuse.
      UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
      ProcessStat again;
      if (!pidfd.valid() || !ReadProcessStat(pid, &again)) continue;
      if (again.session != leader && again.parent != leader && members.count(again.parent) == 0) {
        continue;
      }
      PidfdSignal(pidfd.get(), SIGSTOP);
      stopped.emplace(pid, std::move(pidfd));
    }
    auto leader_info = all.find(leader);
    if (leader_info != all.end() && !Stopped(leader_info->second.state)) settled = false;
    if (settled) break;
    struct timespec pause {
      0, 1000000
    };  // 1 ms: stops take effect when the process next runs
    nanosleep(&pause, nullptr);
  }
  for (const auto& [pid, pidfd] : stopped) PidfdSignal(pidfd.get(), SIGKILL);
  PidfdSignal(leader_pidfd, SIGKILL);
  return static_cast<int>(stopped.size());
}

}  // namespace stoa::isolators

// The one launcher, shared by the containerizer (which starts executors) and
// the executor (which starts tasks): clones a process into new namespaces,
// optionally holds it until the isolators have acted on it, makes its mounts
// (each target resolved beneath its root, so no symlink in an image leads a
// step onto the host), pivots it into a root filesystem, switches its user and
// execs the program, looked up in the PATH of the process's own environment.
//
// Between clone and exec the child makes system calls only: no allocation, no
// locks, and raw credential syscalls (glibc's setuid() would try to signal
// threads that a cloned child of a threaded process does not have).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/safe_fs.hpp"
#include "common/status.hpp"
#include "isolators/capabilities.hpp"
#include "isolators/isolator.hpp"

namespace stoa::isolators {

// Who a process runs as.
struct UserIdentity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

// The user `name` as this host's user and group databases know it.
Result<UserIdentity> LookUpUser(const std::string& name);

// How to start one process.
struct ProcessPlan {
  // With a '/': that file. Without: looked up in the PATH of `environment`
  // (not the launcher's), "/usr/local/bin:/usr/bin:/bin" when it has none.
  std::string program;
  std::vector<std::string> arguments;    // argv, argv[0] included; empty: {program}
  std::vector<std::string> environment;  // "NAME=value": all the process gets

  int clone_flags = 0;  // CLONE_NEW* namespaces
  // Holds the process before it does anything until ChildProcess::Release, so
  // that the isolators can act on its pid first.
  bool hold = false;
  // Done in order in the new mount namespace (REQUIRES CLONE_NEWNS), after
  // every mount was made private.
  std::vector<MountStep> mounts;
  std::string hostname;      // set when clone_flags has CLONE_NEWUTS
  bool loopback_up = false;  // brought up when clone_flags has CLONE_NEWNET
  // After the mounts, pivot_root into this directory (REQUIRES CLONE_NEWNS).
  std::string root;
  // The working directory: a path (resolved in `root` when there is one, and
  // never through a /proc magic link), or else an open directory.
  std::string working_directory;
  int working_directory_fd = -1;
  std::optional<UserIdentity> user;  // switched to before exec; none: the launcher's
  // The capabilities the process may ever have: its bounding, permitted,
  // effective and inheritable sets are cut to these (ambient ones cleared)
  // before exec; the bounding set only when the launcher runs as root (it
  // takes CAP_SETPCAP). None: unchanged.
  std::optional<CapabilitySet> capabilities;
  // Become the standard streams; -1 leaves stdin on /dev/null and the others as inherited.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool new_session = false;        // setsid(): a session and process group of its own
  bool new_process_group = false;  // setpgid(0, 0), staying in the launcher's session
  // SIGKILL when the thread that launched it exits. Only for launchers whose
  // thread lives as long as the process should (the executor's main thread).
  bool die_with_parent = false;
};

// A launched process: running (exec'd), or held until Release.
class ChildProcess {
 public:
  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) noexcept;
  ~ChildProcess();  // a held child that was not released is killed and reaped

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // The pidfd, now the caller's.
  UniqueFd TakePidfd() { return std::move(pidfd_); }

  // Lets a held child go on; OK once it exec'd. On an error (which says what
  // failed: a mount step, the user switch, the exec, ...) the child is reaped.
  // REQUIRES: launched with `hold`, not yet released.
  Status Release();

  // Kills and reaps a held child.
  void Abandon();

 private:
  friend Result<ChildProcess> Launch(ProcessPlan plan);
  ChildProcess() = default;
  Status AwaitExec();

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd release_fd_;              // write end: one byte releases a held child
  UniqueFd error_fd_;                // read end: EOF once exec'd, a failure report otherwise
  std::optional<ProcessPlan> plan_;  // for the messages
};

// Starts a process as `plan` says. Without `hold`, returns once it exec'd.
// An error says why (the process is gone by then), e.g. "cannot execute
// 'foo': No such file or directory"; the child also writes it to its stderr.
Result<ChildProcess> Launch(ProcessPlan plan);

}  // namespace stoa::isolators

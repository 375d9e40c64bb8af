#include "isolators/launcher.hpp"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

namespace stoa::isolators {
namespace {

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

constexpr int kIdTypePidfd = 3;  // P_PIDFD, Linux 5.4
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

// ---- the plan as the child reads it: C strings made before clone ----

struct ChildStep {
  MountStep::Kind kind;
  const char* source;
  const char* target;  // the full path, for messages and steps without a root
  const char* type;
  unsigned long flags;
  const char* data;
  unsigned int mode;
  dev_t device;
  const char* root;      // nullptr: `target` is used as it is
  const char* relative;  // the target beneath `root` ("." for the root itself)
  const char* parent;    // the target's parent beneath `root`
  const char* leaf;      // the target's last component
};

struct ChildPlan {
  int sync_fd = -1;   // read end: one byte releases a held child
  int error_fd = -1;  // write end, close-on-exec: a Report when something fails
  bool new_mount_namespace = false;
  std::vector<ChildStep> steps;
  const char* hostname = nullptr;
  size_t hostname_length = 0;
  bool loopback_up = false;
  const char* root = nullptr;
  const char* working_directory = nullptr;
  int working_directory_fd = -1;
  bool limit_capabilities = false;
  bool limit_bounding = false;
  CapabilitySet capabilities = 0;
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool new_session = false;
  bool new_process_group = false;
  bool die_with_parent = false;
  pid_t parent = 0;
  const char* program = nullptr;
  const char* search_path = nullptr;  // the PATH to look `program` up in; nullptr: run it as is
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::deque<std::string> storage;  // owns the strings the pointers above point into

  const char* Keep(std::string text) {
    storage.push_back(std::move(text));
    return storage.back().c_str();
  }
};

enum Stage : int32_t {
  kSync,
  kSession,
  kStreams,
  kPropagation,
  kStep,
  kHostname,
  kLoopback,
  kRoot,
  kWorkingDirectory,
  kUser,
  kCapabilities,
  kParentDeath,
  kExec
};

struct Report {
  int32_t stage = kExec;
  int32_t step = -1;
  int32_t error = 0;
};

const char* StageText(Stage stage) {
  switch (stage) {
    case kSync:
      return "the process could not start";
    case kSession:
      return "cannot start a session or process group";
    case kStreams:
      return "cannot redirect the standard streams";
    case kPropagation:
      return "cannot make the mounts private";
    case kStep:
      return "cannot set up the filesystem at";
    case kHostname:
      return "cannot set the hostname to";
    case kLoopback:
      return "cannot bring up the loopback interface";
    case kRoot:
      return "cannot enter the root filesystem";
    case kWorkingDirectory:
      return "cannot enter the working directory";
    case kUser:
      return "cannot switch to the user of";
    case kCapabilities:
      return "cannot limit the capabilities of";
    case kParentDeath:
      return "its parent exited before it started";
    case kExec:
      return "cannot execute";
  }
  return "cannot start";
}

// ---- the child: system calls only ----

void WriteText(int fd, const char* text) {
  size_t length = strlen(text);
  while (length > 0) {
    ssize_t written = write(fd, text, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    text += written;
    length -= static_cast<size_t>(written);
  }
}

const char* StageSubject(const ChildPlan& plan, Stage stage, int step) {
  switch (stage) {
    case kStep:
      return step >= 0 ? plan.steps[static_cast<size_t>(step)].target : nullptr;
    case kHostname:
      return plan.hostname;
    case kRoot:
      return plan.root;
    case kWorkingDirectory:
      return plan.working_directory;
    case kUser:
    case kCapabilities:
    case kExec:
      return plan.program;
    default:
      return nullptr;
  }
}

[[noreturn]] void FailChild(const ChildPlan& plan, Stage stage, int step, int error) {
  WriteText(STDERR_FILENO, "stoa launcher: ");
  WriteText(STDERR_FILENO, StageText(stage));
  if (const char* subject = StageSubject(plan, stage, step)) {
    WriteText(STDERR_FILENO, " '");
    WriteText(STDERR_FILENO, subject);
    WriteText(STDERR_FILENO, "'");
  }
  WriteText(STDERR_FILENO, ": ");
  const char* description = strerrordesc_np(error);
  WriteText(STDERR_FILENO, description != nullptr ? description : "unknown error");
  WriteText(STDERR_FILENO, "\n");
  Report report{stage, step, error};
  ssize_t ignored = write(plan.error_fd, &report, sizeof(report));
  (void)ignored;
  _exit(127);
}

// Closes `fd` without losing errno.
void CloseKeepingErrno(int fd) {
  int error = errno;
  close(fd);
  errno = error;
}

// Without openat2: one O_NOFOLLOW open per component, refusing every symlink
// and "..". An O_PATH open of a symlink itself is refused too.
int WalkWithoutSymlinks(int dir_fd, const char* relative, int flags, mode_t mode) {
  char part[NAME_MAX + 1];
  int current = dir_fd;
  const char* p = relative;
  auto done = [&](int fd) {
    if (current != dir_fd) CloseKeepingErrno(current);
    return fd;
  };
  while (true) {
    while (*p == '/') ++p;
    const char* end = p;
    while (*end != '\0' && *end != '/') ++end;
    size_t length = static_cast<size_t>(end - p);
    const char* rest = end;
    while (*rest == '/') ++rest;
    bool last = *rest == '\0';
    if (length == 0) return done(openat(current, ".", flags | O_CLOEXEC, mode));
    if (length > NAME_MAX) {
      errno = ENAMETOOLONG;
      return done(-1);
    }
    memcpy(part, p, length);
    part[length] = '\0';
    p = rest;
    if (length == 2 && part[0] == '.' && part[1] == '.') {
      errno = EXDEV;
      return done(-1);
    }
    if (length == 1 && part[0] == '.' && !last) continue;
    if (last) {
      int fd = openat(current, part, flags | O_NOFOLLOW | O_CLOEXEC, mode);
      struct stat st {};
      if (fd >= 0 && (flags & O_PATH) != 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
        close(fd);
        errno = ELOOP;
        fd = -1;
      }
      return done(fd);
    }
    int next = openat(current, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return done(-1);
    if (current != dir_fd) close(current);
    current = next;
  }
}

// Opens `relative` as if `root_fd` were "/": symlinks stay inside it, magic
// links are refused.
int OpenInRoot(int root_fd, const char* relative, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = syscall(SYS_openat2, root_fd, relative, &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0 && errno == ENOSYS) return WalkWithoutSymlinks(root_fd, relative, flags, mode);
  return static_cast<int>(fd);
}

// "/proc/self/fd/N": a path that names what `fd` is, for calls that take paths.
void FdPath(int fd, char (&path)[32]) {
  const char prefix[] = "/proc/self/fd/";
  memcpy(path, prefix, sizeof(prefix));
  char digits[12];
  int count = 0;
  unsigned value = static_cast<unsigned>(fd);
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  size_t at = sizeof(prefix) - 1;
  while (count > 0) path[at++] = digits[--count];
  path[at] = '\0';
}

bool MountAt(const ChildStep& step, const char* target) {
  if ((step.flags & MS_BIND) != 0) {
    return mount(step.source, target, nullptr, MS_BIND | (step.flags & MS_REC), nullptr) == 0;
  }
  return mount(step.source, target, step.type, step.flags, step.data) == 0;
}

constexpr unsigned long kRemountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

// A step on a host path the agent made (no root to stay beneath).
bool RunStepByPath(const ChildStep& step) {
  switch (step.kind) {
    case MountStep::Kind::kMount: {
      if (!MountAt(step, step.target)) return false;
      unsigned long extra = step.flags & kRemountFlags;
      if ((step.flags & MS_BIND) == 0 || extra == 0) return true;
      return mount(nullptr, step.target, nullptr, MS_BIND | MS_REMOUNT | extra, nullptr) == 0;
    }
    case MountStep::Kind::kMakeDirectory:
      return mkdir(step.target, 0755) == 0 || errno == EEXIST;
    case MountStep::Kind::kMakeFile: {
      int fd = open(step.target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) return false;
      close(fd);
      return true;
    }
    case MountStep::Kind::kMakeDevice:
      return mknod(step.target, step.mode, step.device) == 0 || errno == EEXIST;
    case MountStep::Kind::kSymlink:
      return symlink(step.source, step.target) == 0 || errno == EEXIST;
  }
  return false;
}

// A step beneath its root: every lookup stays inside it.
bool RunStepInRoot(const ChildStep& step) {
  int root = open(step.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return false;
  bool ok = false;
  auto in_parent = [&](auto&& make) {
    int parent = OpenInRoot(root, step.parent, O_PATH | O_DIRECTORY, 0);
    if (parent < 0) return false;
    bool made = make(parent) == 0 || errno == EEXIST;
    CloseKeepingErrno(parent);
    return made;
  };
  switch (step.kind) {
    case MountStep::Kind::kMount: {
      char path[32];
      int target = OpenInRoot(root, step.relative, O_PATH, 0);
      if (target < 0) break;
      FdPath(target, path);
      ok = MountAt(step, path);
      CloseKeepingErrno(target);
      unsigned long extra = step.flags & kRemountFlags;
      if (!ok || (step.flags & MS_BIND) == 0 || extra == 0) break;
      // The bind mount is on top now: look the target up again to remount it.
      target = OpenInRoot(root, step.relative, O_PATH, 0);
      if (target < 0) {
        ok = false;
        break;
      }
      FdPath(target, path);
      ok = mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | extra, nullptr) == 0;
      CloseKeepingErrno(target);
      break;
    }
    case MountStep::Kind::kMakeDirectory:
      ok = in_parent([&](int parent) { return mkdirat(parent, step.leaf, 0755); });
      break;
    case MountStep::Kind::kMakeFile: {
      int fd = OpenInRoot(root, step.relative, O_WRONLY | O_CREAT, 0644);
      ok = fd >= 0;
      if (ok) close(fd);
      break;
    }
    case MountStep::Kind::kMakeDevice:
      ok =
          in_parent([&](int parent) { return mknodat(parent, step.leaf, step.mode, step.device); });
      break;
    case MountStep::Kind::kSymlink:
      ok = in_parent([&](int parent) { return symlinkat(step.source, parent, step.leaf); });
      break;
  }
  CloseKeepingErrno(root);
  return ok;
}

void BringLoopbackUp(const ChildPlan& plan) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq request {};
  memcpy(request.ifr_name, "lo", 3);
  if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &request) != 0) FailChild(plan, kLoopback, -1, errno);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
  if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) FailChild(plan, kLoopback, -1, errno);
  close(fd);
}

void EnterWorkingDirectory(const ChildPlan& plan) {
  if (plan.working_directory_fd >= 0) {
    if (fchdir(plan.working_directory_fd) != 0) FailChild(plan, kWorkingDirectory, -1, errno);
    return;
  }
  if (plan.working_directory == nullptr) return;
  // Resolved in the process's root (the new one after a pivot), never through
  // a magic link such as /proc/1/root, which leads out of it.
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long dir = root < 0 ? -1 : syscall(SYS_openat2, root, plan.working_directory, &how, sizeof(how));
  if (dir < 0 && errno == ENOSYS) {
    if (chdir(plan.working_directory) != 0) FailChild(plan, kWorkingDirectory, -1, errno);
  } else if (dir < 0 || fchdir(static_cast<int>(dir)) != 0) {
    FailChild(plan, kWorkingDirectory, -1, errno);
  }
  if (dir >= 0) close(static_cast<int>(dir));
  if (root >= 0) close(root);
}

// Before the user switch (dropping from the bounding set needs CAP_SETPCAP,
// which the switch would take away): what is not kept can never come back,
// not through exec of a setuid or file-capability binary either.
void DropBoundingCapabilities(const ChildPlan& plan) {
  for (int capability = 0; plan.limit_bounding && capability < 64; ++capability) {
    if ((plan.capabilities & (CapabilitySet{1} << capability)) != 0) continue;
    if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) == 0) continue;
    if (errno == EINVAL) break;  // past the last capability this kernel has
    FailChild(plan, kCapabilities, -1, errno);
  }
  // Ambient capabilities appeared in Linux 4.3; older kernels have none to clear.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    FailChild(plan, kCapabilities, -1, errno);
  }
}

// After the user switch: what the process holds now is cut to the set too
// (for root, exec would otherwise give back the whole bounding set anyway).
void LimitOwnCapabilities(const ChildPlan& plan) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) FailChild(plan, kCapabilities, -1, errno);
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    auto keep = static_cast<uint32_t>(plan.capabilities >> (32 * i));
    data[i].effective &= keep;
    data[i].permitted &= keep;
    data[i].inheritable &= keep;
  }
  if (syscall(SYS_capset, &header, data) != 0) FailChild(plan, kCapabilities, -1, errno);
}

// execve of `program` in each directory of `search_path`, as execvpe does
// with the caller's PATH (an empty entry is the working directory).
int ExecSearching(const ChildPlan& plan) {
  char candidate[PATH_MAX];
  size_t name_length = strlen(plan.program);
  bool denied = false;
  const char* p = plan.search_path;
  while (true) {
    const char* end = strchrnul(p, ':');
    size_t length = static_cast<size_t>(end - p);
    if (length == 0) {
      candidate[0] = '.';
      length = 1;
    } else if (length < sizeof(candidate)) {
      memcpy(candidate, p, length);
    }
    if (length + 1 + name_length < sizeof(candidate)) {
      candidate[length] = '/';
      memcpy(candidate + length + 1, plan.program, name_length + 1);
      execve(candidate, plan.argv.data(), plan.envp.data());
      if (errno == EACCES) {
        denied = true;
      } else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP && errno != ENAMETOOLONG &&
                 errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT) {
        return errno;
      }
    }
    if (*end == '\0') break;
    p = end + 1;
  }
  return denied ? EACCES : ENOENT;
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  if (plan.sync_fd >= 0) {
    char go = 0;
    ssize_t got;
    do {
      got = read(plan.sync_fd, &go, 1);
    } while (got < 0 && errno == EINTR);
    if (got != 1) _exit(126);  // the launcher gave up on this process
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &default_action, nullptr);
  }
  if ((plan.new_session && setsid() < 0) || (plan.new_process_group && setpgid(0, 0) != 0)) {
    FailChild(plan, kSession, -1, errno);
  }
  if ((plan.stdin_fd >= 0 && dup2(plan.stdin_fd, STDIN_FILENO) < 0) ||
      (plan.stdout_fd >= 0 && dup2(plan.stdout_fd, STDOUT_FILENO) < 0) ||
      (plan.stderr_fd >= 0 && dup2(plan.stderr_fd, STDERR_FILENO) < 0)) {
    FailChild(plan, kStreams, -1, errno);
  }
  if (plan.new_mount_namespace && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    FailChild(plan, kPropagation, -1, errno);
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const ChildStep& step = plan.steps[i];
    if (!(step.root != nullptr ? RunStepInRoot(step) : RunStepByPath(step))) {
      FailChild(plan, kStep, static_cast<int>(i), errno);
    }
  }
  if (plan.hostname != nullptr && sethostname(plan.hostname, plan.hostname_length) != 0) {
    FailChild(plan, kHostname, -1, errno);
  }
  if (plan.loopback_up) BringLoopbackUp(plan);
  if (plan.root != nullptr) {
    if (chdir(plan.root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
      FailChild(plan, kRoot, -1, errno);
    }
  }
  EnterWorkingDirectory(plan);
  if (plan.limit_capabilities) DropBoundingCapabilities(plan);
  if (plan.switch_user && (syscall(SYS_setgroups, plan.group_count, plan.groups) != 0 ||
                           syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0 ||
                           syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)) {
    FailChild(plan, kUser, -1, errno);
  }
  if (plan.limit_capabilities) LimitOwnCapabilities(plan);
  if (plan.die_with_parent) {
    // After the user switch, which clears the parent-death signal.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) FailChild(plan, kParentDeath, -1, errno);
    if (static_cast<pid_t>(syscall(SYS_getppid)) != plan.parent) {
      FailChild(plan, kParentDeath, -1, ESRCH);
    }
  }
  // Nothing of the launcher's leaks into the process (the error pipe closes on exec).
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  int error;
  if (plan.search_path != nullptr) {
    error = ExecSearching(plan);
  } else {
    execve(plan.program, plan.argv.data(), plan.envp.data());
    error = errno;
  }
  FailChild(plan, kExec, -1, error);
}

// ---- the parent ----

std::string DescribeStep(const MountStep& step) {
  switch (step.kind) {
    case MountStep::Kind::kMount:
      if (step.type.empty()) {
        return "cannot bind-mount '" + step.source + "' on '" + step.target + "'";
      }
      return "cannot mount " + step.type + " on '" + step.target + "'";
    case MountStep::Kind::kMakeDirectory:
      return "cannot create directory '" + step.target + "'";
    case MountStep::Kind::kMakeFile:
      return "cannot create file '" + step.target + "'";
    case MountStep::Kind::kMakeDevice:
      return "cannot create device '" + step.target + "'";
    case MountStep::Kind::kSymlink:
      return "cannot create symlink '" + step.target + "'";
  }
  return "cannot set up '" + step.target + "'";
}

std::string DescribeFailure(const ProcessPlan& plan, const Report& report) {
  std::string what;
  switch (static_cast<Stage>(report.stage)) {
    case kStep:
      what = report.step >= 0 && static_cast<size_t>(report.step) < plan.mounts.size()
                 ? DescribeStep(plan.mounts[static_cast<size_t>(report.step)])
                 : "cannot set up the filesystem";
      break;
    case kHostname:
      what = "cannot set the hostname to '" + plan.hostname + "'";
      break;
    case kRoot:
      what = "cannot enter the root filesystem '" + plan.root + "'";
      break;
    case kWorkingDirectory:
      what = "cannot enter the working directory '" + plan.working_directory + "'";
      break;
    case kUser:
      what = "cannot switch to user '" + (plan.user ? plan.user->name : "") + "' (uid " +
             std::to_string(plan.user ? plan.user->uid : 0) + ")";
      break;
    case kExec:
      what = "cannot execute '" + plan.program + "'";
      break;
    default:
      what = StageText(static_cast<Stage>(report.stage));
  }
  std::string why = ErrnoText(report.error);
  if (report.error == ELOOP) why += " (a symlink is in the way)";
  if (report.error == EXDEV && report.stage == kStep) why += " (it leads out of its root)";
  return what + ": " + why;
}

// Builds what the child reads; `plan` must outlive the clone.
void Prepare(const ProcessPlan& plan, ChildPlan* child) {
  child->new_mount_namespace = (plan.clone_flags & CLONE_NEWNS) != 0;
  for (const MountStep& step : plan.mounts) {
    ChildStep c{};
    c.kind = step.kind;
    c.source = step.source.empty() ? nullptr : step.source.c_str();
    c.target = step.target.c_str();
    c.type = step.type.empty() ? nullptr : step.type.c_str();
    c.flags = step.flags;
    c.data = step.data.empty() ? nullptr : step.data.c_str();
    c.mode = step.mode;
    c.device = step.device;
    if (!step.root.empty()) {
      std::string relative = step.target.substr(std::min(step.root.size(), step.target.size()));
      while (!relative.empty() && relative.front() == '/') relative.erase(0, 1);
      while (!relative.empty() && relative.back() == '/') relative.pop_back();
      size_t slash = relative.rfind('/');
      c.root = step.root.c_str();
      c.relative = child->Keep(relative.empty() ? "." : relative);
      c.parent = child->Keep(slash == std::string::npos ? "." : relative.substr(0, slash));
      c.leaf = child->Keep(slash == std::string::npos ? relative : relative.substr(slash + 1));
    }
    child->steps.push_back(c);
  }
  if ((plan.clone_flags & CLONE_NEWUTS) != 0 && !plan.hostname.empty()) {
    child->hostname = plan.hostname.c_str();
    child->hostname_length = plan.hostname.size();
  }
  child->loopback_up = plan.loopback_up && (plan.clone_flags & CLONE_NEWNET) != 0;
  child->root = plan.root.empty() ? nullptr : plan.root.c_str();
  child->working_directory =
      plan.working_directory.empty() ? nullptr : plan.working_directory.c_str();
  child->working_directory_fd = plan.working_directory_fd;
  if (plan.capabilities) {
    child->limit_capabilities = true;
    // Dropping from the bounding set needs CAP_SETPCAP; the rest does not.
    child->limit_bounding = geteuid() == 0;
    child->capabilities = *plan.capabilities;
  }
  if (plan.user) {
    child->switch_user = true;
    child->uid = plan.user->uid;
    child->gid = plan.user->gid;
    child->groups = plan.user->groups.data();
    child->group_count = plan.user->groups.size();
  }
  child->stdin_fd = plan.stdin_fd;
  child->stdout_fd = plan.stdout_fd;
  child->stderr_fd = plan.stderr_fd;
  child->new_session = plan.new_session;
  child->new_process_group = plan.new_process_group && !plan.new_session;
  child->die_with_parent = plan.die_with_parent;
  child->parent = getpid();
  child->program = plan.program.c_str();
  if (plan.program.find('/') == std::string::npos) {
    child->search_path = kDefaultPath;
    for (const std::string& variable : plan.environment) {
      if (variable.starts_with("PATH=")) child->search_path = variable.c_str() + 5;
    }
  }
  if (plan.arguments.empty()) {
    child->argv.push_back(const_cast<char*>(plan.program.c_str()));
  } else {
    for (const std::string& argument : plan.arguments) {
      child->argv.push_back(const_cast<char*>(argument.c_str()));
    }
  }
  child->argv.push_back(nullptr);
  for (const std::string& variable : plan.environment) {
    child->envp.push_back(const_cast<char*>(variable.c_str()));
  }
  child->envp.push_back(nullptr);
}

struct CloneArgs {  // struct clone_args, version 0 (Linux 5.3)
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
};

void Reap(int pidfd) {
  siginfo_t info{};
  while (waitid(static_cast<idtype_t>(kIdTypePidfd), static_cast<id_t>(pidfd), &info, WEXITED) <
             0 &&
         errno == EINTR) {
  }
}

}  // namespace

Result<UserIdentity> LookUpUser(const std::string& name) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) return Status::Error("user '" + name + "' does not exist on this agent");
  UserIdentity user;
  user.name = name;
  user.uid = found->pw_uid;
  user.gid = found->pw_gid;
  int count = 64;
  user.groups.resize(static_cast<size_t>(count));
  if (getgrouplist(name.c_str(), user.gid, user.groups.data(), &count) < 0) {
    user.groups.resize(static_cast<size_t>(count));
    getgrouplist(name.c_str(), user.gid, user.groups.data(), &count);
  }
  user.groups.resize(static_cast<size_t>(std::max(count, 0)));
  return user;
}

ChildProcess::ChildProcess(ChildProcess&&) noexcept = default;
ChildProcess& ChildProcess::operator=(ChildProcess&&) noexcept = default;

ChildProcess::~ChildProcess() {
  if (release_fd_.valid()) Abandon();
}

Status ChildProcess::AwaitExec() {
  Report report;
  ssize_t got;
  do {
    got = read(error_fd_.get(), &report, sizeof(report));
  } while (got < 0 && errno == EINTR);
  error_fd_.Reset();
  if (got != static_cast<ssize_t>(sizeof(report))) return Status::Ok();  // EOF: exec'd
  Reap(pidfd_.get());
  pidfd_.Reset();
  return Status::Error(DescribeFailure(*plan_, report));
}

Status ChildProcess::Release() {
  char go = 1;
  ssize_t written = write(release_fd_.get(), &go, 1);
  release_fd_.Reset();
  if (written != 1) {
    int error = errno;
    PidfdSignal(pidfd_.get(), SIGKILL);
    Reap(pidfd_.get());
    pidfd_.Reset();
    return Status::Error("cannot release the held process: " + ErrnoText(error));
  }
  return AwaitExec();
}

void ChildProcess::Abandon() {
  release_fd_.Reset();
  error_fd_.Reset();
  if (!pidfd_.valid()) return;
  PidfdSignal(pidfd_.get(), SIGKILL);
  Reap(pidfd_.get());
  pidfd_.Reset();
}

Result<ChildProcess> Launch(ProcessPlan plan) {
  ChildPlan prepared;
  Prepare(plan, &prepared);
  UniqueFd null;
  if (plan.stdin_fd < 0) {
    null = UniqueFd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null.valid()) return Status::Error("cannot open /dev/null: " + ErrnoText(errno));
    prepared.stdin_fd = null.get();
  }
  int sync_pipe[2] = {-1, -1};
  int error_pipe[2] = {-1, -1};
  if ((plan.hold && pipe2(sync_pipe, O_CLOEXEC) != 0) || pipe2(error_pipe, O_CLOEXEC) != 0) {
    int error = errno;
    for (int fd : sync_pipe) {
      if (fd >= 0) close(fd);
    }
    return Status::Error("cannot create a pipe: " + ErrnoText(error));
  }
  UniqueFd sync_read(sync_pipe[0]), sync_write(sync_pipe[1]);
  UniqueFd error_read(error_pipe[0]), error_write(error_pipe[1]);
  prepared.sync_fd = sync_read.get();
  prepared.error_fd = error_write.get();

  int pidfd = -1;
  CloneArgs args{};
  args.flags = static_cast<uint64_t>(plan.clone_flags) | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0 && errno == ENOSYS) {  // before Linux 5.3
    pid = syscall(SYS_clone, static_cast<unsigned long>(plan.clone_flags) | SIGCHLD, 0, 0, 0, 0);
    if (pid > 0) pidfd = PidfdOpen(static_cast<pid_t>(pid));
  }
  if (pid == 0) RunChild(prepared);
  if (pid < 0) {
    int error = errno;
    std::string hint =
        error == EPERM || error == EINVAL
            ? " (namespaces need root; run the agent as root or with --isolation=posix)"
            : "";
    return Status::Error("clone failed: " + ErrnoText(error) + hint);
  }
  if (pidfd < 0) {
    kill(static_cast<pid_t>(pid), SIGKILL);
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return Status::Error("this kernel has no pidfds (Linux 5.3 or newer is needed)");
  }
  ChildProcess child;
  child.pid_ = static_cast<pid_t>(pid);
  child.pidfd_ = UniqueFd(pidfd);
  child.release_fd_ = std::move(sync_write);
  child.error_fd_ = std::move(error_read);
  child.plan_ = std::move(plan);
  // The child's ends: the child has its own copies now.
  sync_read.Reset();
  error_write.Reset();
  if (!child.plan_->hold) {
    if (Status s = child.AwaitExec(); !s.ok()) return s;
  }
  return child;
}

}  // namespace stoa::isolators

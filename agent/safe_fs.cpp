#include "agent/safe_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace stoa::agent {

std::string ErrnoMessage(int error) {
  char buffer[256];
  return strerror_r(error, buffer, sizeof(buffer));
}

namespace {

std::vector<std::string> Split(const std::string& relative) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = relative.find('/', start);
    parts.push_back(relative.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

// Where the kernel has no openat2: one component at a time, none a symlink.
int OpenByComponents(int dir_fd, const std::string& relative, int flags) {
  std::vector<std::string> parts = Split(relative);
  UniqueFd current;
  int base = dir_fd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = openat(base, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      // O_PATH|O_NOFOLLOW opens a symlink itself; O_DIRECTORY then fails with ENOTDIR.
      int error = errno;
      struct stat st {};
      if (fstatat(base, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        return -ELOOP;
      }
      return -error;
    }
    current = UniqueFd(next);
    base = current.get();
  }
  int fd = openat(base, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

}  // namespace

bool IsPlainRelativePath(const std::string& relative) {
  if (relative.empty() || relative.front() == '/') return false;
  if (relative.find('\0') != std::string::npos) return false;
  for (const auto& part : Split(relative)) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

int OpenBeneathOrErrno(int dir_fd, const std::string& relative, int flags) {
  if (!IsPlainRelativePath(relative)) return -EXDEV;
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof(how));
  if (fd >= 0) return static_cast<int>(fd);
  if (errno == ENOSYS) return OpenByComponents(dir_fd, relative, flags);
  return -errno;
}

namespace {

Status RemoveTreeAtDepth(int dir_fd, const std::string& name, int depth) {
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT) return Status::Ok();
    if (error != ENOTDIR && error != ELOOP) {
      return Status::Error("cannot open '" + name + "': " + ErrnoMessage(error));
    }
    // Not a directory (a file, or a symlink: the link goes, its target stays).
    if (unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return Status::Error("cannot remove '" + name + "': " + ErrnoMessage(errno));
    }
    return Status::Ok();
  }
  if (depth > 256) {
    close(fd);
    return Status::Error("'" + name + "' is nested deeper than 256 directories; left in place");
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return Status::Error("cannot list '" + name + "': " + ErrnoMessage(errno));
  }
  std::vector<std::string> entries;
  while (struct dirent* entry = readdir(dir)) {
    std::string child = entry->d_name;
    if (child != "." && child != "..") entries.push_back(std::move(child));
  }
  Status result = Status::Ok();
  for (const auto& child : entries) {
    Status s = RemoveTreeAtDepth(dirfd(dir), child, depth + 1);
    if (!s.ok() && result.ok()) result = Status::Error(name + "/" + s.message());
  }
  closedir(dir);
  if (!result.ok()) return result;
  if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Status::Error("cannot remove '" + name + "': " + ErrnoMessage(errno));
  }
  return Status::Ok();
}

}  // namespace

Status RemoveTreeAt(int dir_fd, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Status::Error("'" + name + "' is not a directory entry name");
  }
  return RemoveTreeAtDepth(dir_fd, name, 0);
}

}  // namespace stoa::agent

#include "common/safe_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace stoa {
namespace {

// Why a path could not be opened safely, for a message.
std::string Explain(int error) {
  switch (error) {
    case ELOOP:
      return "a symbolic link is in the way (refused: it could lead anywhere)";
    case EXDEV:
      return "it leads out of its directory";
    default:
      return ErrnoText(error);
  }
}

Status Failure(const std::string& relative, int error) {
  return Status::Error("cannot open '" + relative + "': " + Explain(error));
}

// Every part of `relative` between slashes, empty ones included.
std::vector<std::string> SplitPath(const std::string& relative) {
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

// The components of `relative`, or false for ".." (which the openat2 path
// would only allow while it stays beneath, a refinement the walk forgoes).
bool Components(const std::string& relative, std::vector<std::string>* parts) {
  for (auto& part : SplitPath(relative)) {
    if (part == "..") return false;
    if (!part.empty() && part != ".") parts->push_back(std::move(part));
  }
  return true;
}

// The fallback for kernels without openat2: one O_NOFOLLOW open per component.
int WalkBeneath(int dir_fd, const std::string& relative, int flags, mode_t mode) {
  std::vector<std::string> parts;
  if (!relative.empty() && relative[0] == '/') {
    errno = EXDEV;
    return -1;
  }
  if (!Components(relative, &parts)) {
    errno = EXDEV;
    return -1;
  }
  if (parts.empty()) return openat(dir_fd, ".", flags | O_CLOEXEC, mode);
  int current = dir_fd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = openat(current, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int error = errno;
    if (current != dir_fd) close(current);
    if (next < 0) {
      // A symlink opened with O_DIRECTORY|O_NOFOLLOW reports ENOTDIR.
      errno = error;
      return -1;
    }
    current = next;
  }
  int fd = openat(current, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  int error = errno;
  if (current != dir_fd) close(current);
  errno = error;
  return fd;
}

}  // namespace

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UniqueFd> OpenDirectory(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    return Status::Error("cannot open directory '" + path + "': " +
                         (error == ELOOP || error == ENOTDIR
                              ? "it is not a directory (" + Explain(error) + ")"
                              : ErrnoText(error)));
  }
  return UniqueFd(fd);
}

int OpenBeneathErrno(int dir_fd, const std::string& relative, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const char* path = relative.empty() ? "." : relative.c_str();
  long fd;
  do {
    fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);  // a rename raced the lookup
  if (fd < 0 && errno == ENOSYS) fd = WalkBeneath(dir_fd, relative, flags, mode);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

Result<UniqueFd> OpenBeneath(int dir_fd, const std::string& relative, int flags, mode_t mode) {
  int fd = OpenBeneathErrno(dir_fd, relative, flags, mode);
  if (fd < 0) return Failure(relative, -fd);
  return UniqueFd(fd);
}

Result<UniqueFd> MakeDirectoryIn(int dir_fd, const std::string& name, mode_t mode, bool exclusive) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Status::Error("'" + name + "' is not a single path component");
  }
  if (mkdirat(dir_fd, name.c_str(), mode) != 0) {
    int error = errno;
    if (error != EEXIST) {
      return Status::Error("cannot create directory '" + name + "': " + ErrnoText(error));
    }
    if (exclusive) {
      return Status::Error("cannot create directory '" + name + "': it exists already");
    }
  }
  // mkdirat never follows a symlink in `name`; the open refuses one that
  // exists or was swapped in since.
  return OpenBeneath(dir_fd, name, O_RDONLY | O_DIRECTORY);
}

Result<struct stat> StatFd(int fd, const std::string& what) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Status::Error("cannot stat '" + what + "': " + ErrnoText(errno));
  return st;
}

namespace {

Status RemoveTreeAtDepth(int dir_fd, const std::string& name, int depth) {
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT) return Status::Ok();
    if (error != ENOTDIR && error != ELOOP) {
      return Status::Error("cannot open '" + name + "': " + ErrnoText(error));
    }
    // Not a directory (a file, or a symlink: the link goes, its target stays).
    if (unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return Status::Error("cannot remove '" + name + "': " + ErrnoText(errno));
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
    return Status::Error("cannot list '" + name + "': " + ErrnoText(errno));
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
    return Status::Error("cannot remove '" + name + "': " + ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace

bool IsPlainRelativePath(const std::string& relative) {
  if (relative.empty() || relative.front() == '/') return false;
  if (relative.find('\0') != std::string::npos) return false;
  for (const auto& part : SplitPath(relative)) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

Status RemoveTreeAt(int dir_fd, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Status::Error("'" + name + "' is not a directory entry name");
  }
  return RemoveTreeAtDepth(dir_fd, name, 0);
}

namespace {

// Directories a measurement keeps open at once. Deeper ones are found again
// through ".." (checked to be the same directory), so no tree is too deep.
constexpr size_t kOpenLevels = 64;

// One directory on the way down: its identity and the subdirectories left.
struct Level {
  UniqueFd fd;  // invalid while the level is too far up to keep open
  std::string name;
  dev_t device = 0;
  ino_t inode = 0;
  std::vector<std::string> subdirectories;
  size_t next = 0;
};

class TreeMeasure {
 public:
  // Counts `st` unless it was counted already; false then.
  bool Count(const struct stat& st) {
    // A file with one link is met once; directories are kept too, so that a
    // bind mount looping back into the tree is not walked again.
    bool shared = S_ISDIR(st.st_mode) || st.st_nlink > 1;
    if (shared && !seen_.emplace(st.st_dev, st.st_ino).second) return false;
    usage_.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    ++usage_.inodes;
    return true;
  }

  // Opens the directory `name` of `parent` and counts it (nullopt: gone, no
  // longer a directory, or counted already).
  Result<std::optional<Level>> Enter(int parent, const std::string& name) {
    Level level;
    level.name = name;
    level.fd =
        UniqueFd(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!level.fd.valid()) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::optional<Level>();
      return Status::Error("cannot open '" + name + "': " + ErrnoText(errno));
    }
    struct stat st {};
    if (fstat(level.fd.get(), &st) != 0) {
      return Status::Error("cannot stat '" + name + "': " + ErrnoText(errno));
    }
    level.device = st.st_dev;
    level.inode = st.st_ino;
    if (!Count(st)) return std::optional<Level>();
    // Its entries: the others are counted now, subdirectories are left for later.
    int listing = openat(level.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* dir = listing >= 0 ? fdopendir(listing) : nullptr;
    if (dir == nullptr) {
      int error = errno;
      if (listing >= 0) close(listing);
      return Status::Error("cannot list '" + name + "': " + ErrnoText(error));
    }
    while (struct dirent* entry = readdir(dir)) {
      std::string child = entry->d_name;
      if (child == "." || child == "..") continue;
      if (fstatat(level.fd.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        level.subdirectories.push_back(std::move(child));
      } else {
        Count(st);
      }
    }
    closedir(dir);
    return std::optional<Level>(std::move(level));
  }

  const TreeUsage& usage() const { return usage_; }

 private:
  std::set<std::pair<dev_t, ino_t>> seen_;
  TreeUsage usage_;
};

std::string PathOf(const std::vector<Level>& levels) {
  std::string path = ".";
  for (size_t i = 1; i < levels.size(); ++i) path += "/" + levels[i].name;
  return path;
}

}  // namespace

Result<TreeUsage> MeasureTree(int dir_fd) {
  TreeMeasure measure;
  std::vector<Level> levels;
  Result<std::optional<Level>> root = measure.Enter(dir_fd, ".");
  if (!root.ok()) return root.status();
  if (!root->has_value()) return measure.usage();
  levels.push_back(std::move(**root));
  while (!levels.empty()) {
    Level& top = levels.back();
    if (top.next < top.subdirectories.size()) {
      std::string name = top.subdirectories[top.next++];
      Result<std::optional<Level>> child = measure.Enter(top.fd.get(), name);
      if (!child.ok()) return Status::Error(PathOf(levels) + "/" + child.error());
      if (!child->has_value()) continue;
      levels.push_back(std::move(**child));
      if (levels.size() > kOpenLevels) levels[levels.size() - 1 - kOpenLevels].fd.Reset();
      continue;
    }
    if (levels.size() >= 2 && !levels[levels.size() - 2].fd.valid()) {
      Level& parent = levels[levels.size() - 2];
      UniqueFd up(openat(top.fd.get(), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      struct stat st {};
      if (!up.valid() || fstat(up.get(), &st) != 0 || st.st_dev != parent.device ||
          st.st_ino != parent.inode) {
        return Status::Error("'" + PathOf(levels) + "' moved while the tree was measured");
      }
      parent.fd = std::move(up);
    }
    levels.pop_back();
  }
  return measure.usage();
}

}  // namespace stoa

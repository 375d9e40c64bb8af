// Symlink-safe file operations for code that runs as root inside directories
// that less privileged users own (sandboxes, images): every path is resolved
// relative to an open directory, never through a symbolic link and never out
// of that directory, so a user who swaps a path component for a symlink cannot
// redirect a root-side create, open or chown onto a host file.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

#include "common/status.hpp"

namespace stoa {

// An owned file descriptor, closed when it goes.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the descriptor.
  int Release() { return std::exchange(fd_, -1); }
  void Reset();

 private:
  int fd_ = -1;
};

// Opens the directory at `path` (absolute; trusted up to its last component,
// which must not be a symlink). For the root of a tree a user may own.
Result<UniqueFd> OpenDirectory(const std::string& path);

// Opens `relative` beneath the directory `dir_fd`: no component may be a
// symlink (nor a /proc magic link), and ".." may not lead out of `dir_fd`.
// Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
// or a walk of O_NOFOLLOW opens where the kernel has no openat2 (before 5.6).
// `flags` as for open(2); O_CLOEXEC is always added; with O_CREAT, the file is
// made with `mode` (add O_EXCL to insist on a new one).
// The error says which path could not be opened and why.
Result<UniqueFd> OpenBeneath(int dir_fd, const std::string& relative, int flags, mode_t mode = 0);
// The same, for callers that tell errors apart (a symlink from a missing
// file): the descriptor, or -errno (ELOOP: a symlink; EXDEV: it leads out).
int OpenBeneathErrno(int dir_fd, const std::string& relative, int flags, mode_t mode = 0);

// True when `relative` is a plain relative path: no empty, "." or ".." part.
bool IsPlainRelativePath(const std::string& relative);

// Removes the entry `name` (a single component) of the directory `dir_fd`
// and, if it is a directory, everything under it, without following any
// symbolic link (links are removed, never their targets). ENOENT is success.
Status RemoveTreeAt(int dir_fd, const std::string& name);

// Creates the directory `name` (a single component) in `dir_fd` and opens it.
// When `exclusive`, it must not exist yet; otherwise an existing directory
// (not a symlink) is opened.
Result<UniqueFd> MakeDirectoryIn(int dir_fd, const std::string& name, mode_t mode, bool exclusive);

// What a tree takes on disk, as du counts it.
struct TreeUsage {
  uint64_t bytes = 0;   // allocated blocks (st_blocks * 512)
  uint64_t inodes = 0;  // directories, files, links, ...: each counted once
};

// Measures the tree under the directory `dir_fd` (itself included): every
// inode once however many links it has, symbolic links as themselves (never
// followed), nothing outside the tree. Entries that vanish meanwhile are
// skipped; the error says where the walk could not go on (e.g. a deep
// directory moved while it was measured).
Result<TreeUsage> MeasureTree(int dir_fd);

// fstat of an open descriptor; the error names `what`.
Result<struct stat> StatFd(int fd, const std::string& what);

}  // namespace stoa

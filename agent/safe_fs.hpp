// What the agent's sandbox service needs beyond common/safe_fs.hpp: an open
// beneath a directory that reports errno (a symlink is 403, a missing file
// 404) and removal of a tree. Nothing here follows a symbolic link or leaves
// the directory it starts from.
#pragma once

#include <string>

#include "common/safe_fs.hpp"
#include "common/status.hpp"

namespace stoa::agent {

using stoa::UniqueFd;

// True when `relative` is a plain relative path: no empty, "." or ".." part.
bool IsPlainRelativePath(const std::string& relative);

// Opens `relative` (a plain relative path) beneath the directory `dir_fd`
// with `flags` (O_CLOEXEC and O_NOFOLLOW are added), refusing any symbolic
// link on the way and any way out: openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS, or component by component with O_NOFOLLOW where the
// kernel has no openat2. Returns the descriptor, or -errno (ELOOP: a symlink;
// EXDEV: it leads out; ENOENT ...).
int OpenBeneathOrErrno(int dir_fd, const std::string& relative, int flags);

// Removes the entry `name` of the directory `dir_fd` and, if it is a
// directory, everything under it, without following any symbolic link (links
// are removed, never their targets). ENOENT is success.
Status RemoveTreeAt(int dir_fd, const std::string& name);

// "No such file or directory" for an errno value.
std::string ErrnoMessage(int error);

}  // namespace stoa::agent

// A task's sandbox as the root executor prepares it inside the executor
// sandbox, which the first task's user owns and may rearrange at any time:
// every directory and file is made relative to an open directory, never
// through a symlink, and given to the task's user through the descriptor the
// executor opened, so no host file can be handed over.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/safe_fs.hpp"
#include "common/status.hpp"

namespace stoa::executors {

// What a task's command gets: its working directory and its output files.
struct TaskSandbox {
  UniqueFd directory;
  UniqueFd stdout_fd;
  UniqueFd stderr_fd;
};

// Who a task sandbox is given to.
struct SandboxOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Prepares a task's sandbox in the executor sandbox `executor_sandbox_fd`.
// With a `task_directory` (task groups): tasks/<task_directory>, created
// fresh; tasks/ must be the executor's own directory (a task that replaced
// it, even with a directory of its own, is refused). Without one (command
// executors): the executor sandbox itself. stdout and stderr are created new
// (O_EXCL | O_NOFOLLOW). With an `owner`, the directory and both files become
// the owner's. An error says what was refused and why.
Result<TaskSandbox> PrepareTaskSandbox(int executor_sandbox_fd, const std::string& task_directory,
                                       const std::optional<SandboxOwner>& owner);

}  // namespace stoa::executors

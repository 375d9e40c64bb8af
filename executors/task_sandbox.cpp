#include "executors/task_sandbox.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace stoa::executors {
namespace {

constexpr const char* kTasksDirectory = "tasks";

Result<UniqueFd> CreateOutput(int directory_fd, const char* name) {
  return OpenBeneath(directory_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW, 0644);
}

Status GiveTo(int fd, const SandboxOwner& owner, const std::string& what) {
  if (fchown(fd, owner.uid, owner.gid) != 0) {
    return Status::Error("cannot give '" + what + "' to uid " + std::to_string(owner.uid) + ": " +
                         ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace

Result<TaskSandbox> PrepareTaskSandbox(int executor_sandbox_fd, const std::string& task_directory,
                                       const std::optional<SandboxOwner>& owner) {
  TaskSandbox sandbox;
  if (task_directory.empty()) {
    sandbox.directory = UniqueFd(fcntl(executor_sandbox_fd, F_DUPFD_CLOEXEC, 3));
    if (!sandbox.directory.valid()) {
      return Status::Error("cannot duplicate a descriptor: " + ErrnoText(errno));
    }
  } else {
    Result<UniqueFd> tasks =
        MakeDirectoryIn(executor_sandbox_fd, kTasksDirectory, 0755, /*exclusive=*/false);
    if (!tasks.ok()) return tasks.status();
    Result<struct stat> st = StatFd(tasks->get(), kTasksDirectory);
    if (!st.ok()) return st.status();
    if (st->st_uid != geteuid()) {
      return Status::Error(std::string("'") + kTasksDirectory + "' is not the executor's (uid " +
                           std::to_string(st->st_uid) + " owns it): a task replaced it");
    }
    Result<UniqueFd> directory =
        MakeDirectoryIn(tasks->get(), task_directory, 0755, /*exclusive=*/true);
    if (!directory.ok()) {
      return Status::Error("in '" + std::string(kTasksDirectory) + "': " + directory.error());
    }
    sandbox.directory = std::move(*directory);
  }
  Result<UniqueFd> out = CreateOutput(sandbox.directory.get(), "stdout");
  if (!out.ok()) return out.status();
  Result<UniqueFd> err = CreateOutput(sandbox.directory.get(), "stderr");
  if (!err.ok()) return err.status();
  sandbox.stdout_fd = std::move(*out);
  sandbox.stderr_fd = std::move(*err);
  if (owner) {
    // The files first: until the directory is the task's, nobody else can touch them.
    for (auto [fd, what] : {std::pair{sandbox.stdout_fd.get(), "stdout"},
                            std::pair{sandbox.stderr_fd.get(), "stderr"},
                            std::pair{sandbox.directory.get(), "the task sandbox"}}) {
      if (Status s = GiveTo(fd, *owner, what); !s.ok()) return s;
    }
  }
  return sandbox;
}

}  // namespace stoa::executors

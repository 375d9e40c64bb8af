#include "agent/containerizer.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace stoa::agent {

Result<pid_t> LaunchExecutor(const LaunchSpec& spec) {
  if (access(spec.program.c_str(), X_OK) != 0) {
    return Status::Error("executor program '" + spec.program + "' cannot be run: " +
                         std::strerror(errno) + " (set --executor_path)");
  }
  // Everything the child needs is prepared before fork: no allocation after it.
  std::string log_path = spec.sandbox + "/executor.log";
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [key, value] : spec.environment) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string program = spec.program;
  char* argv[] = {program.data(), nullptr};

  pid_t pid = fork();
  if (pid < 0) return Status::Error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (chdir(spec.sandbox.c_str()) != 0) _exit(126);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    execve(program.c_str(), argv, envp.data());
    _exit(127);
  }
  return pid;
}

void WatchProcess(pid_t pid, std::function<void(int wait_status)> on_exit) {
  std::thread([pid, on_exit = std::move(on_exit)] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        status = 0;
        break;
      }
    }
    on_exit(status);
  }).detach();
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended with wait status " + std::to_string(wait_status);
}

}  // namespace stoa::agent

// Starts executors as processes. Today: the posix launcher (a new session in
// the sandbox, output in executor.log); the isolator pipeline plugs in here.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace stoa::agent {

struct LaunchSpec {
  std::string program;  // absolute path of stoa-executor
  std::string sandbox;  // the executor's working directory (exists)
  std::vector<std::pair<std::string, std::string>> environment;
};

// Forks and execs `spec.program` in a new session; the child's stdout and
// stderr go to <sandbox>/executor.log. Returns the child's pid.
Result<pid_t> LaunchExecutor(const LaunchSpec& spec);

// Waits (on a thread of its own) for `pid` to exit, then calls `on_exit` with
// its wait status. REQUIRES: `pid` is a child of this process.
void WatchProcess(pid_t pid, std::function<void(int wait_status)> on_exit);

// "exited with status 3" / "was killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

}  // namespace stoa::agent

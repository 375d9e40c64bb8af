// stoa-executor: started by the agent inside a container, configured through
// the environment (see ExecutorConfig); runs a task or a task group.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "executors/executor.hpp"

int main(int argc, char** argv) {
  if (argc > 1) {
    std::fprintf(stderr,
                 "usage: %s (no arguments)\n"
                 "The agent starts stoa-executor with STOA_AGENT_ENDPOINT, STOA_FRAMEWORK_ID,\n"
                 "STOA_EXECUTOR_ID, STOA_SANDBOX, STOA_AGENT_ID, STOA_EXECUTOR_SECRET and\n"
                 "optionally STOA_EXECUTOR_GROUP=1 in its environment.\n",
                 argv[0]);
    return 2;
  }
  auto config = stoa::executors::ConfigFromEnvironment(
      [](const char* name) -> const char* { return std::getenv(name); });
  if (!config.ok()) {
    std::fprintf(stderr, "stoa-executor: %s\n", config.error().c_str());
    return 2;
  }
  // The secret stays in this process's memory only: /proc/PID/environ shows
  // the block the process started with, so it is overwritten there too.
  if (char* secret = std::getenv("STOA_EXECUTOR_SECRET")) {
    std::memset(secret, '0', std::strlen(secret));
    unsetenv("STOA_EXECUTOR_SECRET");
  }
  stoa::executors::Executor executor(std::move(config).value());
  return executor.Run();
}

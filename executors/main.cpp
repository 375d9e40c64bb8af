// stoa-executor: started by the agent inside a container, configured through
// the environment (see ExecutorConfig); runs a task or a task group.
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "executors/executor.hpp"

int main(int argc, char** argv) {
  if (argc > 1) {
    std::fprintf(stderr,
                 "usage: %s (no arguments)\n"
                 "The agent starts stoa-executor with STOA_AGENT_ENDPOINT, STOA_FRAMEWORK_ID,\n"
                 "STOA_EXECUTOR_ID, STOA_SANDBOX, STOA_AGENT_ID and optionally\n"
                 "STOA_EXECUTOR_GROUP=1 in its environment.\n",
                 argv[0]);
    return 2;
  }
  auto config = stoa::executors::ConfigFromEnvironment(
      [](const char* name) -> const char* { return std::getenv(name); });
  if (!config.ok()) {
    std::fprintf(stderr, "stoa-executor: %s\n", config.error().c_str());
    return 2;
  }
  stoa::executors::Executor executor(std::move(config).value());
  return executor.Run();
}

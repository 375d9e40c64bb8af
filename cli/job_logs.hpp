// `stoa job logs`: the stdout or stderr of a run's tasks, read from their
// sandboxes through the agents' /files/read.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace stoa::cli {

struct LogOptions {
  std::string command;          // "stoa job logs", for messages
  std::string file = "stdout";  // or "stderr"
};

// Prints the file of each task of `run` (a run's JSON whose "tasks" are
// objects with "sandbox" links), its failed tasks first, then the others in
// the order they started; with more than one task, each under a header line
// "==> TASK (STATUS, exit N) on HOST <==". Returns 0 when every task's file
// was read; 1 otherwise, saying for each task that could not be read why on
// stderr.
int PrintRunLogs(const nlohmann::json& run, const LogOptions& options);

}  // namespace stoa::cli

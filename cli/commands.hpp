// The subcommands of the `stoa` binary. Each parses its own flags and returns
// the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace stoa::cli {

// Adds the subcommand and its flags to `app`; the callback runs it and stores
// the exit code in `*exit_code`.
void AddMasterCommand(CLI::App& app, int* exit_code);
void AddAgentCommand(CLI::App& app, int* exit_code);
void AddExecuteCommand(CLI::App& app, int* exit_code);
void AddUpCommand(CLI::App& app, int* exit_code);
void AddServiceCommand(CLI::App& app, int* exit_code);
void AddBatchCommand(CLI::App& app, int* exit_code);
void AddAppCommand(CLI::App& app, int* exit_code);
void AddJobCommand(CLI::App& app, int* exit_code);
void AddDnsCommand(CLI::App& app, int* exit_code);
void AddLbCommand(CLI::App& app, int* exit_code);

// A duration flag's value in seconds; exits with a clear message when malformed.
double DurationFlag(const std::string& flag, const std::string& text);
// Blocks until SIGINT or SIGTERM arrives (they are blocked on every thread).
int WaitForTerminationSignal();
// Blocks SIGINT and SIGTERM; call before any thread starts.
void BlockTerminationSignals();

}  // namespace stoa::cli

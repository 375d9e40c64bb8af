// stoa: the one binary for daemons (master, agent, service), users (execute,
// app, job) and a local cluster (up).
#include <cstdio>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Stoa: a cluster orchestrator with two-level scheduling"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "stoa 0.1.0");
  int exit_code = 0;
  stoa::cli::AddMasterCommand(app, &exit_code);
  stoa::cli::AddAgentCommand(app, &exit_code);
  stoa::cli::AddExecuteCommand(app, &exit_code);
  stoa::cli::AddUpCommand(app, &exit_code);
  stoa::cli::AddServiceCommand(app, &exit_code);
  stoa::cli::AddBatchCommand(app, &exit_code);
  stoa::cli::AddAppCommand(app, &exit_code);
  stoa::cli::AddJobCommand(app, &exit_code);
  stoa::cli::AddDnsCommand(app, &exit_code);
  stoa::cli::AddLbCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; a usage error exits 2 (CLI11's own codes are 100 and up).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}

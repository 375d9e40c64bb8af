// `stoa master` and `stoa agent`: start the daemon, serve until SIGINT/SIGTERM.
#include <signal.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "agent/agent.hpp"
#include "cli/commands.hpp"
#include "common/duration.hpp"
#include "common/logging.hpp"
#include "master/master.hpp"

namespace stoa::cli {

double DurationFlag(const std::string& flag, const std::string& text) {
  Result<double> seconds = ParseDuration(text);
  if (!seconds.ok()) {
    std::fprintf(stderr, "stoa: --%s: %s\n", flag.c_str(), seconds.error().c_str());
    std::exit(2);
  }
  return *seconds;
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

namespace {

struct MasterFlags {
  master::MasterOptions options;
  std::string allocation_interval = "1secs";
  std::string agent_ping_timeout = "5secs";
  std::string framework_heartbeat_interval = "5secs";
  std::string offer_timeout = "60secs";
  std::string log_level = "info";
};

struct AgentFlags {
  agent::AgentOptions options;
  std::string status_update_retry_interval = "10secs";
  std::string master_timeout = "15secs";
  std::string executor_shutdown_grace_period = "5secs";
  std::string log_level = "info";
};

}  // namespace

void AddMasterCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<MasterFlags>();
  CLI::App* cmd = app.add_subcommand("master", "Run a master");
  auto& o = flags->options;
  cmd->add_option("--ip", o.ip, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "Port agents and frameworks connect to (ZeroMQ)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--http_port", o.http_port, "Port of the HTTP API (/state, /metrics, /health)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", o.work_dir, "Directory for the registry")->capture_default_str();
  cmd->add_option("--allocation_interval", flags->allocation_interval,
                  "Time between periodic allocation rounds")
      ->capture_default_str();
  cmd->add_option("--agent_ping_timeout", flags->agent_ping_timeout,
                  "Time between pings to each agent")
      ->capture_default_str();
  cmd->add_option("--max_agent_ping_timeouts", o.max_agent_ping_timeouts,
                  "Missed pings before an agent is unreachable")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--framework_heartbeat_interval", flags->framework_heartbeat_interval,
                  "Time between HEARTBEAT events; a framework silent for 3 of them is "
                  "disconnected")
      ->capture_default_str();
  cmd->add_option("--offer_timeout", flags->offer_timeout,
                  "Offers unanswered this long are rescinded (0secs: never)")
      ->capture_default_str();
  cmd->add_option("--log_level", flags->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    auto& o = flags->options;
    o.allocation_interval = DurationFlag("allocation_interval", flags->allocation_interval);
    o.agent_ping_interval = DurationFlag("agent_ping_timeout", flags->agent_ping_timeout);
    o.framework_heartbeat_interval =
        DurationFlag("framework_heartbeat_interval", flags->framework_heartbeat_interval);
    o.offer_timeout = DurationFlag("offer_timeout", flags->offer_timeout);
    if (o.allocation_interval <= 0 || o.agent_ping_interval <= 0 ||
        o.framework_heartbeat_interval <= 0) {
      std::fprintf(stderr, "stoa master: intervals must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    SetLogLevel(flags->log_level);
    BlockTerminationSignals();
    caf::actor_system_config config;
    caf::actor_system system{config};
    auto master = master::Master::Start(system, o);
    if (!master.ok()) {
      std::fprintf(stderr, "stoa master: %s\n", master.error().c_str());
      *exit_code = 1;
      return;
    }
    Logger("master")->info("listening on {} (HTTP on {}:{})", (*master)->address(), o.ip,
                           (*master)->http_port());
    int sig = WaitForTerminationSignal();
    Logger("master")->info("stopping on signal {}", sig);
    master->reset();
    *exit_code = 0;
  });
}

void AddAgentCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* cmd = app.add_subcommand("agent", "Run an agent");
  auto& o = flags->options;
  cmd->add_option("--master", o.master, "The master, HOST:PORT")->required();
  cmd->add_option("--ip", o.ip, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "Port executors reach the agent on")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--http_port", o.http_port, "Port of the HTTP API (/state, /files/read)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", o.work_dir, "Directory for sandboxes and checkpoints")
      ->capture_default_str();
  cmd->add_option("--resources", o.resources,
                  "Resources to offer, e.g. 'cpus:4;mem:8192;ports:[31000-32000]' (detected "
                  "when omitted; entries given here replace detected ones)");
  cmd->add_option("--hostname", o.hostname, "Hostname to advertise");
  cmd->add_option("--executor_path", o.executor_path,
                  "Path of stoa-executor (default: next to this binary)");
  cmd->add_option("--status_update_retry_interval", flags->status_update_retry_interval,
                  "Time between resends of an unacknowledged status update")
      ->capture_default_str();
  cmd->add_option("--master_timeout", flags->master_timeout,
                  "Register again after this long without a word from the master")
      ->capture_default_str();
  cmd->add_option("--executor_shutdown_grace_period", flags->executor_shutdown_grace_period,
                  "Time an executor has to stop its tasks before it is killed")
      ->capture_default_str();
  cmd->add_option("--log_level", flags->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    auto& o = flags->options;
    o.status_update_retry_interval =
        DurationFlag("status_update_retry_interval", flags->status_update_retry_interval);
    o.master_timeout = DurationFlag("master_timeout", flags->master_timeout);
    o.executor_shutdown_grace =
        DurationFlag("executor_shutdown_grace_period", flags->executor_shutdown_grace_period);
    SetLogLevel(flags->log_level);
    BlockTerminationSignals();
    caf::actor_system_config config;
    caf::actor_system system{config};
    auto agent = agent::Agent::Start(system, o);
    if (!agent.ok()) {
      std::fprintf(stderr, "stoa agent: %s\n", agent.error().c_str());
      *exit_code = 1;
      return;
    }
    Logger("agent")->info("agent serving HTTP on {}:{}; master {}", o.ip, (*agent)->http_port(),
                          o.master);
    int sig = WaitForTerminationSignal();
    Logger("agent")->info("stopping on signal {} (executors keep running)", sig);
    agent->reset();
    *exit_code = 0;
  });
}

}  // namespace stoa::cli

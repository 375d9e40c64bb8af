// `stoa lb`: a real HAProxy fed with the service framework's healthy
// instances (discovery/lb_daemon.hpp), until SIGINT/SIGTERM.
#include <cstdio>

#include "cli/commands.hpp"
#include "common/logging.hpp"
#include "discovery/lb_daemon.hpp"

namespace stoa::cli {

void AddLbCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<discovery::LbOptions>();
  auto log_level = std::make_shared<std::string>("info");
  auto resync = std::make_shared<std::string>("30secs");
  CLI::App* cmd = app.add_subcommand(
      "lb", "Run HAProxy in front of the service framework's apps (marathon-lb's labels)");
  auto& o = *options;
  cmd->add_option("--service", o.service, "The service framework's HTTP API")
      ->capture_default_str();
  cmd->add_option("--haproxy", o.haproxy, "The HAProxy binary")->capture_default_str();
  cmd->add_option("--work_dir", o.work_dir, "Directory for haproxy.cfg, its socket and log")
      ->required();
  cmd->add_option("--bind_ip", o.bind_ip, "Address the apps' service ports are bound on")
      ->capture_default_str();
  cmd->add_option("--group", o.group, "Serve the apps whose HAPROXY_GROUP label is this")
      ->capture_default_str();
  cmd->add_option("--http_port", o.http_port,
                  "Port of the shared HTTP frontend for HAPROXY_{n}_VHOST (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--admin_ip", o.admin_ip, "Address of /metrics and /v1/backends")
      ->capture_default_str();
  cmd->add_option("--admin_port", o.admin_port, "Port of /metrics and /v1/backends (0: any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--resync_interval", *resync,
                  "Endpoints are read again at least this often (events read them at once)")
      ->capture_default_str();
  cmd->add_option("--log_level", *log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([options, log_level, resync, exit_code] {
    options->resync_seconds = DurationFlag("resync_interval", *resync);
    if (options->resync_seconds <= 0) {
      std::fprintf(stderr, "stoa lb: --resync_interval must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    SetLogLevel(*log_level);
    BlockTerminationSignals();
    auto daemon = discovery::LbDaemon::Start(*options);
    if (!daemon.ok()) {
      std::fprintf(stderr, "stoa lb: %s\n", daemon.error().c_str());
      *exit_code = 1;
      return;
    }
    int sig = WaitForTerminationSignal();
    Logger("lb")->info("stopping HAProxy on signal {}", sig);
    daemon->reset();
    *exit_code = 0;
  });
}

}  // namespace stoa::cli

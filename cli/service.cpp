// `stoa service`: the service framework (Marathon's app API) as a daemon.
#include "frameworks/service/service.hpp"

#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "common/logging.hpp"

namespace stoa::cli {
namespace {

struct ServiceFlags {
  service::ServiceOptions options;
  std::string failover_timeout = "1weeks";
  std::string zk_session_timeout = "10secs";
  std::string leader_proxy_connection_timeout = "5secs";
  std::string leader_proxy_read_timeout = "10secs";
  std::string decline_offer_duration = "120secs";
  std::string min_revive_offers_interval = "5secs";
  std::string reconciliation_interval = "10mins";
  std::string kill_drain_delay = "1secs";
  std::string autoscale_interval = "5secs";
  std::string log_level = "info";
};

}  // namespace

void AddServiceCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServiceFlags>();
  auto& o = flags->options;
  CLI::App* cmd =
      app.add_subcommand("service", "Run the service framework: Marathon's REST API for apps");
  cmd->add_option("--master", o.master, "The master, HOST:PORT or zk://HOST:PORT/PATH")->required();
  cmd->add_option("--ip", o.ip, "Address the HTTP API listens on")->capture_default_str();
  cmd->add_option("--http_port", o.http_port, "Port of the HTTP API (Marathon's /v2)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", o.work_dir, "Directory for the state (LevelDB) when not --zk")
      ->capture_default_str();
  cmd->add_option("--zk", o.zk,
                  "zk://HOST:PORT[,HOST:PORT]/PATH: keep the state in ZooKeeper under PATH/state "
                  "and elect a leader among the instances given the same PATH; standbys pass "
                  "API requests on to it (default: one instance, LevelDB under --work_dir)");
  cmd->add_option("--zk_session_timeout", flags->zk_session_timeout,
                  "ZooKeeper session timeout; an instance that loses its session exits")
      ->capture_default_str();
  cmd->add_option("--leader_proxy_connection_timeout", flags->leader_proxy_connection_timeout,
                  "How long a standby waits to connect to the leader for a request")
      ->capture_default_str();
  cmd->add_option("--leader_proxy_read_timeout", flags->leader_proxy_read_timeout,
                  "How long a standby waits for the leader's answer to a request")
      ->capture_default_str();
  cmd->add_option("--framework_name", o.framework_name, "Name the framework registers with")
      ->capture_default_str();
  cmd->add_option("--failover_timeout", flags->failover_timeout,
                  "How long the master keeps the framework's tasks while it is away")
      ->capture_default_str();
  cmd->add_option("--hostname", o.hostname, "Hostname to advertise (default: --ip)");
  cmd->add_option("--user", o.user, "User tasks without a user run as (default: ours)");
  cmd->add_option("--decline_offer_duration", flags->decline_offer_duration,
                  "How long offers with nothing to run on them are refused")
      ->capture_default_str();
  cmd->add_option("--min_revive_offers_interval", flags->min_revive_offers_interval,
                  "Least time between two requests for offers")
      ->capture_default_str();
  cmd->add_option("--reconciliation_interval", flags->reconciliation_interval,
                  "Time between implicit reconciliations with the master")
      ->capture_default_str();
  cmd->add_option("--kill_drain_delay", flags->kill_drain_delay,
                  "A task killed while it gets traffic leaves the endpoints (DNS, stoa lb) "
                  "this long before its kill (0: kill at once)")
      ->capture_default_str();
  cmd->add_option("--autoscale_interval", flags->autoscale_interval,
                  "How often apps with an autoscale policy are measured and scaled")
      ->capture_default_str();
  cmd->add_option("--lb", o.lb,
                  "http://HOST:PORT of stoa lb's admin API: request rates for autoscale's "
                  "targetRequestsPerSecond");
  cmd->add_option("--local_port_min", o.core.service_port_min,
                  "Service ports for port 0 are assigned from here...")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--local_port_max", o.core.service_port_max, "...to below here")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--log_level", flags->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    auto& o = flags->options;
    o.failover_timeout = DurationFlag("failover_timeout", flags->failover_timeout);
    o.zk_session_timeout = DurationFlag("zk_session_timeout", flags->zk_session_timeout);
    o.leader_proxy_connection_timeout =
        DurationFlag("leader_proxy_connection_timeout", flags->leader_proxy_connection_timeout);
    o.leader_proxy_read_timeout =
        DurationFlag("leader_proxy_read_timeout", flags->leader_proxy_read_timeout);
    o.core.decline_seconds = DurationFlag("decline_offer_duration", flags->decline_offer_duration);
    o.core.min_revive_interval =
        DurationFlag("min_revive_offers_interval", flags->min_revive_offers_interval);
    o.core.reconcile_interval =
        DurationFlag("reconciliation_interval", flags->reconciliation_interval);
    o.core.kill_drain = DurationFlag("kill_drain_delay", flags->kill_drain_delay);
    o.autoscale_interval = DurationFlag("autoscale_interval", flags->autoscale_interval);
    if (o.autoscale_interval <= 0) {
      std::fprintf(stderr, "stoa service: --autoscale_interval must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    if (o.core.service_port_min >= o.core.service_port_max) {
      std::fprintf(stderr, "stoa service: --local_port_min must be below --local_port_max\n");
      *exit_code = 2;
      return;
    }
    if (o.leader_proxy_connection_timeout <= 0 || o.leader_proxy_read_timeout <= 0) {
      std::fprintf(stderr, "stoa service: the leader proxy's timeouts must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    if (o.core.reconcile_interval <= 0) {
      std::fprintf(stderr, "stoa service: --reconciliation_interval must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    SetLogLevel(flags->log_level);
    BlockTerminationSignals();
    o.core.on_fatal = [](const std::string& why) {
      std::fprintf(stderr,
                   "stoa service: %s; exiting so that a restart recovers the state and "
                   "reconciles with the master\n",
                   why.c_str());
      std::fflush(stderr);
      _exit(1);
    };
    auto service = service::Service::Start(o);
    if (!service.ok()) {
      std::fprintf(stderr, "stoa service: %s\n", service.error().c_str());
      *exit_code = 1;
      return;
    }
    int sig = WaitForTerminationSignal();
    Logger("service")->info("stopping on signal {} (tasks keep running; a restart fails over)",
                            sig);
    service->reset();
    *exit_code = 0;
  });
}

}  // namespace stoa::cli

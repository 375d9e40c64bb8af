// `stoa dns`: DNS names for the service framework's healthy instances and the
// leading master (discovery/dns_daemon.hpp), until SIGINT/SIGTERM.
#include <cstdio>

#include "cli/commands.hpp"
#include "common/logging.hpp"
#include "discovery/dns_daemon.hpp"

namespace stoa::cli {

void AddDnsCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<discovery::DnsOptions>();
  auto log_level = std::make_shared<std::string>("info");
  auto ttl = std::make_shared<int>(1);
  auto resync = std::make_shared<std::string>("30secs");
  CLI::App* cmd = app.add_subcommand(
      "dns", "Serve DNS (A and SRV) for the service framework's healthy instances");
  auto& o = *options;
  cmd->add_option("--master", o.master,
                  "The master, HOST:PORT or zk://HOST:PORT/PATH, for leader.DOMAIN and "
                  "master.DOMAIN (none: no such records)");
  cmd->add_option("--service", o.service, "The service framework's HTTP API")
      ->capture_default_str();
  cmd->add_option("--ip", o.ip, "Address to listen on (UDP and TCP)")->capture_default_str();
  cmd->add_option("--port", o.port, "DNS port (0: any free one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--http_port", o.http_port, "Port of /metrics and /v1/enumerate (0: any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--domain", o.domain, "The domain served, e.g. web.shop.service.DOMAIN")
      ->capture_default_str();
  cmd->add_option("--framework_label", o.framework, "The label the service's apps are under")
      ->capture_default_str();
  cmd->add_option("--ttl", *ttl, "TTL of every record, in seconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  cmd->add_option("--resolv_conf", o.resolv_conf,
                  "Other names are forwarded to the nameservers this file lists")
      ->capture_default_str();
  cmd->add_option("--resolvers", o.resolvers,
                  "IP[:PORT],...: forward other names to these instead of --resolv_conf's");
  cmd->add_option("--resync_interval", *resync,
                  "Endpoints are read again at least this often (events read them at once)")
      ->capture_default_str();
  cmd->add_option("--log_level", *log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([options, log_level, ttl, resync, exit_code] {
    options->ttl = static_cast<uint32_t>(*ttl);
    options->resync_seconds = DurationFlag("resync_interval", *resync);
    if (options->resync_seconds <= 0) {
      std::fprintf(stderr, "stoa dns: --resync_interval must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    SetLogLevel(*log_level);
    BlockTerminationSignals();
    auto daemon = discovery::DnsDaemon::Start(*options);
    if (!daemon.ok()) {
      std::fprintf(stderr, "stoa dns: %s\n", daemon.error().c_str());
      *exit_code = 1;
      return;
    }
    int sig = WaitForTerminationSignal();
    Logger("dns")->info("stopping on signal {}", sig);
    daemon->reset();
    *exit_code = 0;
  });
}

}  // namespace stoa::cli

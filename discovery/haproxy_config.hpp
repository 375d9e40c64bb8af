// What `stoa lb` asks of HAProxy, from the service framework's endpoints: a
// frontend per service port of every app in the balancer's group, as
// marathon-lb reads an app's labels (HAPROXY_GROUP, HAPROXY_{n}_MODE,
// HAPROXY_{n}_VHOST), and a backend of its healthy instances in fixed server
// slots, so that instances come and go through the runtime API; only a new
// shape (frontends, modes, vhosts, more slots) needs a reload.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "discovery/dns_zone.hpp"

namespace stoa::discovery {

struct LbServer {
  std::string ip;
  int port = 0;
  std::string task_id;
  bool operator==(const LbServer&) const = default;
};

struct LbBackend {
  std::string name;    // e.g. "shop_web_10000"
  std::string app_id;  // "/shop/web"
  int service_port = 0;
  std::string mode = "tcp";       // or "http"
  std::string vhost;              // http mode: Host names routed from the shared HTTP frontend
  std::vector<LbServer> servers;  // the healthy instances, by task id
  int slots = 0;                  // server lines in the config (>= servers.size())
};

struct LbConfigOptions {
  std::string bind_ip = "0.0.0.0";
  int http_port = 0;        // the shared frontend of vhosts; 0: none
  std::string socket_path;  // the runtime API (stats socket)
  std::string group = "external";
  int min_slots = 8;
};

// The backends for `apps` (the "apps" array of /v2/endpoints), by name. An
// app is in the balancer's group when its HAPROXY_GROUP label (default
// "external") is `options.group`; each port with a service port above 0 is a
// backend. `previous` gives the slots each backend had (kept unless more are
// needed: then twice the servers, at least min_slots).
std::vector<LbBackend> PlanBackends(const nlohmann::json& apps, const LbConfigOptions& options,
                                    const HostResolver& resolve,
                                    const std::vector<LbBackend>& previous = {});

// Whether `a` and `b` need the same config (all but the servers in the slots).
bool SameShape(const std::vector<LbBackend>& a, const std::vector<LbBackend>& b);

// The whole haproxy.cfg: servers in their slots, unused slots disabled.
std::string RenderConfig(const std::vector<LbBackend>& backends, const LbConfigOptions& options);

// Runtime API commands that move the servers of `from` to those of `to`
// (same shape): each slot gets its new address and is made ready, or is put
// in maintenance when it is no longer used.
std::vector<std::string> RuntimeCommands(const std::vector<LbBackend>& from,
                                         const std::vector<LbBackend>& to);

}  // namespace stoa::discovery

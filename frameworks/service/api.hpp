// Marathon's REST API v2 over the service core: /v2/apps (and its tasks and
// restart), /v2/tasks, /v2/deployments, /v2/info, /v2/leader and /ping, with
// Marathon's status codes, headers (Marathon-Deployment-Id) and error bodies.
#pragma once

#include <functional>
#include <string>

#include "common/http_server.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

// What /v2/info and /v2/leader say about this service.
struct ApiInfo {
  std::string framework_name = "stoa-service";
  std::string master;  // as given with --master
  std::string zk;      // --zk, or empty
  double zk_session_timeout_seconds = 0;
  double leader_proxy_connection_timeout_seconds = 0;
  double leader_proxy_read_timeout_seconds = 0;
  // Whether this instance leads, and who does (HOST:PORT; empty: nobody right
  // now). Unset: this instance runs alone and always leads.
  std::function<bool()> elected;
  std::function<std::string()> leader;
  std::string hostname;
  std::function<int()> http_port;  // known once the server listens
  std::string user;
  double failover_timeout_seconds = 0;
  double decline_offer_seconds = 0;
  int service_port_min = 0;
  int service_port_max = 0;
};

// Registers every route on `server`. REQUIRES: `core` and `info` outlive it.
void AddServiceApi(HttpServer& server, ServiceCore* core, const ApiInfo* info);

}  // namespace stoa::service

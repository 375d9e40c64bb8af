// `stoa lb`: runs a real HAProxy (master-worker mode) and keeps it fed with
// the service framework's healthy instances (EndpointsFollower). Servers
// come and go through HAProxy's runtime API (its stats socket); a new shape
// (an app, a port, more servers than slots) writes a config, checks it with
// `haproxy -c` and reloads with SIGUSR2: the master starts new workers on
// the same listening sockets and the old ones finish their connections, so
// no connection is dropped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace stoa::discovery {

struct LbOptions {
  std::string service = "http://127.0.0.1:8080";
  std::string haproxy = "/usr/sbin/haproxy";
  std::string work_dir;  // haproxy.cfg, its socket and its log
  std::string bind_ip = "0.0.0.0";
  std::string group = "external";
  int http_port = 0;   // the shared vhost frontend; 0: none
  int admin_port = 0;  // /metrics and /v1/backends; 0: any free port
  std::string admin_ip = "127.0.0.1";
  double resync_seconds = 30;
};

class LbDaemon {
 public:
  static Result<std::unique_ptr<LbDaemon>> Start(const LbOptions& options);
  ~LbDaemon();  // stops HAProxy
  int admin_port() const;

 private:
  struct Impl;
  explicit LbDaemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sends `commands` (joined by ';') to the runtime API at `socket_path` and
// returns what HAProxy answered.
Result<std::string> HaproxyCommand(const std::string& socket_path,
                                   const std::vector<std::string>& commands);

}  // namespace stoa::discovery

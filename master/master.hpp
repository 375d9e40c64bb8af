// The master: the one authority on cluster state. It admits agents, subscribes
// frameworks, turns the allocator's decisions into offers, validates and
// forwards launches and kills, relays status updates and their
// acknowledgements, and serves the operator HTTP API (/state, /metrics, /health).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.hpp"
#include "common/storage.hpp"
#include "common/transport.hpp"

namespace caf {
class actor_system;
}

namespace stoa::master {

struct MasterOptions {
  std::string id;  // this master's id; generated when empty
  std::string ip = "127.0.0.1";
  int port = 5050;       // ZeroMQ (agents and frameworks)
  int http_port = 5051;  // operator API; 0 picks a free port
  std::string work_dir = "/var/lib/stoa/master";
  // Overrides tcp://ip:port, e.g. "inproc://master" for in-process clusters.
  std::string bind_address;

  double allocation_interval = 1.0;         // seconds between periodic rounds
  double allocation_batch = 0.02;           // changes are batched this long before a round
  double agent_ping_interval = 5.0;         // master -> agent pings
  int max_agent_ping_timeouts = 3;          // missed pongs before unreachable
  double framework_heartbeat_interval = 5;  // HEARTBEAT events; 3 missed keepalives disconnect
  double offer_timeout = 60;              // outstanding offers are rescinded after this (0: never)
  double agent_reregister_timeout = 600;  // after a failover, agents have this long to come back
  size_t max_completed_tasks_per_framework = 1000;
  size_t max_completed_frameworks = 50;
  // Bounds of the master's ZeroMQ endpoint: frames handed to the actor and
  // not yet processed, ZeroMQ's queues, the largest message, what may wait
  // for a peer that does not read.
  EndpointLimits transport;
  // Called (on the master's actor) when the master can no longer be sure that
  // memory and the registry agree, e.g. a failed registry write; the master
  // stops serving. A daemon exits so that a supervisor restarts it.
  std::function<void(const std::string&)> on_fatal;
};

class Master {
 public:
  // Recovers the registry from `storage` (LevelDB under work_dir/registry when
  // null), binds the ZeroMQ and HTTP ports and starts the master's actors in
  // `system`. An error says which port, directory or registry entry failed.
  static Result<std::unique_ptr<Master>> Start(caf::actor_system& system,
                                               const MasterOptions& options,
                                               std::unique_ptr<Storage> storage = nullptr);
  ~Master();  // stops serving and ends the actors
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // The address agents and frameworks connect to (tcp://IP:PORT or inproc://...).
  std::string address() const;
  int http_port() const;
  // The /state JSON as the HTTP API serves it (for tests and the CLI).
  std::string StateJson() const;

 private:
  struct Impl;
  explicit Master(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::master

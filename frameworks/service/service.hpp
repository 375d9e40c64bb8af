// The service framework as a whole, as `stoa service` runs it: its state in
// Storage (LevelDB under the work directory, or ZooKeeper with --zk), the
// core, the SDK driver that subscribes it (failing over to its stored
// framework id, with a week's failover timeout as Marathon), the HTTP API and
// a ticker for the core's timers. With --zk several instances elect a leader
// (under PATH/leader); only the leader opens the state, subscribes and acts,
// and the standbys pass API requests on to it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

struct ServiceOptions {
  std::string master;  // HOST:PORT, zk://..., or inproc://... in tests
  std::string ip = "127.0.0.1";
  int http_port = 8080;  // 0 picks a free one
  std::string work_dir = "/var/lib/stoa/service";
  std::string zk;  // zk://HOST:PORT/PATH: the state in ZooKeeper under PATH/state
  double zk_session_timeout = 10;
  double leader_proxy_connection_timeout = 5;  // a standby passing a request on
  double leader_proxy_read_timeout = 10;
  std::string framework_name = "stoa-service";
  std::string user;      // the framework's user (tasks without one run as it); default: ours
  std::string hostname;  // advertised in /v2/info and to the master; default: ip
  double failover_timeout = 7 * 24 * 3600;
  double tick_interval = 0.25;
  double autoscale_interval = 5;  // a round of the autoscaler (apps with `autoscale`)
  std::string lb;  // http://HOST:PORT of `stoa lb`'s admin API, for request-rate targets
  double event_keep_alive = 10;  // seconds without an event before /v2/events sends a comment
  // core.on_fatal: called when state and storage would disagree, and with
  // --zk when this instance may no longer lead or stand by (its session was
  // lost), and after DELETE /v2/leader: production exits there, so that two
  // leaders never act at once.
  CoreOptions core;
};

class Service {
 public:
  // Without --zk: recovers, subscribes and serves. With --zk: serves (as a
  // standby), joins the election and returns; the rest follows once elected.
  static Result<std::unique_ptr<Service>> Start(ServiceOptions options);
  ~Service();  // stops without tearing the framework down: a restart fails over to it
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  int http_port() const;
  bool leading() const;
  ServiceCore& core();

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::service

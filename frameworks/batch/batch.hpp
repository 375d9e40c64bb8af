// The batch framework's process (`stoa batch`): the SDK driver, the core, a
// ticker for schedules and deadlines, and Metronome's API on an HTTP server.
// Its state is in LevelDB under the work directory, or with --zk in ZooKeeper:
// then several instances elect a leader (under PATH/leader); only the leader
// opens the state, subscribes and acts, and the standbys pass the API on to it.
#pragma once

#include <memory>
#include <string>

#include "common/status.hpp"
#include "frameworks/batch/core.hpp"

namespace stoa::batch {

struct BatchProcessOptions {
  std::string master;  // HOST:PORT, zk://..., or inproc://... in tests
  std::string ip = "127.0.0.1";
  int http_port = 9000;  // 0 picks a free one
  std::string work_dir = "/var/lib/stoa/batch";
  std::string zk;  // zk://HOST:PORT/PATH: the state in ZooKeeper under PATH/state
  double zk_session_timeout = 10;
  std::string framework_name = "stoa-batch";
  std::string hostname;  // advertised to the master and in /leader; default: ip
  double failover_timeout = 7 * 24 * 3600;
  double tick_interval = 0.25;  // schedules, deadlines and retries are looked at this often
  // For tests of schedules across processes: the time is read from this file
  // (seconds since the epoch) instead of the system clock. Empty: the clock.
  std::string clock_file;
  // core.on_fatal: called when the state cannot be written, when the master
  // ended the framework, and with --zk when this instance may no longer lead
  // or stand by (its session was lost): production exits there.
  BatchOptions core;
};

class BatchProcess {
 public:
  // Without --zk: recovers, subscribes and serves. With --zk: serves (as a
  // standby), joins the election and returns; the rest follows once elected.
  static Result<std::unique_ptr<BatchProcess>> Start(BatchProcessOptions options);
  ~BatchProcess();  // stops without tearing the framework down: a restart fails over to it
  BatchProcess(const BatchProcess&) = delete;
  BatchProcess& operator=(const BatchProcess&) = delete;

  int http_port() const;
  bool leading() const;
  BatchCore& core();

 private:
  struct Impl;
  explicit BatchProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::batch

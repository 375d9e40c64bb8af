// The batch framework's process (`stoa batch`): the SDK driver, the core, a
// ticker for schedules and deadlines, and Metronome's API on an HTTP server.
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
  std::string framework_name = "stoa-batch";
  std::string hostname;  // advertised to the master and in /leader; default: ip
  double failover_timeout = 7 * 24 * 3600;
  double tick_interval = 0.25;  // schedules, deadlines and retries are looked at this often
  BatchOptions core;
};

class BatchProcess {
 public:
  static Result<std::unique_ptr<BatchProcess>> Start(BatchProcessOptions options);
  ~BatchProcess();  // stops without tearing the framework down: a restart fails over to it
  BatchProcess(const BatchProcess&) = delete;
  BatchProcess& operator=(const BatchProcess&) = delete;

  int http_port() const;
  BatchCore& core();

 private:
  struct Impl;
  explicit BatchProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa::batch

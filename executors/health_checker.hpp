// The timing and the judgement of one check of one task, as Mesos's health
// checker and checker have them, without running anything itself: the
// executor asks when the next probe is due, runs it (probes.hpp) and hands
// its result back, and is told what to report and whether to kill the task.
// Times are the caller's monotonic seconds, so tests drive them by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocols/messages.hpp"

namespace stoa::executors {

// What one probe found.
struct ProbeResult {
  bool passed = false;  // HTTP 2xx/3xx, a TCP connection, a command's exit status 0
  CheckStatus status;   // its raw result (http status code, connected, exit code)
  std::string message;  // what happened, e.g. "GET http://127.0.0.1:80/ answered 503"
};

// What a probe's result means for its task.
struct CheckVerdict {
  bool report = false;                      // send a TASK_RUNNING update with what follows
  std::optional<bool> healthy;              // a health check's new result
  std::optional<CheckStatus> check_status;  // a check's new result
  bool kill = false;    // the health check failed `consecutive_failures` times in a row
  std::string message;  // for the update, e.g. "Health check failed: GET ... answered 503"
  std::string cause;    // what the probe found, e.g. "GET ... answered 503"
};

class HealthChecker {
 public:
  // A health check: failures count after the grace period (or after a first
  // success), and `consecutive_failures` of them in a row (0: never) kill.
  // REQUIRES: `started_at` is when the task started running.
  static HealthChecker ForHealth(const HealthCheck& health, double started_at);
  // A check: its results are reported whenever they change; it kills nothing.
  static HealthChecker ForCheck(const CheckInfo& check, double started_at);

  const CheckInfo& check() const { return check_; }
  bool is_health() const { return health_; }
  // When the next probe is due (never while one is in flight).
  double NextProbeAt() const;
  // When the probe in flight times out (never when none is).
  double Deadline() const;
  // The id of the probe in flight; 0: none.
  uint64_t in_flight() const { return in_flight_; }

  // Probe `id` (not 0) started at `now`.
  void Started(uint64_t id, double now);
  // The probe in flight ended at `now` with `result`; the next one is due an
  // interval later. A health check's every failure that counts is reported
  // (with the failures in a row), a success only when the task was not
  // healthy before, as Mesos's executors do.
  CheckVerdict Finished(const ProbeResult& result, double now);
  // The probe in flight did not end by its deadline: a failure.
  CheckVerdict TimedOut(double now);

  int consecutive_failures() const { return failures_; }

 private:
  HealthChecker(CheckInfo check, bool health, uint32_t kill_after, double grace, double started_at);

  CheckInfo check_;
  bool health_ = false;
  uint32_t kill_after_ = 0;
  double grace_seconds_ = 0;
  double started_at_ = 0;
  double next_probe_at_ = 0;
  uint64_t in_flight_ = 0;
  double in_flight_deadline_ = 0;
  int failures_ = 0;
  bool succeeded_ = false;                  // a first success ended the grace period
  std::optional<bool> reported_;            // the health last reported
  std::optional<CheckStatus> last_status_;  // the check status last reported
};

}  // namespace stoa::executors

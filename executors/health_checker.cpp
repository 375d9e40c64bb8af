#include "executors/health_checker.hpp"

#include <limits>

#include "common/duration.hpp"

namespace stoa::executors {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();
// HTTP and TCP probes keep their own timeout; the deadline here only catches
// one that did not.
constexpr double kThreadProbeSlack = 1;

}  // namespace

HealthChecker::HealthChecker(CheckInfo check, bool health, uint32_t kill_after, double grace,
                             double started_at)
    : check_(std::move(check)),
      health_(health),
      kill_after_(kill_after),
      grace_seconds_(grace),
      started_at_(started_at),
      next_probe_at_(started_at + check_.delay_seconds) {}

HealthChecker HealthChecker::ForHealth(const HealthCheck& health, double started_at) {
  return HealthChecker(health.check, true, health.consecutive_failures, health.grace_period_seconds,
                       started_at);
}

HealthChecker HealthChecker::ForCheck(const CheckInfo& check, double started_at) {
  return HealthChecker(check, false, 0, 0, started_at);
}

double HealthChecker::NextProbeAt() const { return in_flight_ != 0 ? kNever : next_probe_at_; }

double HealthChecker::Deadline() const { return in_flight_ != 0 ? in_flight_deadline_ : kNever; }

void HealthChecker::Started(uint64_t id, double now) {
  in_flight_ = id;
  double slack = check_.type == CheckType::kCommand ? 0 : kThreadProbeSlack;
  in_flight_deadline_ = now + check_.timeout_seconds + slack;
}

CheckVerdict HealthChecker::TimedOut(double now) {
  ProbeResult result;
  result.status.type = check_.type;
  result.message = std::string(ToString(check_.type)) + " check timed out after " +
                   FormatDuration(check_.timeout_seconds);
  return Finished(result, now);
}

CheckVerdict HealthChecker::Finished(const ProbeResult& result, double now) {
  in_flight_ = 0;
  next_probe_at_ = now + check_.interval_seconds;
  CheckVerdict verdict;
  verdict.cause = result.message;
  if (!health_) {
    if (last_status_ == result.status) return verdict;
    last_status_ = result.status;
    verdict.report = true;
    verdict.check_status = result.status;
    verdict.message = "Check result: " + result.message;
    return verdict;
  }
  if (result.passed) {
    failures_ = 0;
    succeeded_ = true;
    if (reported_ == true) return verdict;
    reported_ = true;
    verdict.report = true;
    verdict.healthy = true;
    verdict.message = "Health check passed: " + result.message;
    return verdict;
  }
  // Failures in the grace period are ignored until a first success.
  if (!succeeded_ && now - started_at_ <= grace_seconds_) return verdict;
  ++failures_;
  reported_ = false;
  verdict.report = true;
  verdict.healthy = false;
  verdict.kill = kill_after_ > 0 && static_cast<uint32_t>(failures_) >= kill_after_;
  verdict.message = "Health check failed: " + result.message;
  return verdict;
}

}  // namespace stoa::executors

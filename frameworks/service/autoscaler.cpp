#include "frameworks/service/autoscaler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace stoa::service {

std::optional<AutoscaleDecision> DecideScale(const AutoscalePolicy& policy, int instances,
                                             std::optional<double> measured, double since_change) {
  // Out of bounds (the policy changed, or someone scaled by hand): back at once.
  if (instances < policy.min_instances || instances > policy.max_instances) {
    int bounded = std::clamp(instances, policy.min_instances, policy.max_instances);
    return AutoscaleDecision{bounded,
                             fmt::format("{} instances is outside the policy's {}..{}", instances,
                                         policy.min_instances, policy.max_instances)};
  }
  if (!measured || instances == 0 || since_change < policy.cooldown_seconds) return std::nullopt;
  bool rps = policy.target_rps > 0;
  double target = rps ? policy.target_rps : policy.target_cpu_percent;
  if (target <= 0) return std::nullopt;
  double ratio = *measured / target;
  if (std::fabs(ratio - 1) <= 0.1) return std::nullopt;
  int desired = static_cast<int>(std::ceil(instances * ratio - 1e-9));
  desired = std::clamp(desired, policy.min_instances, policy.max_instances);
  if (desired == instances) return std::nullopt;
  std::string figure =
      rps ? fmt::format("{:.1f} requests/s per instance, target {:g}", *measured, target)
          : fmt::format("average CPU use {:.0f}% of the cpus asked for, target {:.0f}%", *measured,
                        target);
  return AutoscaleDecision{desired,
                           fmt::format("{}: {} -> {} instances", figure, instances, desired)};
}

void CpuSampler::Add(const std::string& task_id, double cpu_seconds, double timestamp) {
  auto& [previous, last] = readings_[task_id];
  if (timestamp <= last.timestamp) return;  // the same reading again
  previous = last;
  last = {cpu_seconds, timestamp};
}

std::optional<double> CpuSampler::Percent(const std::string& task_id, double cpus) const {
  auto found = readings_.find(task_id);
  if (found == readings_.end() || cpus <= 0) return std::nullopt;
  const auto& [previous, last] = found->second;
  if (previous.timestamp <= 0 || last.timestamp <= previous.timestamp) return std::nullopt;
  double used = std::max(0.0, last.cpu_seconds - previous.cpu_seconds) /
                (last.timestamp - previous.timestamp);
  return 100 * used / cpus;
}

void CpuSampler::Retain(const std::set<std::string>& keep) {
  for (auto it = readings_.begin(); it != readings_.end();) {
    it = keep.count(it->first) ? std::next(it) : readings_.erase(it);
  }
}

}  // namespace stoa::service

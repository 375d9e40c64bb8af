// How many instances an app with an `autoscale` policy should have, from its
// instances' CPU use: the rule of Kubernetes' HPA (desired = ceil(current x
// measured / target), left alone within 10% of the target), between the
// policy's bounds, at most one change per cooldown. And CpuSampler, which
// turns the agents' cumulative CPU times (/monitor/statistics) into each
// task's use as a percent of the cpus it asked for.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "frameworks/service/app.hpp"

namespace stoa::service {

struct AutoscaleDecision {
  int instances = 0;
  std::string reason;
};

// `measured`: the instances' average CPU use in percent, or the requests per
// second each gets, as the policy's target is (none: no figure yet); `since_change`: seconds since
// the policy's last change (a large number when there was none). None: leave the app as it is.
std::optional<AutoscaleDecision> DecideScale(const AutoscalePolicy& policy, int instances,
                                             std::optional<double> measured, double since_change);

class CpuSampler {
 public:
  // One reading of a task's container: cumulative user+system CPU seconds at
  // `timestamp` (seconds).
  void Add(const std::string& task_id, double cpu_seconds, double timestamp);
  // Percent of `cpus` the task used between its last two readings; none
  // before it has two.
  std::optional<double> Percent(const std::string& task_id, double cpus) const;
  // Forgets the tasks not in `keep`.
  void Retain(const std::set<std::string>& keep);

 private:
  struct Reading {
    double cpu_seconds = 0;
    double timestamp = 0;
  };
  std::map<std::string, std::pair<Reading, Reading>> readings_;  // previous, last
};

}  // namespace stoa::service

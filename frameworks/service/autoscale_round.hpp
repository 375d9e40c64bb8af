// One round of the autoscaler: the apps with a policy (ServiceCore::
// AutoscaleTargets), their running tasks' CPU use read from their agents'
// /monitor/statistics (one GET per agent), a decision per app (DecideScale)
// handed back to the core. For a requests-per-second target, the app's
// request rate is the sum of its backends' in `stoa lb`'s /v1/backends. The service runs a round
// every
// --autoscale_interval while it leads.
#pragma once

#include <functional>
#include <string>

#include "common/status.hpp"
#include "frameworks/service/autoscaler.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {

// The body of GET http://AGENT/monitor/statistics, for an agent's HOST:PORT.
using StatisticsFetcher = std::function<Result<std::string>(const std::string& agent_http)>;

// The body of `stoa lb`'s GET /v1/backends (null: no balancer is known).
using BackendsFetcher = std::function<Result<std::string>()>;

void RunAutoscaleRound(ServiceCore& core, CpuSampler& sampler, const StatisticsFetcher& fetch,
                       const BackendsFetcher& backends = nullptr);

}  // namespace stoa::service

// One round of the autoscaler: the apps with a policy (ServiceCore::
// AutoscaleTargets), their running tasks' CPU use read from their agents'
// /monitor/statistics (one GET per agent), a decision per app (DecideScale)
// handed back to the core. The service runs a round every
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

void RunAutoscaleRound(ServiceCore& core, CpuSampler& sampler, const StatisticsFetcher& fetch);

}  // namespace stoa::service

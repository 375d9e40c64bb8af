// Whether one instance of an app fits what is left of an offer: cpus, mem,
// disk and gpus as scalars, host ports from the offer's port ranges (the
// app's own numbers with requirePorts, else any free ones), and the app's
// constraints on the offer's agent. Pure: no state, no I/O.
#pragma once

#include <vector>

#include "common/resources.hpp"
#include "common/status.hpp"
#include "frameworks/service/app.hpp"
#include "frameworks/service/constraints.hpp"
#include "protocols/messages.hpp"

namespace stoa::service {

struct InstanceMatch {
  Resources resources;          // what the task takes, a part of the offer
  std::vector<int> host_ports;  // one per port definition, in their order
};

// One instance of `app` out of `available` (what remains of an offer on the
// agent `agent`), or why not ("cpus: 1 wanted, 0.5 offered"); `placed` are the
// agents of the app's other active instances, for the constraints.
Result<InstanceMatch> MatchInstance(const AppDefinition& app, const Resources& available,
                                    const AgentFacts& agent, const std::vector<AgentFacts>& placed);

}  // namespace stoa::service

// Whether one instance of an app fits what is left of an offer: the roles the
// app accepts, cpus, mem, disk and gpus as scalars, host ports from the
// offer's port ranges (the app's own numbers with requirePorts, else any free
// ones), and the app's constraints on the offer's agent. When it does not fit,
// every reason in Marathon's names (for /v2/queue). Pure: no state, no I/O.
#pragma once

#include <optional>
#include <string>
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

// Why an offer did not fit, as Marathon names it, in Marathon's funnel order:
// an offer that fails for several reasons counts under the first of them.
// Never produced here: NoCorrespondingReservationFound (no resident apps) and
// AgentMaintenance (offers carry no unavailability).
enum class NoMatchReason {
  kUnfulfilledRole,
  kUnfulfilledConstraint,
  kNoCorrespondingReservationFound,
  kAgentMaintenance,
  kInsufficientCpus,
  kInsufficientMemory,
  kInsufficientDisk,
  kInsufficientGpus,
  kInsufficientPorts,
  kDeclinedScarceResources,
};
constexpr int kNoMatchReasonCount = 10;
// "InsufficientCpus", ...
const char* ToString(NoMatchReason reason);

struct OfferFit {
  std::optional<InstanceMatch> match;  // set when it fits
  std::vector<NoMatchReason> reasons;  // when not: each reason, in funnel order
  std::string message;                 // when not: for a person ("cpus: 1 wanted, 0.5 offered")
};

// One instance of `app` out of `available` (what remains of an offer on the
// agent `agent`); `placed` are the agents of the app's other active instances,
// for the constraints. An app's `acceptedResourceRoles` limit the resources it
// takes (none given: any role); an app labelled GPU_SCHEDULING_BEHAVIOR=
// restricted that wants no gpus refuses agents that have some (Marathon's
// DeclinedScarceResources). Ports are only looked at when all else fits.
OfferFit FitOffer(const AppDefinition& app, const Resources& available, const AgentFacts& agent,
                  const std::vector<AgentFacts>& placed);

// FitOffer as a Result: the match, or the message.
Result<InstanceMatch> MatchInstance(const AppDefinition& app, const Resources& available,
                                    const AgentFacts& agent, const std::vector<AgentFacts>& placed);

}  // namespace stoa::service

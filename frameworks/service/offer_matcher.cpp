#include "frameworks/service/offer_matcher.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "frameworks/service/validation.hpp"

namespace stoa::service {
namespace {

// `amount` of the scalar `name`, taken from the entries of `available` (of
// any role the offer carries), or nullopt when there is not that much.
std::optional<Resources> TakeScalar(const Resources& available, const std::string& name,
                                    double amount) {
  int64_t wanted = std::llround(amount * 1000);
  Resources taken;
  for (const auto& entry : available.entries()) {
    if (wanted <= 0) break;
    if (entry.name != name || entry.type != Resource::Type::kScalar) continue;
    Resource part = entry;
    part.scalar_millis = std::min(entry.scalar_millis, wanted);
    wanted -= part.scalar_millis;
    taken.Add(part);
  }
  if (wanted > 0) return std::nullopt;
  return taken;
}

// One port from the "ports" entries of `available`: `wanted` itself, or with
// 0 the lowest one not in `chosen`. Adds it to `taken`.
std::optional<int> TakePort(const Resources& available, int wanted, std::set<int>& chosen,
                            Resources& taken) {
  for (const auto& entry : available.entries()) {
    if (entry.name != "ports" || entry.type != Resource::Type::kRanges) continue;
    for (const auto& range : entry.ranges) {
      for (uint64_t port = range.begin; port <= range.end && port <= 65535; ++port) {
        int p = static_cast<int>(port);
        if ((wanted != 0 && p != wanted) || chosen.count(p)) continue;
        chosen.insert(p);
        Resource part = entry;
        part.ranges = {Range{port, port}};
        taken.Add(part);
        return p;
      }
    }
  }
  return std::nullopt;
}

// The roles the app's kept `acceptedResourceRoles` names; empty: any role.
std::set<std::string> AcceptedRoles(const AppDefinition& app) {
  std::set<std::string> roles;
  auto it = app.kept.find("acceptedResourceRoles");
  if (it == app.kept.end() || !it->is_array()) return roles;
  for (const auto& role : *it) {
    if (role.is_string()) roles.insert(role.get<std::string>());
  }
  return roles;
}

bool RestrictsGpus(const AppDefinition& app) {
  auto it = app.labels.find("GPU_SCHEDULING_BEHAVIOR");
  return it != app.labels.end() && it->second == "restricted";
}

}  // namespace

const char* ToString(NoMatchReason reason) {
  switch (reason) {
    case NoMatchReason::kUnfulfilledRole:
      return "UnfulfilledRole";
    case NoMatchReason::kUnfulfilledConstraint:
      return "UnfulfilledConstraint";
    case NoMatchReason::kNoCorrespondingReservationFound:
      return "NoCorrespondingReservationFound";
    case NoMatchReason::kAgentMaintenance:
      return "AgentMaintenance";
    case NoMatchReason::kInsufficientCpus:
      return "InsufficientCpus";
    case NoMatchReason::kInsufficientMemory:
      return "InsufficientMemory";
    case NoMatchReason::kInsufficientDisk:
      return "InsufficientDisk";
    case NoMatchReason::kInsufficientGpus:
      return "InsufficientGpus";
    case NoMatchReason::kInsufficientPorts:
      return "InsufficientPorts";
    case NoMatchReason::kDeclinedScarceResources:
      return "DeclinedScarceResources";
  }
  return "Unknown";
}

OfferFit FitOffer(const AppDefinition& app, const Resources& offered, const AgentFacts& agent,
                  const std::vector<AgentFacts>& placed) {
  OfferFit fit;
  auto refuse = [&fit](NoMatchReason reason, std::string message) {
    fit.reasons.push_back(reason);
    if (fit.message.empty()) fit.message = std::move(message);
  };
  // Only the resources of roles the app accepts count.
  std::set<std::string> roles = AcceptedRoles(app);
  Resources available;
  for (const auto& entry : offered.entries()) {
    if (roles.empty() || roles.count(entry.role)) available.Add(entry);
  }
  if (!roles.empty() && available.empty()) {
    std::string names;
    for (const auto& role : roles) names += (names.empty() ? "" : ", ") + role;
    refuse(NoMatchReason::kUnfulfilledRole,
           "no resources of the accepted roles (" + names + ") on " + agent.hostname);
  }
  if (std::string broken = BrokenConstraint(app.constraints, agent, placed); !broken.empty()) {
    refuse(NoMatchReason::kUnfulfilledConstraint,
           "constraint " + broken + " is not met on " + agent.hostname);
  }
  InstanceMatch match;
  struct Want {
    const char* name;
    double amount;
    NoMatchReason reason;
  };
  for (const Want& want :
       {Want{"cpus", app.cpus, NoMatchReason::kInsufficientCpus},
        Want{"mem", app.mem, NoMatchReason::kInsufficientMemory},
        Want{"disk", app.disk, NoMatchReason::kInsufficientDisk},
        Want{"gpus", static_cast<double>(app.gpus), NoMatchReason::kInsufficientGpus}}) {
    if (want.amount <= 0) continue;
    auto taken = TakeScalar(available, want.name, want.amount);
    if (!taken) {
      refuse(want.reason, std::string(want.name) + ": " + NumberText(want.amount) + " wanted, " +
                              NumberText(available.Get(want.name)) + " offered");
      continue;
    }
    match.resources += *taken;
  }
  if (fit.reasons.empty()) {
    std::set<int> chosen;
    for (const auto& definition : app.port_definitions) {
      int wanted = app.require_ports ? definition.port : 0;
      auto port = TakePort(available, wanted, chosen, match.resources);
      if (!port) {
        refuse(NoMatchReason::kInsufficientPorts,
               wanted != 0 ? "ports: port " + std::to_string(wanted) + " not offered"
                           : "ports: " + std::to_string(app.port_definitions.size()) +
                                 " wanted, fewer offered");
        break;
      }
      match.host_ports.push_back(*port);
    }
  }
  if (app.gpus == 0 && RestrictsGpus(app) && offered.Get("gpus") > 0) {
    refuse(NoMatchReason::kDeclinedScarceResources,
           "gpus: the app wants none and keeps off agents that have them (" + agent.hostname +
               " has " + NumberText(offered.Get("gpus")) + ")");
  }
  if (!fit.reasons.empty()) {
    std::sort(fit.reasons.begin(), fit.reasons.end());
    return fit;
  }
  fit.match = std::move(match);
  return fit;
}

Result<InstanceMatch> MatchInstance(const AppDefinition& app, const Resources& available,
                                    const AgentFacts& agent,
                                    const std::vector<AgentFacts>& placed) {
  OfferFit fit = FitOffer(app, available, agent, placed);
  if (!fit.match) return Status::Error(fit.message);
  return std::move(*fit.match);
}

}  // namespace stoa::service

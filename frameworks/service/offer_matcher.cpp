#include "frameworks/service/offer_matcher.hpp"

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

}  // namespace

Result<InstanceMatch> MatchInstance(const AppDefinition& app, const Resources& available,
                                    const AgentFacts& agent,
                                    const std::vector<AgentFacts>& placed) {
  if (std::string broken = BrokenConstraint(app.constraints, agent, placed); !broken.empty()) {
    return Status::Error("constraint " + broken + " is not met on " + agent.hostname);
  }
  InstanceMatch match;
  struct Want {
    const char* name;
    double amount;
  };
  for (const Want& want : {Want{"cpus", app.cpus}, Want{"mem", app.mem}, Want{"disk", app.disk},
                           Want{"gpus", static_cast<double>(app.gpus)}}) {
    if (want.amount <= 0) continue;
    auto taken = TakeScalar(available, want.name, want.amount);
    if (!taken) {
      return Status::Error(std::string(want.name) + ": " + NumberText(want.amount) + " wanted, " +
                           NumberText(available.Get(want.name)) + " offered");
    }
    match.resources += *taken;
  }
  std::set<int> chosen;
  for (const auto& definition : app.port_definitions) {
    int wanted = app.require_ports ? definition.port : 0;
    auto port = TakePort(available, wanted, chosen, match.resources);
    if (!port) {
      return Status::Error(wanted != 0 ? "ports: port " + std::to_string(wanted) + " not offered"
                                       : "ports: " + std::to_string(app.port_definitions.size()) +
                                             " wanted, fewer offered");
    }
    match.host_ports.push_back(*port);
  }
  return match;
}

}  // namespace stoa::service

// Placement constraints as Marathon evaluates them: whether one more instance
// of an app on an agent keeps each of its constraints, given the agents its
// other instances run on. A field is "hostname" (or "@hostname") or an agent
// attribute; an agent without the attribute fails every operator but UNLIKE.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frameworks/service/app.hpp"

namespace stoa::service {

// An agent as constraints see it.
struct AgentFacts {
  std::string hostname;
  std::map<std::string, std::string> attributes;
};

// The value of `field` on `agent`, or nullopt when the agent has none.
std::optional<std::string> FieldValue(const AgentFacts& agent, const std::string& field);

// Whether placing one more instance on `candidate` keeps `constraint`, where
// `placed` holds the agents of the app's other instances (one entry each).
bool Satisfies(const Constraint& constraint, const AgentFacts& candidate,
               const std::vector<AgentFacts>& placed);

// The first constraint of `constraints` that `candidate` breaks, as text for
// a person ("hostname:UNIQUE"), or empty when it keeps them all.
std::string BrokenConstraint(const std::vector<Constraint>& constraints,
                             const AgentFacts& candidate, const std::vector<AgentFacts>& placed);

}  // namespace stoa::service

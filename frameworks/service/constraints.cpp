#include "frameworks/service/constraints.hpp"

#include <algorithm>
#include <climits>
#include <regex>

namespace stoa::service {

std::optional<std::string> FieldValue(const AgentFacts& agent, const std::string& field) {
  if (field == "hostname" || field == "@hostname") return agent.hostname;
  auto it = agent.attributes.find(field);
  if (it == agent.attributes.end()) return std::nullopt;
  return it->second;
}

namespace {

bool FullMatch(const std::string& value, const std::string& pattern) {
  try {
    return std::regex_match(value, std::regex(pattern));
  } catch (const std::regex_error&) {
    return false;  // refused when the app was validated; never placed if it slips through
  }
}

}  // namespace

bool Satisfies(const Constraint& constraint, const AgentFacts& candidate,
               const std::vector<AgentFacts>& placed) {
  std::optional<std::string> value = FieldValue(candidate, constraint.field);
  if (!value) return constraint.op == ConstraintOperator::kUnlike;
  std::map<std::string, int> counts;  // instances per value of the field
  for (const auto& agent : placed) {
    if (auto other = FieldValue(agent, constraint.field)) ++counts[*other];
  }
  int here = counts.count(*value) ? counts[*value] : 0;
  switch (constraint.op) {
    case ConstraintOperator::kUnique:
      return here == 0;
    case ConstraintOperator::kCluster:
      if (constraint.value && !constraint.value->empty()) return *value == *constraint.value;
      return counts.empty() || here > 0;  // all on the value the first one took
    case ConstraintOperator::kGroupBy: {
      // Spread evenly: a value may take one more only while no value has fewer.
      // With a count of groups, values not seen yet count as having none.
      int least = INT_MAX;
      for (const auto& [v, n] : counts) least = std::min(least, n);
      if (counts.empty()) least = 0;
      if (constraint.value && !constraint.value->empty() &&
          counts.size() < static_cast<size_t>(std::stoi(*constraint.value))) {
        least = 0;
      }
      return here <= least;
    }
    case ConstraintOperator::kMaxPer:
      return here < std::stoi(constraint.value.value_or("0"));
    case ConstraintOperator::kLike:
      return FullMatch(*value, constraint.value.value_or(""));
    case ConstraintOperator::kUnlike:
      return !FullMatch(*value, constraint.value.value_or(""));
    case ConstraintOperator::kIs:
      return *value == constraint.value.value_or("");
  }
  return false;
}

std::string BrokenConstraint(const std::vector<Constraint>& constraints,
                             const AgentFacts& candidate, const std::vector<AgentFacts>& placed) {
  for (const auto& constraint : constraints) {
    if (!Satisfies(constraint, candidate, placed)) {
      return constraint.field + ":" + ToString(constraint.op) +
             (constraint.value ? ":" + *constraint.value : "");
    }
  }
  return "";
}

}  // namespace stoa::service

// OfferBook: the outstanding offers, indexed by framework and by agent, and
// what each agent has in outstanding offers. A plain class: no actor, no
// transport, no clock of its own.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "protocols/messages.hpp"

namespace stoa::master {

struct OfferEntry {
  Offer offer;
  double created = 0;  // monotonic
};

class OfferBook {
 public:
  // Books `offer`. REQUIRES: its id is not outstanding.
  void Add(Offer offer, double now);
  const OfferEntry* Find(const OfferId& id) const;
  // Whether `id` is outstanding for `framework_id`.
  bool IsOutstandingFor(const FrameworkId& framework_id, const OfferId& id) const;
  // Removes the offer from every index and returns it; nullopt when unknown.
  std::optional<Offer> Take(const OfferId& id);

  // The outstanding offers of a framework, or on an agent (copies: callers
  // take them while iterating).
  std::vector<OfferId> OfFramework(const FrameworkId& framework_id) const;
  std::vector<OfferId> OnAgent(const AgentId& agent_id) const;
  size_t CountOfFramework(const FrameworkId& framework_id) const;
  // The sum of what is offered on `agent_id`.
  Resources Offered(const AgentId& agent_id) const;
  size_t size() const { return offers_.size(); }

 private:
  std::map<OfferId, OfferEntry> offers_;
  std::map<FrameworkId, std::set<OfferId>> by_framework_;
  std::map<AgentId, std::set<OfferId>> by_agent_;
  std::map<AgentId, Resources> offered_;
};

}  // namespace stoa::master

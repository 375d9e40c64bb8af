#include "master/offer_book.hpp"

namespace stoa::master {

void OfferBook::Add(Offer offer, double now) {
  by_framework_[offer.framework_id].insert(offer.id);
  by_agent_[offer.agent_id].insert(offer.id);
  offered_[offer.agent_id] += offer.resources;
  OfferId id = offer.id;
  offers_[id] = OfferEntry{std::move(offer), now};
}

const OfferEntry* OfferBook::Find(const OfferId& id) const {
  auto it = offers_.find(id);
  return it == offers_.end() ? nullptr : &it->second;
}

bool OfferBook::IsOutstandingFor(const FrameworkId& framework_id, const OfferId& id) const {
  auto it = by_framework_.find(framework_id);
  return it != by_framework_.end() && it->second.count(id) > 0;
}

std::optional<Offer> OfferBook::Take(const OfferId& id) {
  auto it = offers_.find(id);
  if (it == offers_.end()) return std::nullopt;
  Offer offer = std::move(it->second.offer);
  offers_.erase(it);
  if (auto f = by_framework_.find(offer.framework_id); f != by_framework_.end()) {
    f->second.erase(id);
    if (f->second.empty()) by_framework_.erase(f);
  }
  if (auto a = by_agent_.find(offer.agent_id); a != by_agent_.end()) {
    a->second.erase(id);
    if (a->second.empty()) by_agent_.erase(a);
  }
  if (auto o = offered_.find(offer.agent_id); o != offered_.end()) {
    o->second -= offer.resources;
    if (o->second.empty()) offered_.erase(o);
  }
  return offer;
}

std::vector<OfferId> OfferBook::OfFramework(const FrameworkId& framework_id) const {
  auto it = by_framework_.find(framework_id);
  if (it == by_framework_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<OfferId> OfferBook::OnAgent(const AgentId& agent_id) const {
  auto it = by_agent_.find(agent_id);
  if (it == by_agent_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

size_t OfferBook::CountOfFramework(const FrameworkId& framework_id) const {
  auto it = by_framework_.find(framework_id);
  return it == by_framework_.end() ? 0 : it->second.size();
}

Resources OfferBook::Offered(const AgentId& agent_id) const {
  auto it = offered_.find(agent_id);
  return it == offered_.end() ? Resources() : it->second;
}

}  // namespace stoa::master

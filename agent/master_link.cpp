#include "agent/master_link.hpp"

#include <algorithm>

namespace stoa::agent {

void MasterLink::NewCycle(uint64_t wall_ns) { epoch_ = std::max(epoch_ + 1, wall_ns); }

void MasterLink::LeaderChanged(const std::string& address, uint64_t wall_ns) {
  master_address_ = address;
  registered_ = false;
  NewCycle(wall_ns);
}

void MasterLink::Lost(uint64_t wall_ns) {
  registered_ = false;
  NewCycle(wall_ns);
}

void MasterLink::MarkGone() {
  gone_ = true;
  registered_ = false;
}

bool MasterLink::StartRegistering() {
  if (registering_) return false;
  registering_ = true;
  return true;
}

bool MasterLink::RegistrationTick() {
  if (registered_ || gone_) {
    registering_ = false;
    return false;
  }
  return true;
}

MasterLink::Registration MasterLink::OnRegistered(const agentmsg::Registered& registered) {
  // (0: a master that predates epochs.)
  if (registered.epoch != 0 && registered.epoch < epoch_) return Registration::kStale;
  Registration result = registered_         ? Registration::kAgain
                        : agent_id_.empty() ? Registration::kFirst
                                            : Registration::kReregistered;
  agent_id_ = registered.agent_id;
  master_id_ = registered.master_id;
  registered_ = true;
  return result;
}

bool MasterLink::OnPing(const std::string& master_id) const {
  return !registered_ || master_id == master_id_;
}

bool MasterLink::Silent(double now, double timeout) const {
  return registered_ && now - last_heard_ > timeout;
}

}  // namespace stoa::agent

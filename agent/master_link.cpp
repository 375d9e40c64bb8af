#include "agent/master_link.hpp"

namespace stoa::agent {

void MasterLink::LeaderChanged(const std::string& address) {
  master_address_ = address;
  registered_ = false;
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

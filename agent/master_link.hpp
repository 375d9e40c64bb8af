// The agent's link to the leading master: registration (retried until the
// master answers), liveness (no word from it for master_timeout: register
// again; a ping from another master: register with it), and whether the
// master marked this agent gone for good. A plain class: the agent actor sends
// what it says and arms the timers.
#pragma once

#include <string>

#include "protocols/messages.hpp"

namespace stoa::agent {

class MasterLink {
 public:
  enum class Registration { kFirst, kReregistered, kAgain };

  explicit MasterLink(AgentId agent_id) : agent_id_(std::move(agent_id)) {}

  // A new leading master at `address` (empty: none right now): not registered
  // with it yet.
  void LeaderChanged(const std::string& address);
  // Registration is needed again (the master asked, went silent, or changed).
  void Lost() { registered_ = false; }
  // Marked gone: never register again.
  void MarkGone();

  // Arms the registration loop if it is not armed: true when the caller must
  // start it (send the first retry tick).
  bool StartRegistering();
  // The loop's tick: true to send a Register (when there is a master) and
  // tick again; false once registered or gone, which disarms the loop.
  bool RegistrationTick();

  // The master answered: the agent id it gave and how this registration went.
  Registration OnRegistered(const agentmsg::Registered& registered);
  // A ping from `master_id`: false when it is not our master (register again).
  bool OnPing(const std::string& master_id) const;
  // Something arrived from the master at `now` (monotonic seconds).
  void Heard(double now) { last_heard_ = now; }
  // Registered, but nothing heard for longer than `timeout`.
  bool Silent(double now, double timeout) const;

  bool registered() const { return registered_; }
  bool gone() const { return gone_; }
  bool has_master() const { return !master_address_.empty(); }
  const AgentId& agent_id() const { return agent_id_; }
  const std::string& master_id() const { return master_id_; }

 private:
  AgentId agent_id_;
  std::string master_id_;
  std::string master_address_;  // the leading master, empty when none
  bool registered_ = false;
  bool registering_ = false;  // the registration loop is armed
  bool gone_ = false;
  double last_heard_ = 0;
};

}  // namespace stoa::agent

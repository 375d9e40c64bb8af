// The agent's link to the leading master: registration (retried until the
// master answers), liveness (no word from it for master_timeout: register
// again; a ping from another master: register with it), and whether the
// master marked this agent gone for good. Each registration cycle has a fresh
// epoch, strictly increasing across restarts (max(last + 1, wall-clock ns)),
// which its retries reuse, so that the master never takes a retry for news;
// a Registered for an older epoch is ignored. A plain class: the agent actor
// sends what it says, arms the timers and checkpoints the epoch.
#pragma once

#include <string>

#include "protocols/messages.hpp"

namespace stoa::agent {

class MasterLink {
 public:
  enum class Registration { kFirst, kReregistered, kAgain, kStale };

  // `agent_id` and `last_epoch` as checkpointed (empty and 0 when new).
  MasterLink(AgentId agent_id, uint64_t last_epoch)
      : agent_id_(std::move(agent_id)), epoch_(last_epoch) {}

  // A new leading master at `address` (empty: none right now): not registered
  // with it yet; a new cycle begins at `wall_ns` (nanoseconds since the epoch).
  void LeaderChanged(const std::string& address, uint64_t wall_ns);
  // Registration is needed again (the master asked, went silent, or
  // changed): a new cycle.
  void Lost(uint64_t wall_ns);
  // Marked gone: never register again.
  void MarkGone();

  // Arms the registration loop if it is not armed: true when the caller must
  // start it (send the first retry tick).
  bool StartRegistering();
  // The loop's tick: true to send a Register (when there is a master) and
  // tick again; false once registered or gone, which disarms the loop.
  bool RegistrationTick();

  // The master answered: the agent id it gave and how this registration
  // went; kStale (nothing changes) when it answers an older cycle's Register.
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
  // The current cycle's epoch, for Register (0 before the first cycle).
  uint64_t epoch() const { return epoch_; }

 private:
  void NewCycle(uint64_t wall_ns);

  AgentId agent_id_;
  uint64_t epoch_ = 0;
  std::string master_id_;
  std::string master_address_;  // the leading master, empty when none
  bool registered_ = false;
  bool registering_ = false;  // the registration loop is armed
  bool gone_ = false;
  double last_heard_ = 0;
};

}  // namespace stoa::agent

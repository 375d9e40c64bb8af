// The allocator actor: serialises access to the Allocator, runs a round every
// allocation interval and soon after any change, and sends the master what it
// allocated together with how long the round took. Time is the actor
// system's clock, so that CAF's test coordinator drives it.
#pragma once

#include <caf/all.hpp>
#include <functional>
#include <vector>

#include "master/allocator.hpp"

namespace stoa::master {
using AllocatorCommand = std::function<void(Allocator&)>;
using Allocations = std::vector<Allocation>;
}  // namespace stoa::master

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::AllocatorCommand)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::Allocations)

namespace stoa::master {

// master -> allocator: (command_atom, AllocatorCommand).
using command_atom = caf::atom_constant<caf::atom("command")>;
// allocator -> master: (offers_atom, Allocations, double round_seconds).
using offers_atom = caf::atom_constant<caf::atom("offers")>;

struct AllocatorState {
  Allocator allocator;
  bool round_pending = false;
  static inline const char* name = "stoa.allocator";
};

// Seconds on the actor system's clock (steady in production, the test
// coordinator's in tests).
double ClockSeconds(const caf::local_actor* self);

// Changes (freed resources, new agents and frameworks) are batched for
// `batch` seconds and then allocated over the agents that changed only;
// every `interval` seconds a round looks at every agent.
caf::behavior AllocatorActor(caf::stateful_actor<AllocatorState>* self, caf::actor master,
                             double interval, double batch);

}  // namespace stoa::master

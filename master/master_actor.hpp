// The master actor: a thin shell around the books (FrameworkBook, AgentBook,
// OfferBook, the task functions and PlanAccept). It takes messages the
// transport's I/O thread has decoded, calls the books, and emits the effects:
// messages through an Outbox, allocator commands, registrar writes and timers.
// Time is the actor system's clock.
#pragma once

#include <caf/all.hpp>
#include <memory>
#include <string>

#include "common/transport.hpp"
#include "master/master.hpp"
#include "master/outbox.hpp"
#include "master/registrar.hpp"
#include "master/views.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {
using SnapshotPtr = std::shared_ptr<const MasterSnapshot>;
}  // namespace stoa::master

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::SnapshotPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::Registry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::Message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::FrameTicket)

namespace stoa::master {

// transport -> master: (recv_atom, peer, Message, FrameTicket), one decoded
// frame; the ticket is released when the actor is done with the message.
using recv_atom = caf::atom_constant<caf::atom("recv")>;
// HTTP -> master: (state_atom) -> SnapshotPtr with tasks; (metrics_atom) ->
// one that may lack them. Asks that arrive together share one snapshot.
using state_atom = caf::atom_constant<caf::atom("state")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
// operator -> master: (gone_atom, agent_id) -> "" once durable, else the reason.
using gone_atom = caf::atom_constant<caf::atom("gone")>;
// HTTP -> master: (health_atom) -> true while the actor serves.
using health_atom = caf::atom_constant<caf::atom("health")>;

// Spawns the master actor (and its allocator actor, linked to it). `outbox`
// must outlive the actor; `registrar` runs the registry writes; `registry` is
// what it recovered.
caf::actor SpawnMasterActor(caf::actor_system& system, MasterOptions options, Outbox* outbox,
                            std::string address, Registry registry, caf::actor registrar);

}  // namespace stoa::master

// The registrar actor: registry writes block on disk or ZooKeeper, so they
// run here, one at a time, in the order the master asked for them. The reply
// to each command is empty on success, else the error. Production spawns it
// detached; tests spawn it on the test coordinator.
#pragma once

#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <string>

#include "master/registrar.hpp"

namespace stoa::master {
using RegistrarCommand = std::function<Status(Registrar&)>;
}  // namespace stoa::master

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::RegistrarCommand)

namespace stoa::master {

// master -> registrar: (registrar_atom, RegistrarCommand) -> std::string error.
using registrar_atom = caf::atom_constant<caf::atom("registrar")>;

caf::behavior RegistrarActor(caf::event_based_actor* self, std::shared_ptr<Registrar> registrar);

}  // namespace stoa::master

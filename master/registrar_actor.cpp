#include "master/registrar_actor.hpp"

namespace stoa::master {

caf::behavior RegistrarActor(caf::event_based_actor*, std::shared_ptr<Registrar> registrar) {
  return {
      [registrar](registrar_atom, const RegistrarCommand& command) -> std::string {
        Status status = command(*registrar);
        return status.ok() ? std::string() : status.message();
      },
  };
}

}  // namespace stoa::master

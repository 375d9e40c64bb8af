#include "master/allocator_actor.hpp"

#include "common/duration.hpp"

namespace stoa::master {
namespace {
using round_atom = caf::atom_constant<caf::atom("round")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
}  // namespace

double ClockSeconds(const caf::local_actor* self) {
  return std::chrono::duration<double>(self->clock().now().time_since_epoch()).count();
}

caf::behavior AllocatorActor(caf::stateful_actor<AllocatorState>* self, caf::actor master,
                             double interval, double batch) {
  auto round = [self, master](bool all) {
    double start = ClockSeconds(self);
    double wall_start = MonotonicSeconds();
    Allocator& allocator = self->state.allocator;
    Allocations allocations = all ? allocator.Allocate(start) : allocator.AllocateChanged(start);
    double seconds = MonotonicSeconds() - wall_start;
    if (all || !allocations.empty()) {
      self->send(master, offers_atom::value, std::move(allocations), seconds);
    }
  };
  self->delayed_send(self, TimerSpan(interval), tick_atom::value);
  return {
      [self, batch](command_atom, const AllocatorCommand& command) {
        command(self->state.allocator);
        if (!self->state.round_pending && self->state.allocator.HasChanges()) {
          self->state.round_pending = true;
          self->delayed_send(self, TimerSpan(batch), round_atom::value);
        }
      },
      [self, round](round_atom) {
        self->state.round_pending = false;
        round(false);
      },
      [self, round, interval](tick_atom) {
        round(true);
        self->delayed_send(self, TimerSpan(interval), tick_atom::value);
      },
  };
}

}  // namespace stoa::master

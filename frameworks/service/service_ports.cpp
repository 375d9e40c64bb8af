#include "frameworks/service/service_ports.hpp"

#include <set>
#include <string>

namespace stoa::service {

Status AssignServicePorts(AppDefinition& app, const AppDefinition* current,
                          const std::map<PathId, AppDefinition>& apps, int min, int max) {
  std::set<int> used;
  for (const auto& [id, other] : apps) {
    if (id == app.id) continue;
    for (const auto& port : other.port_definitions) used.insert(port.port);
  }
  for (const auto& port : app.port_definitions) used.insert(port.port);
  if (app.require_ports) return Status::Ok();
  int next = min;
  for (size_t i = 0; i < app.port_definitions.size(); ++i) {
    PortDefinition& port = app.port_definitions[i];
    if (port.port != 0) continue;
    // An update keeps the service port the app had at this place, if it is free.
    if (current != nullptr && i < current->port_definitions.size()) {
      int previous = current->port_definitions[i].port;
      if (previous != 0 && !used.count(previous)) {
        port.port = previous;
        used.insert(previous);
        continue;
      }
    }
    while (next < max && used.count(next)) ++next;
    if (next >= max) {
      return Status::Error("no service port is free in [" + std::to_string(min) + ", " +
                           std::to_string(max) + ")");
    }
    port.port = next;
    used.insert(next);
  }
  return Status::Ok();
}

}  // namespace stoa::service

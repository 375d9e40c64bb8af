// GET /v2/events: Marathon's event stream as Server-Sent Events, fed by the
// event bus. Each open stream holds one of the HTTP server's threads, so at
// most kMaxHttpStreams are open at once (common/http_server.hpp).
#pragma once

#include <functional>

#include "common/http_server.hpp"
#include "frameworks/service/event_bus.hpp"

namespace stoa::service {

struct EventStreamOptions {
  // A comment line after this long without an event: keeps proxies from
  // closing the connection, and notices a client that has gone.
  double keep_alive_seconds = 10;
  std::function<double()> clock;  // seconds since the epoch, for the attach/detach events
};

// Registers GET /v2/events. REQUIRES: `bus` outlives the server's Stop.
void AddEventRoutes(HttpServer& server, EventBus* bus, EventStreamOptions options);

}  // namespace stoa::service

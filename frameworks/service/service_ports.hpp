// Service ports, as Marathon hands them out: a port definition of 0 gets a
// free port of [min, max) (an update keeps the one it had at that place, if
// still free); other numbers are kept. With requirePorts the numbers are host
// ports and 0 stays "any host port".
#pragma once

#include <map>

#include "common/status.hpp"
#include "frameworks/service/app.hpp"

namespace stoa::service {

// Fills in the service ports of `app`, given what the app was (`current`, or
// null) and the other apps there are (`apps`; an entry for app.id is ignored).
Status AssignServicePorts(AppDefinition& app, const AppDefinition* current,
                          const std::map<PathId, AppDefinition>& apps, int min, int max);

}  // namespace stoa::service

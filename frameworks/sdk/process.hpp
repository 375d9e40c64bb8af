// What a framework's scheduler process needs of its host: who it runs as,
// and the wall clock its core is given.
#pragma once

#include <string>

namespace stoa::sdk {

// The name of the user this process runs as ("root" when it has none).
std::string CurrentUser();
// Seconds since the epoch.
double WallNow();

}  // namespace stoa::sdk

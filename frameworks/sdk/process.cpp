#include "frameworks/sdk/process.hpp"

#include <pwd.h>
#include <unistd.h>

#include <chrono>

namespace stoa::sdk {

std::string CurrentUser() {
  struct passwd* entry = getpwuid(geteuid());
  return entry != nullptr ? entry->pw_name : "root";
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace stoa::sdk

#include "common/duration.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace stoa {

Result<double> ParseDuration(std::string_view text) {
  static const std::pair<const char*, double> kUnits[] = {
      {"ns", 1e-9},      {"us", 1e-6},     {"ms", 1e-3},    {"secs", 1},    {"sec", 1},
      {"s", 1},          {"mins", 60},     {"min", 60},     {"m", 60},      {"hrs", 3600},
      {"hr", 3600},      {"h", 3600},      {"days", 86400}, {"day", 86400}, {"d", 86400},
      {"weeks", 604800}, {"week", 604800}, {"w", 604800},
  };
  std::string s(text);
  size_t digits = 0;
  while (digits < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.')) {
    ++digits;
  }
  std::string number = s.substr(0, digits), unit = s.substr(digits);
  char* end = nullptr;
  double value = number.empty() ? NAN : std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(value)) {
    return Status::Error("'" + s +
                         "' is not a duration: write a number and a unit, e.g. "
                         "500ms, 10secs, 2mins, 1hrs, 3days");
  }
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return value * factor;
  }
  return Status::Error("'" + s + "' has unknown unit '" + unit +
                       "': use ns, us, ms, secs, mins, hrs, days or weeks");
}

std::string FormatDuration(double seconds) {
  char buffer[64];
  if (seconds < 1 && seconds > 0) {
    std::snprintf(buffer, sizeof(buffer), "%gms", seconds * 1000);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%gsecs", seconds);
  }
  return buffer;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::chrono::nanoseconds TimerSpan(double seconds) {
  if (!(seconds > 0)) return std::chrono::nanoseconds(0);  // also NaN
  if (seconds > kMaxTimerSeconds) seconds = kMaxTimerSeconds;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(seconds));
}

}  // namespace stoa

// Durations as written in every flag: "500ms", "10secs", "2mins", "1hrs",
// "3days", "1weeks" (also "ns", "us", "s", "m", "h", "d"; fractions allowed).
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"

namespace stoa {

// Seconds, or an error naming the text and the accepted units.
Result<double> ParseDuration(std::string_view text);
// The shortest faithful text form, e.g. 0.5 -> "500ms", 15 -> "15secs".
std::string FormatDuration(double seconds);

// Seconds since the epoch (wall clock), for timestamps in statuses.
double WallSeconds();
// Seconds on a monotonic clock, for timers and the allocator.
double MonotonicSeconds();

}  // namespace stoa

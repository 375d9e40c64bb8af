// Durations as written in every flag: "500ms", "10secs", "2mins", "1hrs",
// "3days", "1weeks" (also "ns", "us", "s", "m", "h", "d"; fractions allowed).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace stoa {

// Seconds, or an error naming the text and the accepted units.
Result<double> ParseDuration(std::string_view text);
// The shortest faithful text form, e.g. 0.5 -> "500ms", 15 -> "15secs".
std::string FormatDuration(double seconds);

// A duration from the wire or a flag as a timer span: NaN and negatives are 0,
// and anything longer than 100 years is 100 years, so that no conversion to
// integer nanoseconds overflows into a timer that fires at once.
std::chrono::nanoseconds TimerSpan(double seconds);
inline constexpr double kMaxTimerSeconds = 100.0 * 365 * 24 * 3600;

// Seconds since the epoch (wall clock), for timestamps in statuses.
double WallSeconds();
// Seconds on a monotonic clock, for timers and the allocator.
double MonotonicSeconds();

}  // namespace stoa

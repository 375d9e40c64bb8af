// Timestamps as Marathon writes them: ISO 8601 in UTC with milliseconds and a
// 'Z' ("2015-08-26T20:23:39.463Z"). App versions are such timestamps.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stoa::service {

// `seconds` since the epoch, truncated to the millisecond.
std::string FormatTimestamp(double seconds);
// Seconds since the epoch of an ISO 8601 timestamp in UTC ('Z' or "+00:00",
// with or without fractions of a second); nullopt when it is not one.
std::optional<double> ParseTimestamp(std::string_view text);

// Hands out versions that strictly increase (by at least a millisecond), so
// that two changes within one millisecond still get two versions.
class VersionClock {
 public:
  // A version at `now` (seconds since the epoch), later than any handed out before.
  std::string Next(double now);
  // Makes later versions come after `version` (for versions read back from storage).
  void Observe(const std::string& version);

 private:
  long long last_millis_ = 0;
};

}  // namespace stoa::service

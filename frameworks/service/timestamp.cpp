#include "frameworks/service/timestamp.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace stoa::service {
namespace {

std::string FormatMillis(long long millis) {
  time_t whole = static_cast<time_t>(millis / 1000);
  struct tm utc {};
  gmtime_r(&whole, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis % 1000);
  return buffer;
}

bool Digits(std::string_view text, size_t at, size_t count, int* value) {
  if (at + count > text.size()) return false;
  *value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    *value = *value * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string FormatTimestamp(double seconds) {
  return FormatMillis(static_cast<long long>(std::floor(seconds * 1000)));
}

std::optional<double> ParseTimestamp(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!Digits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      text[10] != 'T' || !Digits(text, 11, 2, &hour) || text[13] != ':' ||
      !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t at = 19;
  double fraction = 0;
  if (at < text.size() && text[at] == '.') {
    double scale = 0.1;
    ++at;
    size_t start = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += (text[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == start) return std::nullopt;
  }
  std::string_view zone = text.substr(at);
  if (zone != "Z" && zone != "+00:00" && zone != "+0000") return std::nullopt;
  struct tm utc {};
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return static_cast<double>(timegm(&utc)) + fraction;
}

std::string VersionClock::Next(double now) {
  long long millis = static_cast<long long>(std::floor(now * 1000));
  if (millis <= last_millis_) millis = last_millis_ + 1;
  last_millis_ = millis;
  return FormatMillis(millis);
}

void VersionClock::Observe(const std::string& version) {
  if (auto seconds = ParseTimestamp(version)) {
    long long millis = static_cast<long long>(std::llround(*seconds * 1000));
    if (millis > last_millis_) last_millis_ = millis;
  }
}

}  // namespace stoa::service

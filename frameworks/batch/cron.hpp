// Cron schedules as Metronome accepts them, and the IANA time zones they run in:
// parsing a job schedule's `cron` and `timezone`, and finding its next tick.
//
// The syntax is Metronome's (a cron-utils definition in its
// jobs/src/main/scala/dcos/metronome/model/CronSpec.scala): five fields
//   minute (0-59) hour (0-23) day-of-month (1-31) month (1-12, JAN-DEC)
//   day-of-week (0-7, SUN-SAT; 0 and 7 are Sunday)
// and an optional sixth, the year (1970-2099). Each field is `*` or a list of
// items: a value, a range `a-b`, or a step `*/n`, `a-b/n`, `a/n` (from a to the
// field's end). Names are case-insensitive. Day-of-week ranges may wrap
// (FRI-MON). Special items:
//   day-of-month: `L` (last day), `L-n` (n days before it), `nW` (the weekday
//   nearest to day n, never leaving the month; no tick in a month without a
//   day n), `LW` (the last weekday); `?` (as `*`).
//   day-of-week: `nL` (the last weekday n of the month, `5L` the last Friday),
//   `n#k` (the k-th weekday n, `MON#2`); `?` (as `*`).
// A day must match both day fields (Metronome's matchDayOfWeekAndDayOfMonth:
// `0 9 1-7 * MON` is the first Monday of the month, not classic cron's OR).
// As Metronome does, a day-of-month that exists in none of the months named
// (`0 0 30 2 *`) is an error. Beyond Metronome's definition: `?` and `LW`.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace stoa::batch {

class CronExpression {
 public:
  // The expression, or what is wrong with it, e.g.
  // "cron '61 * * * *': minute 61 is out of range 0-59".
  static Result<CronExpression> Parse(const std::string& text);

  // The expression as given.
  const std::string& text() const { return text_; }

  bool MatchesMinute(int minute) const;
  bool MatchesHour(int hour) const;
  // Whether the date (month 1-12, day 1-31, a real date) matches the year,
  // month and both day fields.
  bool MatchesDate(int year, unsigned month, unsigned day) const;
  // Vixie cron's "wildcard" job: the minute or the hour field starts with `*`.
  // It follows the wall clock across daylight-saving changes (see NextTick).
  bool wildcard() const { return wildcard_; }

 private:
  friend class CronParser;
  CronExpression() = default;
  bool MatchesDayOfMonth(unsigned day, unsigned last_day, unsigned weekday) const;
  bool MatchesDayOfWeek(unsigned day, unsigned last_day, unsigned weekday) const;

  std::string text_;
  bool wildcard_ = false;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;                          // day-of-month values 1-31
  std::vector<int> days_before_last_;             // L (0), L-n (n)
  std::vector<int> nearest_weekday_to_;           // nW (n)
  bool last_weekday_of_month_ = false;            // LW
  std::bitset<13> months_;                        // 1-12
  std::bitset<7> weekdays_;                       // 0 (Sunday) - 6
  std::vector<int> last_weekday_;                 // nL (n, 0-6)
  std::vector<std::pair<int, int>> nth_weekday_;  // n#k (n 0-6, k 1-5)
  std::bitset<130> years_;                        // 1970-2099
};

// An IANA time zone from the OS database (/usr/share/zoneinfo).
class TimeZone {
 public:
  // The zone, or "unknown time zone 'Mars/Olympus'".
  static Result<TimeZone> Find(const std::string& iana_name);

  // The name as given ("Europe/Berlin").
  const std::string& name() const { return name_; }

 private:
  friend std::optional<int64_t> NextTick(const CronExpression&, const TimeZone&, int64_t);
  TimeZone(std::string name, const void* zone) : name_(std::move(name)), zone_(zone) {}

  std::string name_;
  const void* zone_;  // a date::time_zone, owned by the process-wide database
};

// The first tick of `expression` in `zone` strictly after `after` (Unix
// seconds), in Unix seconds; nullopt if there is none within ten years.
// Daylight-saving changes follow Vixie cron:
// - clocks jump forward: a fixed-time expression (see wildcard()) whose local
//   time falls in the gap fires once, at the first instant after the gap (all
//   its times in the gap together); a wildcard expression skips the times
//   that do not exist (so `5 * * * *` fires 23 times that day, once an hour).
// - clocks go back: a fixed-time expression fires once in the repeated hour,
//   at the first occurrence; a wildcard expression fires in both occurrences
//   (`*/15 * * * *` keeps firing every 15 real minutes; `0 * * * *` fires 25
//   times that day).
// REQUIRES: `after` within the years 1900-9000 (else nullopt).
std::optional<int64_t> NextTick(const CronExpression& expression, const TimeZone& zone,
                                int64_t after);

// The ticks in (after, up_to], in order, at most `limit` of them.
std::vector<int64_t> TicksBetween(const CronExpression& expression, const TimeZone& zone,
                                  int64_t after, int64_t up_to, std::size_t limit = 1000);

}  // namespace stoa::batch

// Time zones and the next tick of a cron expression: local days and times
// resolved to instants through the OS time zone database, with Vixie cron's
// rules for daylight-saving changes (cron.hpp).
#include <date/tz.h>

#include <exception>

#include "frameworks/batch/cron.hpp"

namespace stoa::batch {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Instant = date::sys_seconds;

// The one offset of the local times [from, to] if each of them occurs exactly once.
// (Assumes at most one change of offset between them.)
std::optional<seconds> SingleOffset(const date::time_zone& zone, date::local_seconds from,
                                    date::local_seconds to) {
  const date::local_info first = zone.get_info(from), last = zone.get_info(to);
  if (first.result != date::local_info::unique || last.result != date::local_info::unique ||
      first.first.begin != last.first.begin) {
    return std::nullopt;
  }
  return first.first.offset;
}

// The earliest tick of `expression` on local day `day` strictly after `after`.
std::optional<Instant> FirstTickOnDay(const CronExpression& expression, const date::time_zone& zone,
                                      date::local_days day, Instant after) {
  const date::local_seconds midnight{day};
  // Most days have one offset throughout: local order is then real order. (A
  // change at midnight makes the evening before repeat.)
  const std::optional<seconds> day_offset =
      SingleOffset(zone, midnight, midnight + hours{23} + minutes{59});
  std::optional<Instant> best;
  const auto consider = [&](Instant tick) {
    if (tick > after && (!best || tick < *best)) best = tick;
  };
  for (int hour = 0; hour < 24; ++hour) {
    if (!expression.MatchesHour(hour)) continue;
    const date::local_seconds hour_start = midnight + hours{hour};
    const std::optional<seconds> offset =
        day_offset ? day_offset : SingleOffset(zone, hour_start, hour_start + minutes{59});
    for (int minute = 0; minute < 60; ++minute) {
      if (!expression.MatchesMinute(minute)) continue;
      const date::local_seconds local = hour_start + minutes{minute};
      if (offset) {  // the hour's first tick after `after` is its earliest
        const Instant tick{local.time_since_epoch() - *offset};
        if (tick <= after) continue;
        if (day_offset) return tick;
        consider(tick);
        break;
      }
      const date::local_info info = zone.get_info(local);
      const Instant first{local.time_since_epoch() - info.first.offset};
      switch (info.result) {
        case date::local_info::unique:
          consider(first);
          break;
        case date::local_info::nonexistent:  // in the gap: fixed times fire as it ends
          if (!expression.wildcard()) consider(info.second.begin);
          break;
        case date::local_info::ambiguous:  // repeated: wildcards fire twice
          consider(first);
          if (expression.wildcard()) {
            consider(Instant{local.time_since_epoch() - info.second.offset});
          }
          break;
      }
    }
  }
  return best;
}

bool MatchesDay(const CronExpression& expression, date::local_days day) {
  const date::year_month_day date{day};
  return expression.MatchesDate(static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                                static_cast<unsigned>(date.day()));
}

}  // namespace

Result<TimeZone> TimeZone::Find(const std::string& iana_name) {
  try {
    return TimeZone(iana_name, date::locate_zone(iana_name));
  } catch (const std::exception&) {
    return Status::Error("unknown time zone '" + iana_name + "'");
  }
}

std::optional<int64_t> NextTick(const CronExpression& expression, const TimeZone& zone,
                                int64_t after) {
  constexpr int64_t kYear1900 = -2208988800, kYear9000 = 221845392000;
  if (after < kYear1900 || after > kYear9000) return std::nullopt;
  const auto& tz = *static_cast<const date::time_zone*>(zone.zone_);
  const Instant after_instant{seconds{after}};
  // From the day before: a tick late on a day when clocks go back may come after
  // `after` even though its local date is earlier.
  const date::local_days first_day =
      date::floor<date::days>(tz.to_local(after_instant)) - date::days{1};
  const date::local_days last_day = first_day + date::days{10 * 366 + 1};
  for (date::local_days day = first_day; day <= last_day; day += date::days{1}) {
    if (!MatchesDay(expression, day)) continue;
    std::optional<Instant> tick = FirstTickOnDay(expression, tz, day, after_instant);
    if (!tick) continue;
    // Around a change of offset the next day's first tick may come earlier.
    const date::local_days next_day = day + date::days{1};
    if (MatchesDay(expression, next_day)) {
      if (auto next = FirstTickOnDay(expression, tz, next_day, after_instant);
          next && *next < *tick) {
        tick = next;
      }
    }
    return tick->time_since_epoch().count();
  }
  return std::nullopt;
}

std::vector<int64_t> TicksBetween(const CronExpression& expression, const TimeZone& zone,
                                  int64_t after, int64_t up_to, std::size_t limit) {
  std::vector<int64_t> ticks;
  for (auto tick = NextTick(expression, zone, after);
       tick && *tick <= up_to && ticks.size() < limit; tick = NextTick(expression, zone, *tick)) {
    ticks.push_back(*tick);
  }
  return ticks;
}

}  // namespace stoa::batch

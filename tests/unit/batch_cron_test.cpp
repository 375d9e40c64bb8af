// Cron expressions (Metronome's syntax) and their ticks in IANA time zones,
// daylight-saving changes included. Expected instants are computed here from
// the UTC offsets each zone is known to have on those dates.
#include <gtest/gtest.h>

#include <ctime>

#include "frameworks/batch/cron.hpp"

namespace stoa::batch {
namespace {

constexpr int64_t kHour = 3600;

int64_t Utc(int year, int month, int day, int hour = 0, int minute = 0) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return timegm(&tm);
}

CronExpression Cron(const std::string& text) {
  auto parsed = CronExpression::Parse(text);
  EXPECT_TRUE(parsed.ok()) << parsed.error();
  return std::move(parsed).value();
}

TimeZone Zone(const std::string& name) {
  auto zone = TimeZone::Find(name);
  EXPECT_TRUE(zone.ok()) << zone.error();
  return std::move(zone).value();
}

std::optional<int64_t> Next(const std::string& cron, const std::string& zone, int64_t after) {
  return NextTick(Cron(cron), Zone(zone), after);
}

std::vector<int64_t> Every(int64_t first, int64_t step, int count) {
  std::vector<int64_t> ticks;
  for (int i = 0; i < count; ++i) ticks.push_back(first + i * step);
  return ticks;
}

// Ticks of one local day, given the instants of its midnight and the next one.
std::vector<int64_t> Day(const std::string& cron, const std::string& zone, int64_t midnight,
                         int64_t next_midnight) {
  return TicksBetween(Cron(cron), Zone(zone), midnight - 1, next_midnight - 1);
}

std::vector<int> MatchingMinutes(const CronExpression& cron) {
  std::vector<int> minutes;
  for (int m = 0; m < 60; ++m) {
    if (cron.MatchesMinute(m)) minutes.push_back(m);
  }
  return minutes;
}

TEST(CronParseTest, ListsRangesAndSteps) {
  EXPECT_EQ(MatchingMinutes(Cron("*/15 * * * *")), (std::vector<int>{0, 15, 30, 45}));
  EXPECT_EQ(MatchingMinutes(Cron("10-40/10 * * * *")), (std::vector<int>{10, 20, 30, 40}));
  EXPECT_EQ(MatchingMinutes(Cron("5/15 * * * *")), (std::vector<int>{5, 20, 35, 50}));
  EXPECT_EQ(MatchingMinutes(Cron("1,2,5-7 * * * *")), (std::vector<int>{1, 2, 5, 6, 7}));
  EXPECT_EQ(MatchingMinutes(Cron("*/1 * * * *")).size(), 60u);
  const CronExpression hours = Cron("0 9-17/4,23 * * *");
  for (int h = 0; h < 24; ++h) {
    EXPECT_EQ(hours.MatchesHour(h), h == 9 || h == 13 || h == 17 || h == 23) << h;
  }
}

TEST(CronParseTest, MonthAndDayNamesAnyCase) {
  const CronExpression cron = Cron("0 0 * jan-Mar mon-FRI");
  EXPECT_TRUE(cron.MatchesDate(2026, 1, 5));   // Monday
  EXPECT_TRUE(cron.MatchesDate(2026, 3, 27));  // Friday
  EXPECT_FALSE(cron.MatchesDate(2026, 1, 3));  // Saturday
  EXPECT_FALSE(cron.MatchesDate(2026, 4, 6));  // Monday in April
  EXPECT_TRUE(Cron("0 0 * DEC,feb *").MatchesDate(2026, 2, 10));
}

TEST(CronParseTest, SundayIsZeroAndSevenAndRangesWrap) {
  // 2026-03-01 is a Sunday; 2026-03-02 a Monday, 03-03 a Tuesday, 03-06 a Friday.
  EXPECT_TRUE(Cron("0 0 * * 0").MatchesDate(2026, 3, 1));
  EXPECT_TRUE(Cron("0 0 * * 7").MatchesDate(2026, 3, 1));
  EXPECT_FALSE(Cron("0 0 * * 7").MatchesDate(2026, 3, 2));
  for (int day = 1; day <= 7; ++day) EXPECT_TRUE(Cron("0 0 * * 1-7").MatchesDate(2026, 3, day));
  const CronExpression wrap = Cron("0 0 * * FRI-MON");
  EXPECT_TRUE(wrap.MatchesDate(2026, 3, 6));
  EXPECT_TRUE(wrap.MatchesDate(2026, 3, 1));
  EXPECT_TRUE(wrap.MatchesDate(2026, 3, 2));
  EXPECT_FALSE(wrap.MatchesDate(2026, 3, 3));
  EXPECT_TRUE(Cron("0 0 * * SAT-SUN").MatchesDate(2026, 3, 1));
  EXPECT_FALSE(Cron("0 0 * * SAT-SUN").MatchesDate(2026, 3, 2));
}

TEST(CronParseTest, QuestionMarkIsAnyDay) {
  EXPECT_TRUE(Cron("0 0 ? * MON").MatchesDate(2026, 3, 2));
  EXPECT_TRUE(Cron("0 0 15 * ?").MatchesDate(2026, 3, 15));
  EXPECT_FALSE(Cron("0 0 15 * ?").MatchesDate(2026, 3, 16));
}

TEST(CronParseTest, BothDayFieldsMustMatch) {
  // Metronome's rule (matchDayOfWeekAndDayOfMonth): the first Monday, not "the 1st-7th or Mondays".
  const CronExpression cron = Cron("0 9 1-7 * 1");
  EXPECT_TRUE(cron.MatchesDate(2017, 10, 2));
  EXPECT_FALSE(cron.MatchesDate(2017, 10, 9));
  EXPECT_FALSE(cron.MatchesDate(2017, 10, 3));
}

TEST(CronParseTest, OptionalYearField) {
  const CronExpression cron = Cron("0 0 1 1 * 2030,2032-2033");
  EXPECT_TRUE(cron.MatchesDate(2030, 1, 1));
  EXPECT_FALSE(cron.MatchesDate(2031, 1, 1));
  EXPECT_TRUE(cron.MatchesDate(2033, 1, 1));
}

TEST(CronParseTest, WildcardIsVixieCronsClassification) {
  EXPECT_TRUE(Cron("*/15 * * * *").wildcard());
  EXPECT_TRUE(Cron("30 * * * *").wildcard());
  EXPECT_TRUE(Cron("*/15 1 * * *").wildcard());
  EXPECT_FALSE(Cron("30 2 * * *").wildcard());
  EXPECT_FALSE(Cron("0,30 1-3 * * *").wildcard());
}

TEST(CronParseTest, KeepsTheTextAsGiven) {
  EXPECT_EQ(Cron("  */5\t* * * mon ").text(), "  */5\t* * * mon ");
}

TEST(CronParseTest, AcceptsWhatMetronomesTestsAccept) {
  for (const char* text : {"* * * * *", "*/1 * * * *", "0 0 * * 5", "0 9 1-7 * 1-5",
                           "0 9 22-28 * 6-7", "* * */1 * 3", "0 0 20-31 2 *", "0 0 29 2 *"}) {
    EXPECT_TRUE(CronExpression::Parse(text).ok()) << text;
  }
}

TEST(CronParseTest, ErrorsSayWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"61 * * * *", "minute 61 is out of range 0-59"},
      {"0 24 * * *", "hour 24 is out of range 0-23"},
      {"0 0 0 * *", "day-of-month 0 is out of range 1-31"},
      {"0 0 32W * *", "day-of-month 32 is out of range 1-31"},
      {"0 0 * 13 *", "month 13 is out of range 1-12"},
      {"0 0 * * 8", "day-of-week 8 is out of range 0-7"},
      {"0 0 1 1 * 1969", "year 1969 is out of range 1970-2099"},
      {"x * * * *", "minute 'X' is not a number"},
      {"0 0 * foo *", "month 'FOO' is neither 1-12 nor a name JAN-DEC"},
      {"0 0 * * funday", "day-of-week 'FUNDAY' is neither 0-7 nor a name SUN-SAT"},
      {"", "the expression is empty"},
      {"* * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week) and an optional year, "
       "found 4"},
      {"0 0 * * * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week) and an optional year, "
       "found 7"},
      {"*/0 * * * *", "minute step 0 is out of range 1-59"},
      {"*/60 * * * *", "minute step 60 is out of range 1-59"},
      {"*/x * * * *", "minute step 'X' is not a number"},
      {"0 0 1-5/2/3 * *", "day-of-month '1-5/2/3' has two steps"},
      {"0 0 5- * *", "day-of-month range '5-' needs one value on each side"},
      {"0 22-2 * * *", "hour range 22-2 goes backwards (write 22-23,0-2)"},
      {"1, * * * *", "minute field has an empty item (a ',' too many?)"},
      {"? * * * *", "minute '?': '?' stands alone, and only in day-of-month or day-of-week"},
      {"0 0 1,? * *",
       "day-of-month '?': '?' stands alone, and only in day-of-month or day-of-week"},
      {"L * * * *", "minute 'L': 'L' is only for day-of-month (L, L-3) and day-of-week (5L)"},
      {"0 0 * * 5W", "day-of-week '5W': 'W' is only for day-of-month (15W, LW)"},
      {"0 0 1#2 * *", "day-of-month '1#2': '#' is only for day-of-week (MON#2: the second Monday)"},
      {"0 0 * * MON#6",
       "day-of-week 'MON#6': the week after '#' must be 1-5 (MON#2: the second Monday)"},
      {"0 0 * * L",
       "day-of-week 'L' alone is ambiguous: write SAT for Saturdays, or nL for the last weekday "
       "n of the month (5L: the last Friday)"},
      {"0 0 L-31 * *", "day-of-month 'L-31': L-n counts 1-30 days back from the last day"},
      {"0 0 1-L * *",
       "day-of-month 'L': write L (last day), L-3, 15W (the weekday nearest the 15th) or LW, "
       "each as an item of its own"},
      {"0 0 30 2 *",
       "day-of-month 30 never occurs in month 2 (February has at most 29 days; April, June, "
       "September and November 30)"},
      {"0 0 31 apr,JUN *",
       "day-of-month 31 never occurs in month APR,JUN (February has at most 29 days; April, "
       "June, September and November 30)"},
  };
  for (const auto& [text, message] : cases) {
    auto parsed = CronExpression::Parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error(), "cron '" + text + "': " + message);
  }
}

TEST(TimeZoneTest, FindsIanaNamesAndRejectsOthers) {
  EXPECT_EQ(Zone("Europe/Berlin").name(), "Europe/Berlin");
  EXPECT_EQ(Zone("UTC").name(), "UTC");
  for (const char* name : {"Mars/Olympus", "", "../../etc/passwd", "europe/berlin"}) {
    auto zone = TimeZone::Find(name);
    ASSERT_FALSE(zone.ok()) << name;
    EXPECT_EQ(zone.error(), std::string("unknown time zone '") + name + "'");
  }
}

TEST(NextTickTest, OrdinaryTicksInUtc) {
  EXPECT_EQ(Next("*/5 * * * *", "UTC", Utc(2026, 5, 4, 10, 2) + 30), Utc(2026, 5, 4, 10, 5));
  // Strictly after: a tick at `after` itself is not the next one.
  EXPECT_EQ(Next("*/5 * * * *", "UTC", Utc(2026, 5, 4, 10, 5)), Utc(2026, 5, 4, 10, 10));
  EXPECT_EQ(Next("0 0 * * *", "UTC", Utc(2026, 12, 31, 0, 0)), Utc(2027, 1, 1));
  EXPECT_EQ(Next("15 10 * * *", "UTC", Utc(2026, 5, 4, 10, 15)), Utc(2026, 5, 5, 10, 15));
}

TEST(NextTickTest, MetronomesOwnExpectations) {
  const int64_t from = Utc(2017, 10, 2, 10, 0);
  EXPECT_EQ(Next("0 9 1-7 * 1", "UTC", from), Utc(2017, 11, 6, 9, 0));
  EXPECT_EQ(Next("0 9 1-7 * 1-5", "UTC", from), Utc(2017, 10, 3, 9, 0));
  EXPECT_EQ(Next("0 9 1-7 * 6-7", "UTC", from), Utc(2017, 10, 7, 9, 0));
  EXPECT_EQ(Next("0 9 22-28 * 6-7", "UTC", from), Utc(2017, 10, 22, 9, 0));
  EXPECT_EQ(Next("* * */1 * 3", "UTC", from), Utc(2017, 10, 4, 0, 0));
  EXPECT_EQ(Next("0 0 20-31 2 *", "UTC", from), Utc(2018, 2, 20));
  EXPECT_EQ(Next("0 0 29 2 *", "UTC", from), Utc(2020, 2, 29));
  const std::vector<std::pair<int64_t, int64_t>> mondays = {
      {Utc(2017, 4, 25), Utc(2017, 5, 1)},  {Utc(2017, 7, 28), Utc(2017, 7, 31)},
      {Utc(2017, 12, 27), Utc(2018, 1, 1)}, {Utc(2018, 4, 29), Utc(2018, 4, 30)},
      {Utc(2018, 9, 30), Utc(2018, 10, 1)}, {Utc(2018, 12, 26), Utc(2018, 12, 31)}};
  for (const auto& [after, monday] : mondays) EXPECT_EQ(Next("* * * * 1", "UTC", after), monday);
}

TEST(NextTickTest, NoTickWithinTenYears) {
  // February 29th on a Monday: 2016, then 2044.
  EXPECT_EQ(Next("0 0 29 2 1", "UTC", Utc(2026, 1, 1)), std::nullopt);
  EXPECT_EQ(Next("0 0 29 2 1", "UTC", Utc(2040, 1, 1)), Utc(2044, 2, 29));
  EXPECT_EQ(Next("0 0 1 1 * 2020", "UTC", Utc(2026, 1, 1)), std::nullopt);
  EXPECT_EQ(Next("0 0 1 1 * 2030", "UTC", Utc(2026, 1, 1)), Utc(2030, 1, 1));
}

TEST(NextTickTest, LocalTimesInChicagoAndBerlin) {
  // Chicago: CST (-6) in January, CDT (-5) in July.
  EXPECT_EQ(Next("0 9 * * *", "America/Chicago", Utc(2026, 1, 15, 12)), Utc(2026, 1, 15, 15));
  EXPECT_EQ(Next("0 9 * * *", "America/Chicago", Utc(2026, 7, 1, 12)), Utc(2026, 7, 1, 14));
  // Berlin, CEST (+2): Friday 2026-06-05 09:00 local is past 08:30, so Monday.
  EXPECT_EQ(Next("30 8 * * MON-FRI", "Europe/Berlin", Utc(2026, 6, 5, 7)), Utc(2026, 6, 8, 6, 30));
  // Berlin, CET (+1): midnight on New Year's Day is 23:00 UTC the day before.
  EXPECT_EQ(Next("0 0 1 1 *", "Europe/Berlin", Utc(2026, 6, 1)), Utc(2026, 12, 31, 23));
}

TEST(NextTickTest, LastDayAndDaysBeforeIt) {
  EXPECT_EQ(Next("0 0 L * *", "UTC", Utc(2026, 2, 10)), Utc(2026, 2, 28));
  EXPECT_EQ(Next("0 0 L * *", "UTC", Utc(2028, 2, 10)), Utc(2028, 2, 29));
  EXPECT_EQ(Next("0 0 L * *", "UTC", Utc(2026, 4, 30)), Utc(2026, 5, 31));
  EXPECT_EQ(Next("0 0 L-3 * *", "UTC", Utc(2026, 2, 1)), Utc(2026, 2, 25));
  EXPECT_EQ(Next("0 0 1,L * *", "UTC", Utc(2026, 2, 1)), Utc(2026, 2, 28));
}

TEST(NextTickTest, NearestWeekday) {
  // 2026-08-15 is a Saturday: the Friday before.
  EXPECT_EQ(Next("0 0 15W * *", "UTC", Utc(2026, 8, 1)), Utc(2026, 8, 14));
  // 2026-11-15 is a Sunday: the Monday after.
  EXPECT_EQ(Next("0 0 15W * *", "UTC", Utc(2026, 11, 1)), Utc(2026, 11, 16));
  EXPECT_EQ(Next("0 0 15W * *", "UTC", Utc(2026, 1, 1)), Utc(2026, 1, 15));  // a Thursday
  // 2026-08-01 is a Saturday: Monday the 3rd, never Friday July 31st.
  EXPECT_EQ(Next("0 0 1W * *", "UTC", Utc(2026, 7, 15)), Utc(2026, 8, 3));
  // April has no 31st; 2026-05-31 is a Sunday: Friday the 29th, never June 1st.
  EXPECT_EQ(Next("0 0 31W * *", "UTC", Utc(2026, 4, 1)), Utc(2026, 5, 29));
  // The last weekday: 2026-05-31 is a Sunday, 2026-10-31 a Saturday, 2026-12-31 a Thursday.
  EXPECT_EQ(Next("0 0 LW * *", "UTC", Utc(2026, 5, 1)), Utc(2026, 5, 29));
  EXPECT_EQ(Next("0 0 LW * *", "UTC", Utc(2026, 10, 1)), Utc(2026, 10, 30));
  EXPECT_EQ(Next("0 0 LW * *", "UTC", Utc(2026, 12, 1)), Utc(2026, 12, 31));
}

TEST(NextTickTest, LastAndNthWeekdayOfTheMonth) {
  EXPECT_EQ(Next("0 12 * * 5L", "UTC", Utc(2026, 3, 1)), Utc(2026, 3, 27, 12));
  EXPECT_EQ(Next("0 12 * * FRIL", "UTC", Utc(2026, 3, 28)), Utc(2026, 4, 24, 12));
  EXPECT_EQ(Next("0 0 * * MON#2", "UTC", Utc(2026, 3, 1)), Utc(2026, 3, 9));
  EXPECT_EQ(Next("0 0 * * 1#1,1#3", "UTC", Utc(2026, 3, 3)), Utc(2026, 3, 16));
  // The fifth Friday: January 2026 has one (the 30th), February none, May the 29th.
  EXPECT_EQ(Next("0 0 * * 5#5", "UTC", Utc(2026, 1, 1)), Utc(2026, 1, 30));
  EXPECT_EQ(Next("0 0 * * 5#5", "UTC", Utc(2026, 1, 31)), Utc(2026, 5, 29));
}

// New York, 2026-03-08: 02:00 EST (-5) becomes 03:00 EDT (-4) at 07:00 UTC.
TEST(NextTickDstTest, NewYorkSpringForward) {
  const int64_t midnight = Utc(2026, 3, 8, 5), next_midnight = Utc(2026, 3, 9, 4);
  const int64_t transition = Utc(2026, 3, 8, 7);
  EXPECT_EQ(Day("30 2 * * *", "America/New_York", midnight, next_midnight),
            (std::vector<int64_t>{transition}));
  EXPECT_EQ(Next("30 2 * * *", "America/New_York", transition), Utc(2026, 3, 9, 6, 30));
  // Several times in the gap fire once, together.
  EXPECT_EQ(Day("0,30 2 * * *", "America/New_York", midnight, next_midnight),
            (std::vector<int64_t>{transition}));
  EXPECT_EQ(Day("0 * * * *", "America/New_York", midnight, next_midnight),
            Every(midnight, kHour, 23));
  EXPECT_EQ(Day("*/15 * * * *", "America/New_York", midnight, next_midnight),
            Every(midnight, 900, 92));
  // A wildcard job does not catch up the hour that did not exist.
  EXPECT_EQ(Day("5 * * * *", "America/New_York", midnight, next_midnight),
            Every(midnight + 300, kHour, 23));
}

// New York, 2026-11-01: 02:00 EDT (-4) becomes 01:00 EST (-5) at 06:00 UTC.
TEST(NextTickDstTest, NewYorkFallBack) {
  const int64_t midnight = Utc(2026, 11, 1, 4), next_midnight = Utc(2026, 11, 2, 5);
  EXPECT_EQ(Day("30 1 * * *", "America/New_York", midnight, next_midnight),
            (std::vector<int64_t>{Utc(2026, 11, 1, 5, 30)}));
  EXPECT_EQ(Next("30 1 * * *", "America/New_York", Utc(2026, 11, 1, 5, 30)),
            Utc(2026, 11, 2, 6, 30));
  EXPECT_EQ(Day("30 2 * * *", "America/New_York", midnight, next_midnight),
            (std::vector<int64_t>{Utc(2026, 11, 1, 7, 30)}));
  EXPECT_EQ(Day("0 * * * *", "America/New_York", midnight, next_midnight),
            Every(midnight, kHour, 25));
  EXPECT_EQ(Day("*/15 * * * *", "America/New_York", midnight, next_midnight),
            Every(midnight, 900, 100));
  // A wildcard in the minute field runs in both 1 o'clock hours.
  EXPECT_EQ(Day("*/15 1 * * *", "America/New_York", midnight, next_midnight),
            Every(Utc(2026, 11, 1, 5), 900, 8));
}

// Berlin, 2026-03-29: 02:00 CET (+1) becomes 03:00 CEST (+2) at 01:00 UTC.
TEST(NextTickDstTest, BerlinSpringForward) {
  const int64_t midnight = Utc(2026, 3, 28, 23), next_midnight = Utc(2026, 3, 29, 22);
  EXPECT_EQ(Day("30 2 * * *", "Europe/Berlin", midnight, next_midnight),
            (std::vector<int64_t>{Utc(2026, 3, 29, 1)}));
  EXPECT_EQ(Day("0 * * * *", "Europe/Berlin", midnight, next_midnight), Every(midnight, kHour, 23));
  EXPECT_EQ(Day("*/15 * * * *", "Europe/Berlin", midnight, next_midnight),
            Every(midnight, 900, 92));
}

// Berlin, 2026-10-25: 03:00 CEST (+2) becomes 02:00 CET (+1) at 01:00 UTC.
TEST(NextTickDstTest, BerlinFallBack) {
  const int64_t midnight = Utc(2026, 10, 24, 22), next_midnight = Utc(2026, 10, 25, 23);
  EXPECT_EQ(Day("30 2 * * *", "Europe/Berlin", midnight, next_midnight),
            (std::vector<int64_t>{Utc(2026, 10, 25, 0, 30)}));
  EXPECT_EQ(Next("30 2 * * *", "Europe/Berlin", Utc(2026, 10, 25, 0, 30)),
            Utc(2026, 10, 26, 1, 30));
  EXPECT_EQ(Day("0 * * * *", "Europe/Berlin", midnight, next_midnight), Every(midnight, kHour, 25));
  EXPECT_EQ(Day("*/15 * * * *", "Europe/Berlin", midnight, next_midnight),
            Every(midnight, 900, 100));
}

// Santiago changes at midnight: on 2026-04-05 00:00 (-3) becomes 04-04 23:00 (-4)
// at 03:00 UTC; on 2026-09-06 00:00 (-4) becomes 01:00 (-3) at 04:00 UTC.
TEST(NextTickDstTest, ChangesAtMidnightInSantiago) {
  // The repeated hour belongs to the day before: fixed times once, wildcards twice.
  EXPECT_EQ(TicksBetween(Cron("30 23 * * *"), Zone("America/Santiago"), Utc(2026, 4, 4, 12),
                         Utc(2026, 4, 5, 12)),
            (std::vector<int64_t>{Utc(2026, 4, 5, 2, 30)}));
  EXPECT_EQ(TicksBetween(Cron("*/30 * * * *"), Zone("America/Santiago"), Utc(2026, 4, 5, 1, 45),
                         Utc(2026, 4, 5, 4, 15)),
            Every(Utc(2026, 4, 5, 2), 1800, 5));
  EXPECT_EQ(Next("*/30 * * * *", "America/Santiago", Utc(2026, 4, 5, 2, 45)), Utc(2026, 4, 5, 3));
  // Midnight does not exist: the daily job runs as the gap ends, at 01:00 local.
  EXPECT_EQ(Next("0 0 * * *", "America/Santiago", Utc(2026, 9, 5, 12)), Utc(2026, 9, 6, 4));
  EXPECT_EQ(Next("0 0 * * *", "America/Santiago", Utc(2026, 9, 6, 4)), Utc(2026, 9, 7, 3));
}

TEST(TicksBetweenTest, BoundsAndLimit) {
  const CronExpression cron = Cron("0 * * * *");
  const TimeZone utc = Zone("UTC");
  const int64_t start = Utc(2026, 5, 4);
  EXPECT_EQ(TicksBetween(cron, utc, start, start + 3 * kHour),
            (std::vector<int64_t>{start + kHour, start + 2 * kHour, start + 3 * kHour}));
  EXPECT_EQ(TicksBetween(cron, utc, start, start + 100 * kHour, 2),
            (std::vector<int64_t>{start + kHour, start + 2 * kHour}));
  EXPECT_TRUE(TicksBetween(cron, utc, start, start + kHour - 1).empty());
}

}  // namespace
}  // namespace stoa::batch

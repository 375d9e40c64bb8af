// Parsing cron expressions (the syntax in cron.hpp) and matching them against
// calendar dates. The time zone side is in cron_tick.cpp.
#include "frameworks/batch/cron.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <string_view>

namespace stoa::batch {
namespace {

enum class Field { kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek, kYear };
struct FieldSpec {
  Field field;
  const char* name;
  int min;
  int max;
};
constexpr FieldSpec kMinute{Field::kMinute, "minute", 0, 59};
constexpr FieldSpec kHour{Field::kHour, "hour", 0, 23};
constexpr FieldSpec kDayOfMonth{Field::kDayOfMonth, "day-of-month", 1, 31};
constexpr FieldSpec kMonth{Field::kMonth, "month", 1, 12};
constexpr FieldSpec kDayOfWeek{Field::kDayOfWeek, "day-of-week", 0, 7};
constexpr FieldSpec kYear{Field::kYear, "year", 1970, 2099};

constexpr std::string_view kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::string_view kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

bool IsDigits(std::string_view text) {
  return !text.empty() && text.size() <= 9 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int ToInt(std::string_view digits) {
  int value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

std::string Upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t at = text.find(separator); at != std::string_view::npos;
       at = text.find(separator, start)) {
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

// Reads one expression; each method returns what is wrong with its part.
class CronParser {
 public:
  explicit CronParser(const std::string& text) : text_(text) {}

  Result<CronExpression> Parse() {
    CronExpression e;
    e.text_ = text_;
    std::vector<std::string> fields;
    std::string field;
    for (char c : text_ + " ") {
      if (!std::isspace(static_cast<unsigned char>(c))) {
        field += c;
      } else if (!field.empty()) {
        fields.push_back(Upper(field));
        field.clear();
      }
    }
    if (fields.empty()) return Error("the expression is empty");
    if (fields.size() != 5 && fields.size() != 6) {
      return Error(
          "expected 5 fields (minute hour day-of-month month day-of-week) and an "
          "optional year, found " +
          std::to_string(fields.size()));
    }
    std::vector<int> minutes, hours, months, years;
    Status status = ParseGeneric(kMinute, fields[0], &minutes);
    if (status.ok()) status = ParseGeneric(kHour, fields[1], &hours);
    if (status.ok()) status = ParseDaysOfMonth(fields[2], &e);
    if (status.ok()) status = ParseGeneric(kMonth, fields[3], &months);
    if (status.ok()) status = ParseDaysOfWeek(fields[4], &e);
    if (status.ok()) status = ParseGeneric(kYear, fields.size() == 6 ? fields[5] : "*", &years);
    if (!status.ok()) return status;
    for (int minute : minutes) e.minutes_.set(minute);
    for (int hour : hours) e.hours_.set(hour);
    for (int month : months) e.months_.set(month);
    for (int year : years) e.years_.set(year - kYear.min);
    e.wildcard_ = fields[0][0] == '*' || fields[1][0] == '*';
    if (!SomeDayExists(e)) {
      return Error("day-of-month " + fields[2] + " never occurs in month " + fields[3] +
                   " (February has at most 29 days; April, June, September and November 30)");
    }
    return e;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Error("cron '" + text_ + "': " + what);
  }

  // Metronome's CronDaysInMonthValidation: plain days that no month named has.
  static bool SomeDayExists(const CronExpression& e) {
    if (!e.days_before_last_.empty() || e.last_weekday_of_month_) return true;
    constexpr int kMaxDays[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int month = 1; month <= 12; ++month) {
      if (!e.months_[month]) continue;
      for (int day = 1; day <= kMaxDays[month]; ++day) {
        if (e.days_[day]) return true;
      }
      for (int day : e.nearest_weekday_to_) {
        if (day <= kMaxDays[month]) return true;
      }
    }
    return false;
  }

  // A number in the field's range, or a month or day name where the field has them.
  Status ParseValue(const FieldSpec& spec, std::string_view token, int* value) const {
    const std::string name = spec.name;
    if (IsDigits(token)) {
      *value = ToInt(token);
      if (*value < spec.min || *value > spec.max) {
        return Error(name + " " + std::to_string(*value) + " is out of range " +
                     std::to_string(spec.min) + "-" + std::to_string(spec.max));
      }
      return Status::Ok();
    }
    if (spec.field == Field::kMonth || spec.field == Field::kDayOfWeek) {
      const bool month = spec.field == Field::kMonth;
      const std::string_view* names = month ? kMonthNames : kDayNames;
      const int count = month ? 12 : 7;
      for (int i = 0; i < count; ++i) {
        if (names[i] == token) {
          *value = month ? i + 1 : i;
          return Status::Ok();
        }
      }
    }
    return Error(NotAValue(spec, token));
  }

  // Why `token` is not a value of the field, naming the feature if it is one elsewhere.
  static std::string NotAValue(const FieldSpec& spec, std::string_view token) {
    const std::string quoted = std::string(spec.name) + " '" + std::string(token) + "'";
    const bool day_of_month = spec.field == Field::kDayOfMonth;
    if (token.find('?') != std::string_view::npos) {
      return quoted + ": '?' stands alone, and only in day-of-month or day-of-week";
    }
    if (token.find('#') != std::string_view::npos) {
      return quoted + ": '#' is only for day-of-week (MON#2: the second Monday)";
    }
    if (token.find('L') != std::string_view::npos && spec.field != Field::kMonth && !day_of_month) {
      return quoted + ": 'L' is only for day-of-month (L, L-3) and day-of-week (5L)";
    }
    const bool wednesday = spec.field == Field::kDayOfWeek && token.find("WED") != token.npos;
    if (token.find('W') != std::string_view::npos && !day_of_month && !wednesday) {
      return quoted + ": 'W' is only for day-of-month (15W, LW)";
    }
    if (day_of_month && token.find_first_of("LW") != std::string_view::npos) {
      return quoted +
             ": write L (last day), L-3, 15W (the weekday nearest the 15th) or LW, "
             "each as an item of its own";
    }
    if (spec.field == Field::kMonth) return quoted + " is neither 1-12 nor a name JAN-DEC";
    if (spec.field == Field::kDayOfWeek) return quoted + " is neither 0-7 nor a name SUN-SAT";
    return quoted + " is not a number";
  }

  // A field of `*`, values, ranges and steps; appends the values it names.
  Status ParseGeneric(const FieldSpec& spec, std::string_view field, std::vector<int>* out) {
    for (std::string_view item : Split(field, ',')) {
      if (Status status = ParseItem(spec, item, out); !status.ok()) return status;
    }
    return Status::Ok();
  }

  Status ParseItem(const FieldSpec& spec, std::string_view item, std::vector<int>* out) {
    const std::string name = spec.name;
    const bool day_of_week = spec.field == Field::kDayOfWeek;
    if (item.empty()) return Error(name + " field has an empty item (a ',' too many?)");
    const std::vector<std::string_view> parts = Split(item, '/');
    if (parts.size() > 2) return Error(name + " '" + std::string(item) + "' has two steps");
    const std::string_view base = parts[0];
    int low = spec.min;
    int high = day_of_week ? 6 : spec.max;  // `*` in day-of-week: 0-6
    if (base != "*") {
      const size_t dash = base.find('-');
      if (dash == std::string_view::npos) {
        if (Status status = ParseValue(spec, base, &low); !status.ok()) return status;
        high = parts.size() == 2 ? spec.max : low;
      } else {
        const std::string_view from = base.substr(0, dash), to = base.substr(dash + 1);
        if (from.empty() || to.empty() || to.find('-') != std::string_view::npos) {
          return Error(name + " range '" + std::string(base) + "' needs one value on each side");
        }
        if (Status status = ParseValue(spec, from, &low); !status.ok()) return status;
        if (Status status = ParseValue(spec, to, &high); !status.ok()) return status;
        if (day_of_week && low == 7) low = 0;
        if (low > high && !day_of_week) {
          return Error(name + " range " + std::string(base) + " goes backwards (write " +
                       std::to_string(low) + "-" + std::to_string(spec.max) + "," +
                       std::to_string(spec.min) + "-" + std::to_string(high) + ")");
        }
      }
    }
    int step = 1;
    if (parts.size() == 2) {
      const int most = spec.max - spec.min;
      if (!IsDigits(parts[1])) {
        return Error(name + " step '" + std::string(parts[1]) + "' is not a number");
      }
      step = ToInt(parts[1]);
      if (step < 1 || step > most) {
        return Error(name + " step " + std::to_string(step) + " is out of range 1-" +
                     std::to_string(most));
      }
    }
    // A backward day-of-week range wraps through Saturday: FRI-MON is 5,6,0,1.
    const int span = low <= high ? high - low : high + 7 - low;
    for (int offset = 0; offset <= span; offset += step) {
      const int value = low + offset;
      out->push_back(day_of_week ? value % 7 : value);
    }
    return Status::Ok();
  }

  Status ParseDaysOfMonth(const std::string& field, CronExpression* e) {
    const std::string text = field == "?" ? "*" : field;
    std::vector<int> days;
    for (std::string_view item : Split(text, ',')) {
      if (item == "L") {
        e->days_before_last_.push_back(0);
      } else if (item == "LW") {
        e->last_weekday_of_month_ = true;
      } else if (item.starts_with("L-") && IsDigits(item.substr(2))) {
        const int before = ToInt(item.substr(2));
        if (before < 1 || before > 30) {
          return Error("day-of-month '" + std::string(item) +
                       "': L-n counts 1-30 days back from the last day");
        }
        e->days_before_last_.push_back(before);
      } else if (item.size() > 1 && item.back() == 'W' &&
                 IsDigits(item.substr(0, item.size() - 1))) {
        int day = 0;
        Status status = ParseValue(kDayOfMonth, item.substr(0, item.size() - 1), &day);
        if (!status.ok()) return status;
        e->nearest_weekday_to_.push_back(day);
      } else if (Status status = ParseItem(kDayOfMonth, item, &days); !status.ok()) {
        return status;
      }
    }
    for (int day : days) e->days_.set(day);
    return Status::Ok();
  }

  Status ParseDaysOfWeek(const std::string& field, CronExpression* e) {
    const std::string text = field == "?" ? "*" : field;
    std::vector<int> days;
    for (std::string_view item : Split(text, ',')) {
      const size_t hash = item.find('#');
      if (item == "L") {
        return Error(
            "day-of-week 'L' alone is ambiguous: write SAT for Saturdays, or nL for the "
            "last weekday n of the month (5L: the last Friday)");
      } else if (item.size() > 1 && item.back() == 'L' && item.find_first_of("-/") == item.npos) {
        int day = 0;
        Status status = ParseValue(kDayOfWeek, item.substr(0, item.size() - 1), &day);
        if (!status.ok()) return status;
        e->last_weekday_.push_back(day % 7);
      } else if (hash != std::string_view::npos && item.find_first_of("-/") == item.npos) {
        int day = 0;
        Status status = ParseValue(kDayOfWeek, item.substr(0, hash), &day);
        if (!status.ok()) return status;
        const std::string_view nth = item.substr(hash + 1);
        if (!IsDigits(nth) || ToInt(nth) < 1 || ToInt(nth) > 5) {
          return Error("day-of-week '" + std::string(item) +
                       "': the week after '#' must be 1-5 (MON#2: the second Monday)");
        }
        e->nth_weekday_.emplace_back(day % 7, ToInt(nth));
      } else if (Status status = ParseItem(kDayOfWeek, item, &days); !status.ok()) {
        return status;
      }
    }
    for (int day : days) e->weekdays_.set(day);
    return Status::Ok();
  }

  const std::string& text_;
};

Result<CronExpression> CronExpression::Parse(const std::string& text) {
  return CronParser(text).Parse();
}

bool CronExpression::MatchesMinute(int minute) const {
  return minute >= 0 && minute < 60 && minutes_[minute];
}

bool CronExpression::MatchesHour(int hour) const { return hour >= 0 && hour < 24 && hours_[hour]; }

bool CronExpression::MatchesDate(int year, unsigned month, unsigned day) const {
  namespace chrono = std::chrono;
  if (year < kYear.min || year > kYear.max || !years_[year - kYear.min]) return false;
  if (month < 1 || month > 12 || !months_[month]) return false;
  const chrono::year_month_day date{chrono::year{year}, chrono::month{month}, chrono::day{day}};
  if (!date.ok()) return false;
  const unsigned weekday = chrono::weekday{chrono::sys_days{date}}.c_encoding();
  const unsigned last_day = static_cast<unsigned>(
      chrono::year_month_day_last{date.year(), date.month() / chrono::last}.day());
  return MatchesDayOfMonth(day, last_day, weekday) && MatchesDayOfWeek(day, last_day, weekday);
}

// `weekday` is that of `day` (0 Sunday - 6 Saturday).
bool CronExpression::MatchesDayOfMonth(unsigned day, unsigned last_day, unsigned weekday) const {
  if (days_[day]) return true;
  const int d = static_cast<int>(day), last = static_cast<int>(last_day);
  const auto weekday_of = [&](int other) {
    return (static_cast<int>(weekday) + 35 + other - d) % 7;
  };
  for (int before : days_before_last_) {
    if (last - before == d) return true;
  }
  for (int target : nearest_weekday_to_) {
    if (target > last) continue;  // 31W: no tick in a month without a 31st
    int nearest = target;
    if (weekday_of(target) == 6) nearest = target == 1 ? 3 : target - 1;
    if (weekday_of(target) == 0) nearest = target == last ? target - 2 : target + 1;
    if (nearest == d) return true;
  }
  if (last_weekday_of_month_) {
    const int last_weekday = weekday_of(last);
    if (d == last - (last_weekday == 6 ? 1 : last_weekday == 0 ? 2 : 0)) return true;
  }
  return false;
}

bool CronExpression::MatchesDayOfWeek(unsigned day, unsigned last_day, unsigned weekday) const {
  if (weekdays_[weekday]) return true;
  const int w = static_cast<int>(weekday);
  for (int target : last_weekday_) {
    if (target == w && day + 7 > last_day) return true;
  }
  for (const auto& [target, nth] : nth_weekday_) {
    if (target == w && static_cast<int>((day - 1) / 7 + 1) == nth) return true;
  }
  return false;
}

}  // namespace stoa::batch

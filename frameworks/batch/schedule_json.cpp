// Schedules: read alone (the schedule API) or embedded in a job.
#include <exception>

#include "frameworks/batch/job_fields.hpp"

namespace stoa::batch {

using nlohmann::json;

namespace {

bool IsAlphanumeric(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A name of a path: lower-case letters, digits and dashes, starting and
// ending with a letter or digit.
bool IsName(std::string_view name) {
  if (name.empty() || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!IsAlphanumeric(c) && c != '-') return false;
  }
  return true;
}

// The schedule schema's id: one name of two characters at least.
bool IsScheduleId(std::string_view id) { return id.size() >= 2 && IsName(id); }

const char* PolicyName(ConcurrencyPolicy policy) {
  switch (policy) {
    case ConcurrencyPolicy::kForbid:
      return "FORBID";
    case ConcurrencyPolicy::kReplace:
      return "REPLACE";
    case ConcurrencyPolicy::kAllow:
      break;
  }
  return "ALLOW";
}

void Check(JsonFields& fields, std::string_view name, const std::string& text,
           const std::function<std::string(const std::string&)>& check) {
  if (!check) return;
  std::string problem = check(text);
  if (!problem.empty()) fields.errors()->Add(fields.PathOf(name), problem);
}

}  // namespace

bool IsJobPath(std::string_view id) {
  if (id.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = id.find('.', start);
    if (!IsName(id.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

ScheduleSpec ReadSchedule(JsonFields& fields, ScheduleIdRule rule, const ScheduleChecks& checks) {
  ScheduleSpec spec;
  fields.Require({"id", "cron"});
  if (auto id = fields.String("id")) {
    if (rule == ScheduleIdRule::kScheduleSchema && !IsScheduleId(*id)) {
      fields.errors()->Add(fields.PathOf("id"),
                           "'" + *id +
                               "' is not a valid schedule id: two or more lower-case letters, "
                               "digits and dashes, starting and ending with a letter or digit");
    } else if (rule == ScheduleIdRule::kJobPath && !IsJobPath(*id)) {
      fields.errors()->Add(fields.PathOf("id"),
                           "'" + *id +
                               "' is not a valid schedule id: lower-case letters, digits and "
                               "dashes, in names joined by dots, each starting and ending with "
                               "a letter or digit");
    }
    spec.id = *id;
  }
  if (auto cron = fields.NonEmptyString("cron")) {
    spec.cron = *cron;
    Check(fields, "cron", *cron, checks.cron);
  }
  if (auto timezone = fields.NonEmptyString("timezone")) {
    spec.timezone = *timezone;
    Check(fields, "timezone", *timezone, checks.timezone);
  }
  if (auto deadline = fields.Integer("startingDeadlineSeconds", 1)) {
    spec.starting_deadline_seconds = *deadline;
  }
  if (auto policy = fields.String("concurrencyPolicy")) {
    if (*policy == "ALLOW") {
      spec.concurrency_policy = ConcurrencyPolicy::kAllow;
    } else if (*policy == "FORBID") {
      spec.concurrency_policy = ConcurrencyPolicy::kForbid;
    } else if (*policy == "REPLACE") {
      spec.concurrency_policy = ConcurrencyPolicy::kReplace;
    } else {
      fields.errors()->Add(fields.PathOf("concurrencyPolicy"),
                           "'" + *policy +
                               "' is not a valid concurrency policy. Allowed values: ALLOW, "
                               "FORBID, REPLACE");
    }
  }
  if (auto enabled = fields.Bool("enabled")) spec.enabled = *enabled;
  return spec;
}

Parsed<ScheduleSpec> ParseScheduleSpec(const json& body, const ScheduleChecks& checks) {
  JsonErrors errors;
  try {
    if (!body.is_object()) {
      errors.Add("/", WrongType("object", body));
      return Parsed<ScheduleSpec>::Failure(errors.Take());
    }
    JsonFields fields(body, "/", &errors);
    ScheduleSpec spec = ReadSchedule(fields, ScheduleIdRule::kScheduleSchema, checks);
    if (errors.empty()) return spec;
  } catch (const std::exception& e) {
    errors.Add("/", std::string("cannot be read: ") + e.what());
  }
  return Parsed<ScheduleSpec>::Failure(errors.Take());
}

json RenderScheduleSpec(const ScheduleSpec& spec) {
  return {{"id", spec.id},
          {"cron", spec.cron},
          {"timezone", spec.timezone},
          {"startingDeadlineSeconds", spec.starting_deadline_seconds},
          {"concurrencyPolicy", PolicyName(spec.concurrency_policy)},
          {"enabled", spec.enabled}};
}

}  // namespace stoa::batch

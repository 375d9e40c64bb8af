// Metronome's job and schedule JSON <-> JobSpec and ScheduleSpec. Parsing
// checks what Metronome's schema and validators check, collects every problem
// with its path, and refuses with a clear message what Stoa cannot run (images,
// artifacts, secrets, GPUs); rendering gives what Metronome renders, defaults
// included, and Stoa's extensions only when they are set.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "frameworks/batch/job.hpp"

namespace stoa::batch {

// The problems of one field. `path` is a JSON path as Metronome writes it:
// "/" for the whole body, "/run/mem" for a field, "/run/volumes/0/mode" for
// a field of an array's element.
struct JsonError {
  std::string path;
  std::vector<std::string> errors;
  bool operator==(const JsonError&) const = default;
};

// One line for logs and Status: "/run/mem: ...; /id: ...".
std::string ErrorSummary(const std::vector<JsonError>& errors);

// Metronome's 422 body: {"message": "Object is not valid", "details": [{"path",
// "errors"}]}.
nlohmann::json ErrorBody(const std::vector<JsonError>& errors);

// Either a parsed value or every problem found, grouped by path in the order
// they were found.
template <typename T>
class Parsed {
 public:
  Parsed(T value, std::vector<JsonError> notes = {})  // NOLINT: implicit by design
      : value_(std::move(value)), notes_(std::move(notes)) {}
  // REQUIRES: !errors.empty().
  static Parsed Failure(std::vector<JsonError> errors) { return Parsed(std::move(errors)); }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

  // Empty when ok().
  const std::vector<JsonError>& errors() const { return errors_; }
  // REQUIRES: !ok(). Every error in one line.
  std::string error() const { return ErrorSummary(errors_); }
  Status status() const { return ok() ? Status::Ok() : Status::Error(error()); }

  // What was accepted as given but is not acted on (networks: Stoa's tasks
  // use the host's network), for the caller to log. Only when ok().
  const std::vector<JsonError>& notes() const { return notes_; }

 private:
  explicit Parsed(std::vector<JsonError> errors) : errors_(std::move(errors)) {}
  std::optional<T> value_;
  std::vector<JsonError> errors_;
  std::vector<JsonError> notes_;
};

// Checks of a schedule's texts that need the cron parser and the time zone
// database (frameworks/batch/cron.hpp): each returns what is wrong with the
// text, or "" when it is fine. Unset: only a non-empty string is required.
struct ScheduleChecks {
  std::function<std::string(const std::string& cron)> cron;
  std::function<std::string(const std::string& timezone)> timezone;
};

struct JobWithSchedules {
  JobSpec job;
  std::vector<ScheduleSpec> schedules;  // Metronome allows at most one
  bool operator==(const JobWithSchedules&) const = default;
};

// A job from a request body (POST /v1/jobs, POST /v0/scheduled-jobs) with
// the schedules it embeds. As in Metronome: at most one schedule, not both
// schedules and dependencies, no dependency twice. Whether the dependencies
// exist and make no cycle is the caller's to check. An operator "EQ" is read
// as "IS" (Metronome's synonym, rendered as "IS").
Parsed<JobWithSchedules> ParseJobWithSchedules(const nlohmann::json& body,
                                               const ScheduleChecks& checks = {});
// The same checks, the schedules dropped: PUT /v1/jobs/{id} (Metronome keeps
// the job's schedules) and a stored spec. The caller puts the URL's id in.
Parsed<JobSpec> ParseJobSpec(const nlohmann::json& body);

// The job as Metronome renders it, without "schedules": every field Metronome
// always renders, with its default, and Stoa's extensions in "run" only when
// set. The API adds "schedules" (Metronome renders them with every job, each
// with its "nextRunAt") and what `embed` asks for.
nlohmann::json RenderJobSpec(const JobSpec& spec);

// A schedule from a request body (POST /v1/jobs/{id}/schedules, PUT
// .../schedules/{sid}; the caller puts the URL's id in for PUT). Fields
// Metronome does not know are ignored, as its schema allows them ("nextRunAt").
Parsed<ScheduleSpec> ParseScheduleSpec(const nlohmann::json& body,
                                       const ScheduleChecks& checks = {});
// Every field of the schedule; the caller adds "nextRunAt".
nlohmann::json RenderScheduleSpec(const ScheduleSpec& spec);

}  // namespace stoa::batch

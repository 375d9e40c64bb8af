#include "cli/job_output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/job_client.hpp"
#include "cli/table.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

constexpr int kBarWidth = 20;

std::string Count(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "2016-07-15 13:02:59" of "2016-07-15T13:02:59.735+0000".
std::string Timestamp(const json& time) {
  if (!time.is_string()) return "-";
  std::string text = time.get<std::string>().substr(0, 19);
  std::replace(text.begin(), text.end(), 'T', ' ');
  return text;
}

std::string ScheduleText(const json& schedules, double now) {
  std::string text;
  for (const auto& schedule : schedules) {
    std::string one = schedule.value("cron", "?") + " " + schedule.value("timezone", "UTC");
    if (!schedule.value("enabled", true)) {
      one += " (disabled)";
    } else if (schedule.contains("nextRunAt")) {
      one += ", next " + TimeAgo(schedule["nextRunAt"], now);
    }
    text += (text.empty() ? "" : "; ") + one;
  }
  return text.empty() ? "-" : text;
}

}  // namespace

std::string TimeAgo(const json& time, double now) {
  if (!time.is_string()) return "-";
  double at = ParseMetronomeTime(time.get<std::string>());
  if (at < 0) return "-";
  double seconds = std::abs(now - at);
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof(text), "%.0fs", std::floor(seconds));
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof(text), "%.0fm", std::floor(seconds / 60));
  } else if (seconds < 86400) {
    std::snprintf(text, sizeof(text), "%.0fh", std::floor(seconds / 3600));
  } else {
    std::snprintf(text, sizeof(text), "%.0fd", std::floor(seconds / 86400));
  }
  return at > now + 0.5 ? std::string("in ") + text : std::string(text) + " ago";
}

std::string DurationText(double seconds) {
  char text[32];
  seconds = std::max(0.0, seconds);
  if (seconds < 60) {
    std::snprintf(text, sizeof(text), "%.1fs", seconds);
  } else if (seconds < 3600) {
    auto whole = static_cast<long>(seconds);
    std::snprintf(text, sizeof(text), "%ldm%02lds", whole / 60, whole % 60);
  } else {
    auto minutes = static_cast<long>(seconds / 60);
    std::snprintf(text, sizeof(text), "%ldh%02ldm", minutes / 60, minutes % 60);
  }
  return text;
}

std::string JobListText(const json& jobs, double now) {
  if (jobs.empty()) return "no jobs (add one with `stoa job add FILE.json`)\n";
  Table table(
      {"ID", "SCHEDULE", "ACTIVE", "LAST SUCCESS", "LAST FAILURE", "SUCCESSES", "FAILURES"});
  for (const auto& job : jobs) {
    const json summary = job.value("historySummary", json::object());
    table.Add({job.value("id", "?"),
               Truncated(ScheduleText(job.value("schedules", json::array()), now), 48),
               std::to_string(job.value("activeRuns", json::array()).size()),
               TimeAgo(summary.value("lastSuccessAt", json()), now),
               TimeAgo(summary.value("lastFailureAt", json()), now),
               std::to_string(summary.value("successCount", 0)),
               std::to_string(summary.value("failureCount", 0))});
  }
  return table.Render();
}

std::string HistoryText(const json& job, double now) {
  const json history = job.value("history", json::object());
  int64_t successes = history.value("successCount", 0);
  int64_t failures = history.value("failureCount", 0);
  auto counted = [&](int64_t n, const char* one, const char* many, const char* last) {
    std::string text = Count(n, one, many);
    if (n > 0) text += " (last " + TimeAgo(history.value(last, json()), now) + ")";
    return text;
  };
  std::string text = "job " + job.value("id", "?") + ": " +
                     counted(successes, "success", "successes", "lastSuccessAt") + ", " +
                     counted(failures, "failure", "failures", "lastFailureAt") + "\n";
  json runs = RunsNewestFirst(json{{"history", history}});
  if (runs.empty()) {
    return text + "no finished runs (start one with `stoa job run " + job.value("id", "ID") +
           "`)\n";
  }
  Table table({"RUN", "STATUS", "CREATED (UTC)", "DURATION", "TASKS OK", "FAILED", "REASON"});
  for (const auto& run : runs) {
    table.Add({run.value("id", "?"), run.value("status", "?"),
               Timestamp(run.value("createdAt", json())),
               DurationText(run.value("durationSeconds", 0.0)),
               std::to_string(run.value("tasksSucceeded", 0)),
               std::to_string(run.value("tasksFailed", 0)), run.value("reason", "-")});
  }
  return text + "\n" + table.Render();
}

std::string RunProgressText(const json& run, int64_t completions) {
  std::string status = run.value("status", "?");
  int64_t succeeded = run.value("tasksSucceeded", 0);
  int64_t failed = run.value("tasksFailed", 0);
  int64_t active = run.value("tasksActive", 0);
  if (completions <= 1) {
    std::string text = status;
    if (active > 0) text += ", " + Count(active, "task", "tasks") + " active";
    if (failed > 0) text += ", " + Count(failed, "task", "tasks") + " failed";
    return text;
  }
  int64_t done = std::clamp<int64_t>(succeeded, 0, completions);
  int filled = static_cast<int>(done * kBarWidth / completions);
  std::string bar = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "]";
  return status + " " + bar + " " + std::to_string(succeeded) + "/" + std::to_string(completions) +
         " succeeded, " + std::to_string(failed) + " failed, " + std::to_string(active) + " active";
}

}  // namespace stoa::cli

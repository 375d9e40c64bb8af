#include "cli/job_wait.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "cli/job_client.hpp"
#include "cli/job_output.hpp"
#include "cli/progress_line.hpp"
#include "common/duration.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

constexpr double kPollSeconds = 0.25;
constexpr double kUnreachableSeconds = 5;
constexpr double kPlainLineSeconds = 1;  // between progress lines when not on a terminal

bool Finished(const json& run) {
  std::string status = run.value("status", "");
  return status == "SUCCESS" || status == "FAILED";
}

}  // namespace

int WaitForRun(ApiClient& client, const json& started, const RunWaitOptions& options, json* last) {
  FILE* out = options.quiet_stdout ? stderr : stdout;
  ProgressLine progress(out);
  const std::string job_id = started.value("jobId", "");
  const std::string run_id = started.value("id", "");
  const std::string name = job_id + " " + run_id;
  // A finished run's answer is rebuilt from its summary, without its spec:
  // its completions are those the run started with.
  const int64_t completions = started.value("completions", int64_t{1});
  double start = MonotonicSeconds();
  double unreachable_since = -1;
  double shown_at = -kPlainLineSeconds;
  std::string shown_status;
  *last = started;
  while (true) {
    double now = MonotonicSeconds();
    Result<HttpReply> reply = client.Call("GET", RunPath(job_id, run_id));
    if (!reply.ok()) {
      if (unreachable_since < 0) unreachable_since = now;
      if (now - unreachable_since >= kUnreachableSeconds) {
        progress.End();
        std::fprintf(stderr, "%s: %s\n", options.command.c_str(), reply.error().c_str());
        return 1;
      }
    } else if (reply->status != 200) {
      progress.End();
      std::fprintf(stderr, "%s: the run %s of %s is gone: %s\n", options.command.c_str(),
                   run_id.c_str(), job_id.c_str(), client.Refusal(*reply).c_str());
      return 1;
    } else {
      unreachable_since = -1;
      json run = json::parse(reply->body, nullptr, false);
      if (run.is_object()) *last = run;
      bool done = Finished(*last);
      std::string status = last->value("status", "");
      // Off a terminal, a line a second at most, but each change of status and the last line.
      if (progress.terminal() || done || status != shown_status ||
          now - shown_at >= kPlainLineSeconds) {
        std::string line = name + ": " + RunProgressText(*last, completions);
        progress.Show(line);
        shown_at = now;
        shown_status = status;
      }
      if (done) break;
    }
    if (options.timeout > 0 && now - start >= options.timeout) {
      progress.End();
      std::fprintf(stderr,
                   "%s: the run %s of %s did not end within %s (%s); it goes on: `stoa job "
                   "history %s` shows it once it has ended, `stoa job logs %s %s` its output\n",
                   options.command.c_str(), run_id.c_str(), job_id.c_str(),
                   FormatDuration(options.timeout).c_str(),
                   RunProgressText(*last, completions).c_str(), job_id.c_str(), job_id.c_str(),
                   run_id.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(kPollSeconds));
  }
  progress.End();
  int64_t succeeded = last->value("tasksSucceeded", 0);
  int64_t failed = last->value("tasksFailed", 0);
  std::string tasks = std::to_string(succeeded) + "/" + std::to_string(completions) +
                      " tasks succeeded, " + std::to_string(failed) + " failed";
  if (last->value("status", "") != "SUCCESS") {
    std::fprintf(stderr,
                 "%s: the run %s of %s FAILED: %s (%s); `stoa job logs %s %s` shows its tasks' "
                 "output\n",
                 options.command.c_str(), run_id.c_str(), job_id.c_str(),
                 last->value("reason", "no reason given").c_str(), tasks.c_str(), job_id.c_str(),
                 run_id.c_str());
    return 1;
  }
  std::fprintf(out, "run %s of %s succeeded: %s (%.1f s)\n", run_id.c_str(), job_id.c_str(),
               tasks.c_str(), MonotonicSeconds() - start);
  std::fflush(out);
  return 0;
}

}  // namespace stoa::cli

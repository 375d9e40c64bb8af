// `stoa job`: add, list, run (and follow), show the history of, read the
// output of and remove jobs of the batch framework over its Metronome API.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "cli/job_client.hpp"
#include "cli/job_logs.hpp"
#include "cli/job_output.hpp"
#include "cli/job_wait.hpp"
#include "cli/json_file.hpp"
#include "common/duration.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

struct JobFlags {
  std::string batch;  // empty: $STOA_BATCH, else kDefaultBatchUrl
  bool json = false;
  bool wait = false;
  bool stop_runs = false;
  bool stderr_file = false;
  std::string timeout = "0secs";
  double timeout_seconds = 0;
  std::string file;
  std::string id;
  std::string run_id;
};

// What one subcommand does once its flags are parsed; returns the exit code.
using Action = int (*)(const JobFlags&, ApiClient&, const std::string& command);

double Now() { return WallSeconds(); }

// Sends a change; prints what the framework refused and returns nullopt, or its answer.
std::optional<json> Change(ApiClient& client, const std::string& command, const std::string& method,
                           const std::string& path, const std::string& body,
                           const std::string& what) {
  auto reply = client.Call(method, path, body);
  if (!reply.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), reply.error().c_str());
    return std::nullopt;
  }
  if (reply->status < 200 || reply->status >= 300) {
    std::fprintf(stderr, "%s: the batch framework refused %s: %s\n", command.c_str(), what.c_str(),
                 client.Refusal(*reply).c_str());
    return std::nullopt;
  }
  json answer = json::parse(reply->body, nullptr, false);
  return answer.is_discarded() ? json::object() : answer;
}

// GET, printing why on stderr when it fails.
std::optional<json> Get(ApiClient& client, const std::string& command, const std::string& path) {
  auto body = client.Json("GET", path);
  if (!body.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), body.error().c_str());
    return std::nullopt;
  }
  return *body;
}

int Add(const JobFlags& flags, ApiClient& client, const std::string& command) {
  auto definition =
      ReadJsonObjectFile(flags.file, "a job definition (a JSON object with an id and a run)");
  if (!definition.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), definition.error().c_str());
    return 2;
  }
  std::string what = InputName(flags.file);
  FILE* out = flags.json ? stderr : stdout;
  std::string id = definition->value("id", json()).is_string() ? (*definition)["id"] : "";
  bool exists = false;
  if (!id.empty()) {
    auto existing = client.Call("GET", JobPath(id));
    if (!existing.ok()) {
      std::fprintf(stderr, "%s: %s\n", command.c_str(), existing.error().c_str());
      return 1;
    }
    exists = existing->status == 200;
  }
  std::optional<json> answer;
  if (!exists) {  // without an id too: the framework says what is missing
    answer = Change(client, command, "POST", "/v1/jobs", definition->dump(), what);
    if (!answer) return 1;
    std::fprintf(out, "created job %s (POST /v1/jobs)\n", answer->value("id", "?").c_str());
  } else if (definition->contains("schedules")) {
    // The file's schedules replace the job's, as the file says.
    std::string path = "/v0/scheduled-jobs/" + PercentEncode(id);
    answer = Change(client, command, "PUT", path, definition->dump(), what);
    if (!answer) return 1;
    std::fprintf(out,
                 "updated job %s and its schedules (PUT %s); runs under way keep the definition "
                 "they started with\n",
                 id.c_str(), path.c_str());
  } else {
    answer = Change(client, command, "PUT", JobPath(id), definition->dump(), what);
    if (!answer) return 1;
    std::fprintf(out,
                 "updated job %s (PUT %s; its schedules are kept); runs under way keep the "
                 "definition they started with\n",
                 id.c_str(), JobPath(id).c_str());
  }
  if (flags.json) PrintJson(*answer);
  return 0;
}

int List(const JobFlags& flags, ApiClient& client, const std::string& command) {
  auto jobs = Get(client, command, "/v1/jobs?embed=activeRuns&embed=historySummary");
  if (!jobs) return 1;
  if (flags.json) {
    PrintJson(*jobs);
  } else {
    std::printf("%s", JobListText(*jobs, Now()).c_str());
  }
  return 0;
}

int Run(const JobFlags& flags, ApiClient& client, const std::string& command) {
  auto run =
      Change(client, command, "POST", JobPath(flags.id) + "/runs", "", "a run of " + flags.id);
  if (!run) return 1;
  FILE* out = flags.json ? stderr : stdout;
  std::fprintf(out, "started run %s of %s\n", run->value("id", "?").c_str(), flags.id.c_str());
  std::fflush(out);
  int code = 0;
  if (flags.wait) {
    RunWaitOptions options;
    options.command = command;
    options.timeout = flags.timeout_seconds;
    options.quiet_stdout = flags.json;
    json last;
    code = WaitForRun(client, *run, options, &last);
    *run = last;
  }
  if (flags.json) PrintJson(*run);
  return code;
}

int History(const JobFlags& flags, ApiClient& client, const std::string& command) {
  auto job = Get(client, command, JobPath(flags.id) + "?embed=history");
  if (!job) return 1;
  if (flags.json) {
    PrintJson(job->value("history", json::object()));
  } else {
    std::printf("%s", HistoryText(*job, Now()).c_str());
  }
  return 0;
}

int Logs(const JobFlags& flags, ApiClient& client, const std::string& command) {
  json run;
  if (!flags.run_id.empty()) {
    auto found = Get(client, command, RunPath(flags.id, flags.run_id));
    if (!found) return 1;
    run = *found;
  } else {
    auto job = Get(client, command, JobPath(flags.id) + "?embed=activeRuns&embed=history");
    if (!job) return 1;
    json runs = RunsNewestFirst(*job);
    if (runs.empty()) {
      std::fprintf(stderr, "%s: %s has no runs yet: `stoa job run %s` starts one\n",
                   command.c_str(), flags.id.c_str(), flags.id.c_str());
      return 1;
    }
    run = runs[0];
    run["jobId"] = flags.id;
    std::fprintf(stderr, "%s: the newest run of %s: %s (%s, created %s)\n", command.c_str(),
                 flags.id.c_str(), run.value("id", "?").c_str(), run.value("status", "?").c_str(),
                 TimeAgo(run.value("createdAt", json()), Now()).c_str());
  }
  LogOptions options;
  options.command = command;
  options.file = flags.stderr_file ? "stderr" : "stdout";
  return PrintRunLogs(run, options);
}

int Remove(const JobFlags& flags, ApiClient& client, const std::string& command) {
  std::string query = flags.stop_runs ? "?stopCurrentJobRuns=true" : "?stopCurrentJobRuns=false";
  auto answer = Change(client, command, "DELETE", JobPath(flags.id) + query, "",
                       "the removal of " + flags.id);
  if (!answer) return 1;
  std::fprintf(flags.json ? stderr : stdout, "removed job %s%s\n", flags.id.c_str(),
               flags.stop_runs ? " (its active runs, if any, are being stopped)" : "");
  if (flags.json) PrintJson(*answer);
  return 0;
}

CLI::App* AddSubcommand(CLI::App* parent, const std::shared_ptr<JobFlags>& flags, int* exit_code,
                        const char* name, const char* description, Action action,
                        bool json_flag = true) {
  CLI::App* cmd = parent->add_subcommand(name, description);
  cmd->add_option(
      "--batch", flags->batch,
      std::string("The batch framework, http://HOST:PORT (default: $STOA_BATCH, else ") +
          kDefaultBatchUrl + ")");
  if (json_flag)
    cmd->add_flag("--json", flags->json, "Print the framework's JSON instead of tables");
  std::string command = std::string("stoa job ") + name;
  cmd->callback([flags, exit_code, action, command] {
    flags->timeout_seconds = DurationFlag("timeout", flags->timeout);
    auto address = ResolveAddress(kBatchApi, flags->batch);
    if (!address.ok()) {
      std::fprintf(stderr, "%s: %s\n", command.c_str(), address.error().c_str());
      *exit_code = 2;
      return;
    }
    ApiClient client(kBatchApi, *address);
    try {
      *exit_code = action(*flags, client, command);
    } catch (const json::exception& e) {
      std::fprintf(stderr,
                   "%s: the batch framework at %s answered JSON of an unexpected shape: %s\n",
                   command.c_str(), client.address().Url().c_str(), e.what());
      *exit_code = 1;
    }
  });
  return cmd;
}

}  // namespace

void AddJobCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<JobFlags>();
  CLI::App* cmd = app.add_subcommand(
      "job", "Add, run and follow jobs of the batch framework (Metronome's API)");
  cmd->require_subcommand(1);

  CLI::App* add = AddSubcommand(cmd, flags, exit_code, "add",
                                "Create a job from a Metronome job definition (FILE.json, - for "
                                "stdin), or replace it when its id exists",
                                Add);
  add->add_option("file", flags->file, "The job definition (JSON)")->required();

  AddSubcommand(cmd, flags, exit_code, "list",
                "The jobs: schedule and next run, active runs, last success and failure", List);

  CLI::App* run = AddSubcommand(cmd, flags, exit_code, "run", "Start a run of a job now", Run);
  run->add_option("id", flags->id, "The job's id")->required();
  run->add_flag("--wait", flags->wait,
                "Follow the run until it ends: exit 0 on SUCCESS, 1 on FAILED with the reason");
  run->add_option("--timeout", flags->timeout,
                  "With --wait: give up waiting after this long and exit 1 (0secs: never)")
      ->capture_default_str();

  CLI::App* history = AddSubcommand(cmd, flags, exit_code, "history",
                                    "A job's finished runs, newest first", History);
  history->add_option("id", flags->id, "The job's id")->required();

  CLI::App* logs = AddSubcommand(cmd, flags, exit_code, "logs",
                                 "The output of a run's tasks (failed ones first), from their "
                                 "sandboxes",
                                 Logs, /*json_flag=*/false);
  logs->add_option("id", flags->id, "The job's id")->required();
  logs->add_option("run", flags->run_id, "The run's id (default: the job's newest run)");
  logs->add_flag("--stderr", flags->stderr_file, "Their stderr instead of their stdout");

  CLI::App* remove = AddSubcommand(cmd, flags, exit_code, "remove", "Remove a job", Remove);
  remove->add_option("id", flags->id, "The job's id")->required();
  remove->add_flag("--stop-runs", flags->stop_runs,
                   "Stop the job's active runs (without it, a job with active runs is kept)");
}

}  // namespace stoa::cli

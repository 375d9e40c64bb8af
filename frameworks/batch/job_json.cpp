// A job: its top-level fields and its run's, parsed and rendered. Structured
// run fields are in run_fields.cpp, schedules in schedule_json.cpp.
#include "frameworks/batch/job_json.hpp"

#include <exception>
#include <set>

#include "frameworks/batch/job_fields.hpp"

namespace stoa::batch {

using nlohmann::json;

namespace {

// What Stoa cannot run is refused rather than ignored.
void RefuseUnsupported(JsonFields& run) {
  for (const char* image : {"docker", "ucr"}) {
    if (run.Has(image)) {
      run.errors()->Add(run.PathOf(image),
                        std::string("Stoa runs no container images: instead of run.") + image +
                            ", give the task's root filesystem in run.rootfs (a tarball or a "
                            "directory on the agent)");
    }
  }
  if (const json* artifacts = run.Array("artifacts"); artifacts != nullptr && !artifacts->empty()) {
    run.errors()->Add(run.PathOf("artifacts"),
                      "Stoa has no fetcher yet: artifacts are not supported; put the files in "
                      "run.rootfs or fetch them in cmd");
  }
  if (const json* secrets = run.Object("secrets"); secrets != nullptr && !secrets->empty()) {
    run.errors()->Add(run.PathOf("secrets"),
                      "Stoa has no secret store yet: secrets are not supported");
  }
}

// What the task runs: cmd (by sh -c) or args.
void ReadCommand(JsonFields& run, RunSpec* spec) {
  auto cmd = run.NonEmptyString("cmd");
  auto args = run.Strings("args");
  if (cmd) spec->cmd = *cmd;
  if (args) spec->args = *args;
  bool has_args = run.Has("args") && !(args && args->empty());
  if (run.Has("cmd") && has_args) {
    run.errors()->Add(run.path(), "Give either cmd or args, not both.");
  } else if (!run.Has("cmd") && !has_args && !run.Has("docker") && !run.Has("ucr")) {
    run.errors()->Add(run.path(), "Cmd or args must be specified.");
  }
}

// Stoa's extensions, as a Kubernetes Job has them.
void ReadExtensions(JsonFields& run, RunSpec* spec) {
  if (auto completions = run.Integer("completions", 1)) spec->completions = *completions;
  if (auto parallelism = run.Integer("parallelism", 1)) spec->parallelism = *parallelism;
  if (auto limit = run.Integer("backoffLimit", 0)) spec->backoff_limit = *limit;
  if (auto indexed = run.Bool("indexed")) spec->indexed = *indexed;
  if (auto rootfs = run.NonEmptyString("rootfs")) spec->rootfs = *rootfs;
}

RunSpec ReadRun(JsonFields& run, JsonErrors* notes) {
  run.AllowOnly(
      {"args",           "artifacts", "cmd",       "cpus",        "gpus",
       "disk",           "networks",  "ucr",       "docker",      "env",
       "maxLaunchDelay", "mem",       "placement", "user",        "taskKillGracePeriodSeconds",
       "restart",        "volumes",   "secrets",   "completions", "parallelism",
       "backoffLimit",   "indexed",   "rootfs"});
  RunSpec spec;
  RefuseUnsupported(run);
  ReadCommand(run, &spec);
  if (auto cpus = run.Number("cpus", 0.01)) spec.cpus = *cpus;
  if (auto mem = run.Number("mem", 32)) spec.mem = *mem;
  if (auto disk = run.Number("disk", 0)) spec.disk = *disk;
  if (auto gpus = run.Integer("gpus", 0)) {
    if (*gpus > 0) {
      run.errors()->Add(run.PathOf("gpus"), "Stoa does not schedule GPUs yet: gpus must be 0");
    }
    spec.gpus = *gpus;
  }
  if (auto user = run.String("user")) spec.user = *user;
  if (auto delay = run.Integer("maxLaunchDelay", 1)) spec.max_launch_delay_seconds = *delay;
  if (auto grace = run.Number("taskKillGracePeriodSeconds", 0)) {
    spec.task_kill_grace_period_seconds = *grace;
  }
  ReadEnv(run, &spec);
  ReadPlacement(run, &spec);
  ReadVolumes(run, &spec);
  ReadNetworks(run, &spec, notes);
  ReadRestart(run, &spec);
  ReadExtensions(run, &spec);
  return spec;
}

void ReadDependencies(JsonFields& job, JobSpec* spec) {
  std::set<std::string> seen;
  std::string twice;
  ForEachObject(job, "dependencies", [&](JsonFields& item, size_t) {
    item.Require({"id"});
    auto id = item.String("id");
    if (!id) return;
    if (!IsJobPath(*id)) {
      item.errors()->Add(item.PathOf("id"), "'" + *id + "' is not a valid job id");
      return;
    }
    if (!seen.insert(*id).second) twice += (twice.empty() ? "'" : ", '") + *id + "'";
    spec->dependencies.push_back(*id);
  });
  if (!twice.empty()) job.errors()->Add(job.PathOf("dependencies"), "has double entries: " + twice);
}

std::optional<JobWithSchedules> ReadJob(const json& body, const ScheduleChecks& checks,
                                        JsonErrors* errors, JsonErrors* notes) {
  if (!body.is_object()) {
    errors->Add("/", WrongType("object", body));
    return std::nullopt;
  }
  JsonFields job(body, "/", errors);
  job.AllowOnly({"id", "description", "dependencies", "labels", "schedules", "run"});
  job.Require({"id", "run"});
  JobWithSchedules parsed;
  JobSpec& spec = parsed.job;
  if (auto id = job.String("id")) {
    if (!IsJobPath(*id)) {
      errors->Add(job.PathOf("id"),
                  "'" + *id +
                      "' is not a valid job id: lower-case letters, digits and dashes, in names "
                      "joined by dots, each starting and ending with a letter or digit");
    }
    spec.id = *id;
  }
  if (auto description = job.String("description")) spec.description = *description;
  if (auto labels = job.StringMap("labels")) spec.labels = *labels;
  ReadDependencies(job, &spec);
  if (const json* run = job.Object("run")) {
    JsonFields run_fields(*run, job.PathOf("run"), errors);
    spec.run = ReadRun(run_fields, notes);
  }
  ForEachObject(job, "schedules", [&](JsonFields& item, size_t) {
    parsed.schedules.push_back(ReadSchedule(item, ScheduleIdRule::kJobPath, checks));
  });
  if (parsed.schedules.size() > 1) {
    errors->Add(job.PathOf("schedules"), "has " + std::to_string(parsed.schedules.size()) +
                                             " schedules, but a job has one at most");
  }
  if (!parsed.schedules.empty() && !spec.dependencies.empty()) {
    errors->Add("/", "Jobs may not have both dependencies and schedules specified");
  }
  return parsed;
}

template <typename T>
Parsed<T> Parse(const json& body, const ScheduleChecks& checks, T (*take)(JobWithSchedules&&)) {
  JsonErrors errors;
  JsonErrors notes;
  try {
    auto parsed = ReadJob(body, checks, &errors, &notes);
    if (parsed && errors.empty()) return Parsed<T>(take(std::move(*parsed)), notes.Take());
  } catch (const std::exception& e) {
    errors.Add("/", std::string("cannot be read: ") + e.what());
  }
  return Parsed<T>::Failure(errors.Take());
}

json RunJson(const RunSpec& run) {
  json out = {{"cpus", JsonNumber(run.cpus)}, {"mem", JsonNumber(run.mem)},
              {"disk", JsonNumber(run.disk)}, {"gpus", run.gpus},
              {"env", EnvJson(run)},          {"placement", PlacementJson(run)},
              {"artifacts", json::array()},   {"maxLaunchDelay", run.max_launch_delay_seconds},
              {"volumes", VolumesJson(run)},  {"restart", RestartJson(run)},
              {"secrets", json::object()},    {"networks", NetworksJson(run)}};
  if (!run.cmd.empty()) out["cmd"] = run.cmd;
  if (!run.args.empty()) out["args"] = run.args;
  if (!run.user.empty()) out["user"] = run.user;
  if (run.task_kill_grace_period_seconds) {
    out["taskKillGracePeriodSeconds"] = JsonNumber(*run.task_kill_grace_period_seconds);
  }
  if (run.completions) out["completions"] = *run.completions;
  if (run.parallelism) out["parallelism"] = *run.parallelism;
  if (run.backoff_limit) out["backoffLimit"] = *run.backoff_limit;
  if (run.indexed) out["indexed"] = true;
  if (!run.rootfs.empty()) out["rootfs"] = run.rootfs;
  return out;
}

}  // namespace

Parsed<JobWithSchedules> ParseJobWithSchedules(const json& body, const ScheduleChecks& checks) {
  return Parse<JobWithSchedules>(body, checks,
                                 [](JobWithSchedules&& parsed) { return std::move(parsed); });
}

Parsed<JobSpec> ParseJobSpec(const json& body) {
  return Parse<JobSpec>(body, {}, [](JobWithSchedules&& parsed) { return std::move(parsed.job); });
}

json RenderJobSpec(const JobSpec& spec) {
  json dependencies = json::array();
  for (const std::string& id : spec.dependencies) dependencies.push_back({{"id", id}});
  json out = {{"id", spec.id},
              {"dependencies", std::move(dependencies)},
              {"labels", json(spec.labels)},
              {"run", RunJson(spec.run)}};
  if (!spec.description.empty()) out["description"] = spec.description;
  return out;
}

}  // namespace stoa::batch

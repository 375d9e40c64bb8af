// The structured fields of a job's run (env, placement, volumes, networks,
// restart) and the reading of a schedule, for job_json.cpp. Each Read
// records its problems in `fields.errors()` and sets `spec` only from valid
// values. Internal to the batch_json library.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "frameworks/batch/job.hpp"
#include "frameworks/batch/job_json.hpp"
#include "frameworks/batch/json_fields.hpp"

namespace stoa::batch {

// Metronome's path type (a job id): names of lower-case letters, digits and
// dashes joined by dots, each starting and ending with a letter or digit.
bool IsJobPath(std::string_view id);

void ReadEnv(JsonFields& run, RunSpec* spec);
void ReadPlacement(JsonFields& run, RunSpec* spec);
void ReadVolumes(JsonFields& run, RunSpec* spec);
// Networks are checked as Metronome checks a container's, and kept; each one
// not of the host is noted in `notes`, as Stoa's tasks use the host's network.
void ReadNetworks(JsonFields& run, RunSpec* spec, JsonErrors* notes);
void ReadRestart(JsonFields& run, RunSpec* spec);

nlohmann::json EnvJson(const RunSpec& spec);
nlohmann::json PlacementJson(const RunSpec& spec);
nlohmann::json VolumesJson(const RunSpec& spec);
nlohmann::json NetworksJson(const RunSpec& spec);
nlohmann::json RestartJson(const RunSpec& spec);

// The id rule of a schedule: Metronome's schedule schema (POST
// /v1/jobs/{id}/schedules: no dots, two characters at least) or, for a
// schedule embedded in a job, the job schema's path type.
enum class ScheduleIdRule { kScheduleSchema, kJobPath };
// The schedule as far as it is valid; its problems are in fields.errors().
ScheduleSpec ReadSchedule(JsonFields& fields, ScheduleIdRule rule, const ScheduleChecks& checks);

}  // namespace stoa::batch

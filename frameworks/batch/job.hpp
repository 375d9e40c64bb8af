// The batch framework's model: jobs as Metronome defines them (a job spec
// with a run spec, and schedules), plus Stoa's extensions in the run spec
// (completions, parallelism, an indexed mode, a limit of failed tasks), and the
// runs a job has (active, then kept as history).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stoa::batch {

enum class RestartPolicy { kNever, kOnFailure };

// Metronome's placement constraint: an agent attribute ("hostname" is the
// agent's host name) compared with an operator.
struct JobConstraint {
  std::string attribute;
  std::string op;     // IS, EQ, LIKE, UNLIKE
  std::string value;  // LIKE / UNLIKE: a regular expression matched whole
  bool operator==(const JobConstraint&) const = default;
};

struct JobVolume {
  std::string container_path;
  std::string host_path;
  std::string mode;  // RO or RW
  bool operator==(const JobVolume&) const = default;
};

// Metronome's run.networks entry; Stoa's tasks use the host's network.
struct JobNetwork {
  std::string name;
  std::string mode;  // host, container/bridge, container
  std::map<std::string, std::string> labels;
  bool operator==(const JobNetwork&) const = default;
};

struct RunSpec {
  std::string cmd;                // run by sh -c; empty: args
  std::vector<std::string> args;  // run as given when cmd is empty
  double cpus = 1;
  double mem = 128;
  double disk = 0;
  int64_t gpus = 0;
  std::map<std::string, std::string> env;
  std::string user;  // empty: the framework's user
  int64_t max_launch_delay_seconds = 3600;
  std::optional<double> task_kill_grace_period_seconds;
  RestartPolicy restart_policy = RestartPolicy::kNever;
  std::optional<int64_t> active_deadline_seconds;
  std::vector<JobConstraint> constraints;
  std::vector<JobVolume> volumes;
  std::vector<JobNetwork> networks;
  std::string rootfs;  // Stoa: the task's root filesystem (a tarball or a directory)

  // Stoa's extensions, as a Kubernetes Job has them. Unset means Metronome's
  // one task per run, and they are left out of the JSON.
  std::optional<int64_t> completions;    // tasks that must succeed (default 1)
  std::optional<int64_t> parallelism;    // tasks at once (default: completions)
  std::optional<int64_t> backoff_limit;  // failed tasks after which the run fails
  bool indexed = false;                  // each task gets $STOA_TASK_INDEX 0..completions-1
  bool operator==(const RunSpec&) const = default;
};

struct JobSpec {
  std::string id;  // Metronome's path type: lower-case segments joined by '.'
  std::string description;
  std::map<std::string, std::string> labels;
  std::vector<std::string> dependencies;  // ids of jobs that must succeed first
  RunSpec run;
  bool operator==(const JobSpec&) const = default;
};

enum class ConcurrencyPolicy { kAllow, kForbid, kReplace };

struct ScheduleSpec {
  std::string id;
  std::string cron;
  std::string timezone = "UTC";
  int64_t starting_deadline_seconds = 900;
  ConcurrencyPolicy concurrency_policy = ConcurrencyPolicy::kAllow;
  bool enabled = true;
  bool operator==(const ScheduleSpec&) const = default;
};

// Metronome's run states.
enum class RunStatus { kInitial, kStarting, kActive, kSuccess, kFailed };
const char* ToString(RunStatus status);
inline bool IsFinished(RunStatus s) { return s == RunStatus::kSuccess || s == RunStatus::kFailed; }

}  // namespace stoa::batch

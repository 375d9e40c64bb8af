// The app definition (Marathon's AppDefinition) as the service framework acts
// on it. Fields Stoa does not act on yet are kept, as given, in `kept` and
// returned with the app. The field list and its rules: docs/service.md.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "frameworks/service/path_id.hpp"

namespace stoa::service {

struct PortDefinition {
  int port = 0;  // 0: a service port is assigned (and with requirePorts, any host port)
  std::string protocol = "tcp";
  std::string name;  // empty: none
  std::map<std::string, std::string> labels;
  bool operator==(const PortDefinition&) const = default;
};

enum class ConstraintOperator { kUnique, kCluster, kGroupBy, kLike, kUnlike, kMaxPer, kIs };
const char* ToString(ConstraintOperator op);

struct Constraint {
  std::string field;  // "hostname" or an agent attribute
  ConstraintOperator op = ConstraintOperator::kUnique;
  std::optional<std::string> value;
  bool operator==(const Constraint&) const = default;
};

// Marathon's health check; every protocol runs in the executor, next to the task.
struct HealthCheck {
  std::string protocol = "HTTP";  // HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP
  std::string path;               // HTTP(S) only; empty: "/"
  std::optional<int> port_index;
  std::optional<int> port;
  std::string command;  // COMMAND only
  int grace_period_seconds = 300;
  int interval_seconds = 60;
  int timeout_seconds = 20;
  int max_consecutive_failures = 3;
  int delay_seconds = 15;
  bool ignore_http1xx = false;
  std::string ip_protocol = "IPv4";
  bool operator==(const HealthCheck&) const = default;
};

// Marathon's readiness check, run by the executor as a check of the task.
struct ReadinessCheck {
  std::string name = "readinessCheck";
  std::string protocol = "HTTP";  // HTTP or HTTPS
  std::string path = "/";
  std::string port_name = "http-api";  // a port definition's name
  int interval_seconds = 30;
  int timeout_seconds = 10;
  std::vector<int> http_status_codes_for_ready = {200};
  bool preserve_last_response = false;
  bool operator==(const ReadinessCheck&) const = default;
};

// Stoa's extension: a deployment that changes an app's config rolls back to
// the app's previous version by itself once `max_failures` tasks of the new
// version have failed (crashed, or killed by their health check).
struct RollbackPolicy {
  bool enabled = true;
  int max_failures = 3;
  bool operator==(const RollbackPolicy&) const = default;
};

struct UpgradeStrategy {
  double minimum_health_capacity = 1;
  double maximum_over_capacity = 1;
  // Absent: the defaults, and not in responses (strict clients know no "rollback").
  std::optional<RollbackPolicy> rollback;
  RollbackPolicy rollback_policy() const { return rollback.value_or(RollbackPolicy{}); }
  bool operator==(const UpgradeStrategy&) const = default;
};

// When an unreachable instance is replaced (inactive) and forgotten (expunged).
struct UnreachableStrategy {
  bool enabled = true;  // false: "disabled", an unreachable instance is waited for
  int64_t inactive_after_seconds = 0;
  int64_t expunge_after_seconds = 0;
  bool operator==(const UnreachableStrategy&) const = default;
};

enum class KillSelection { kYoungestFirst, kOldestFirst };

struct HostVolume {
  std::string container_path;
  std::string host_path;
  bool read_only = true;  // mode RO (RW: false)
  bool operator==(const HostVolume&) const = default;
};

// `container` of type MESOS: its root filesystem (Stoa's extension `rootfs`)
// and host volumes are set up; the rest is kept.
struct AppContainer {
  std::string rootfs;  // a directory or tarball on the agent; empty: the host's filesystem
  std::vector<HostVolume> volumes;
  nlohmann::json given = nlohmann::json::object();  // the object as given, for responses
  bool operator==(const AppContainer&) const = default;
};

// Stoa's extension `autoscale`: the service sets the app's instances itself,
// between min and max, so that its instances' average CPU use (a share of
// the `cpus` each asked for, in percent), or the requests per second each
// gets through `stoa lb`, stays near the target, as Kubernetes' HPA does; a
// change waits `cooldown_seconds` after the last one.
struct AutoscalePolicy {
  int min_instances = 1;
  int max_instances = 1;
  double target_cpu_percent = 0;  // one of the two targets is set (> 0)
  double target_rps = 0;
  double cooldown_seconds = 60;
  bool operator==(const AutoscalePolicy&) const = default;
};

struct VersionInfo {
  std::string last_scaling_at;
  std::string last_config_change_at;
  bool operator==(const VersionInfo&) const = default;
};

struct AppDefinition {
  PathId id;
  std::optional<std::string> cmd;
  std::optional<std::vector<std::string>> args;
  std::optional<std::string> user;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;
  double cpus = 1;
  double mem = 128;
  double disk = 0;
  int gpus = 0;
  int instances = 1;
  // Stoa's extension `global` (Docker Swarm's global mode): one instance on
  // every agent the constraints allow, agents that join later included;
  // `instances` is then 1 and not acted on.
  bool global = false;
  std::vector<PortDefinition> port_definitions;
  bool require_ports = false;
  std::vector<Constraint> constraints;
  std::vector<HealthCheck> health_checks;
  std::vector<ReadinessCheck> readiness_checks;
  UpgradeStrategy upgrade_strategy;
  int backoff_seconds = 1;
  double backoff_factor = 1.15;
  int max_launch_delay_seconds = 300;
  KillSelection kill_selection = KillSelection::kYoungestFirst;
  std::optional<int> task_kill_grace_period_seconds;
  UnreachableStrategy unreachable_strategy;
  std::optional<AppContainer> container;
  std::optional<AutoscalePolicy> autoscale;
  // Set by the service, never taken from a request: `version` changes with
  // every change, `version_info.last_config_change_at` only with those that
  // need new tasks (not with scaling).
  std::string version;
  VersionInfo version_info;
  // Fields given that Stoa does not act on, returned as given.
  nlohmann::json kept = nlohmann::json::object();

  bool operator==(const AppDefinition&) const = default;
};

// True when `a` and `b` differ only in what a scale changes (instances, versions):
// then running tasks stay; otherwise they are replaced.
bool OnlyScaled(const AppDefinition& a, const AppDefinition& b);

}  // namespace stoa::service

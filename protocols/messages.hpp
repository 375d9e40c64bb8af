// The messages of every channel as plain C++ values. The codec (codec.hpp) is
// the one place that turns them into Cap'n Proto frames and back; no other file
// includes the generated headers. Enums mirror the ordinals in common.capnp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/ids.hpp"
#include "common/resources.hpp"
#include "common/status.hpp"

namespace stoa {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class TaskState {
  kStaging,
  kStarting,
  kRunning,
  kKilling,
  kFinished,
  kFailed,
  kKilled,
  kError,
  kLost,
  kDropped,
  kUnreachable,
  kGone,
  kUnknown,
};
inline constexpr int kTaskStateCount = 13;

enum class Reason {
  kNone,
  kCommandExecutorFailed,
  kContainerLaunchFailed,
  kMemoryLimit,
  kPidsLimit,
  kContainerLimitationDisk,  // the sandbox outgrew the container's disk (disk/du)
  kExecutorTerminated,
  kExecutorRegistrationTimeout,
  kFrameworkRemoved,
  kAgentRemoved,
  kAgentRestarted,
  kAgentUnknown,
  kAgentDisconnected,
  kTaskInvalid,
  kTaskUnknown,
  kTaskKilledDuringLaunch,
  kReconciliation,
  kInvalidOffers,
  kMasterDisconnected,
  kKilledByFramework,
  kAgentReregistered,
  kTaskHealthCheckStatusUpdated,  // a health check result (healthy set), or a kill it caused
  kTaskCheckStatusUpdated,        // a new result of the task's check (check_status set)
};
inline constexpr int kReasonCount = 23;

enum class Source { kMaster, kAgent, kExecutor };

// "TASK_RUNNING", "REASON_MEMORY_LIMIT", "SOURCE_AGENT": the Mesos spellings.
const char* ToString(TaskState state);
const char* ToString(Reason reason);
const char* ToString(Source source);
// True for FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE.
bool IsTerminal(TaskState state);
// Whether a task may move from `from` to `to` (e.g. RUNNING -> FINISHED, but
// never out of a terminal state, except UNREACHABLE which may come back).
bool IsValidTransition(TaskState from, TaskState to);

struct CommandInfo {
  std::string value;  // shell command when `shell`, else the program path
  bool shell = true;
  std::vector<std::string> arguments;
  Labels environment;
  std::string user;
  bool operator==(const CommandInfo&) const = default;
};

// A host path mounted into a container.
struct Volume {
  std::string host_path;       // absolute path on the agent's host
  std::string container_path;  // absolute inside a root filesystem, else relative to the sandbox
  bool read_only = true;
  bool operator==(const Volume&) const = default;
};

// How a task's container is set up (applied by the agent's isolators).
struct ContainerInfo {
  std::string rootfs;  // a directory or a tarball on the agent; empty: the host's filesystem
  std::vector<Volume> volumes;
  std::string hostname;           // in its own UTS namespace; empty: derived from the container id
  bool network_isolated = false;  // own network namespace with loopback only
  bool cpu_hard_limit = false;    // cap cpu use at `cpus` (CFS quota)
  bool operator==(const ContainerInfo&) const = default;
};

// What a check probes, next to its task (Mesos's CheckInfo and HealthCheck types).
enum class CheckType { kHttp, kTcp, kCommand };
inline constexpr int kCheckTypeCount = 3;
const char* ToString(CheckType type);  // "HTTP", "TCP", "COMMAND"

// A check the executor runs next to a task (Mesos's CheckInfo): an HTTP(S) GET
// or a TCP connect to 127.0.0.1:port (tasks share the host's network), or a
// shell command run as the task's user with the task's environment.
struct CheckInfo {
  CheckType type = CheckType::kHttp;
  uint32_t port = 0;            // kHttp, kTcp
  std::string path;             // kHttp; empty: "/"
  std::string scheme = "http";  // kHttp: "http" or "https" (the certificate is not verified)
  std::string command;          // kCommand: run by `sh -c`, exit status 0 is success
  double delay_seconds = 15;    // from the task's start to the first check
  double interval_seconds = 10;
  double timeout_seconds = 20;  // a check that takes longer fails
  bool operator==(const CheckInfo&) const = default;
};

// A health check (Mesos's HealthCheck): HTTP passes with a 2xx or 3xx answer,
// TCP with a connection, COMMAND with exit status 0.
struct HealthCheck {
  CheckInfo check;
  // Failures in a row after which the executor kills the task; 0: never.
  uint32_t consecutive_failures = 3;
  // Failures this soon after the task's start do not count until a first success.
  double grace_period_seconds = 10;
  bool operator==(const HealthCheck&) const = default;
};

// The last result of a task's check (Mesos's CheckStatusInfo). The field of
// its type is empty when the check could not produce a result (no answer in
// time, the command could not run or was killed at its timeout).
struct CheckStatus {
  CheckType type = CheckType::kHttp;
  std::optional<int32_t> http_status_code;
  std::optional<bool> tcp_succeeded;
  std::optional<int32_t> command_exit_code;
  bool operator==(const CheckStatus&) const = default;
};

// Whether a check can run as given: a port (1 to 65535) for HTTP and TCP, the
// scheme http or https, a command for COMMAND, finite times with a positive
// interval and timeout. The error names the field ("check: ...").
Status ValidateCheck(const CheckInfo& check);
Status ValidateHealthCheck(const HealthCheck& health);

struct TaskInfo {
  TaskId task_id;
  std::string name;
  AgentId agent_id;
  Resources resources;
  CommandInfo command;
  Labels labels;
  int64_t kill_grace_period_ms = 0;  // 0: the agent's default
  ContainerInfo container;
  std::optional<HealthCheck> health_check;  // run by the executor; none: never health checked
  std::optional<CheckInfo> check;           // a generic check (results only, no kill)
};

struct ExecutorInfo {
  ExecutorId executor_id;
  FrameworkId framework_id;
  Resources resources;
  bool group = false;  // a task group shares this executor
  // A group executor whose tasks have all ended stays this long for more
  // groups (the agent shuts it down then); 0: it exits at once.
  double idle_timeout_seconds = 0;
};

struct TaskStatus {
  TaskId task_id;
  TaskState state = TaskState::kStaging;
  Reason reason = Reason::kNone;
  Source source = Source::kMaster;
  std::string message;
  AgentId agent_id;
  ExecutorId executor_id;
  double timestamp = 0;  // seconds since the epoch
  std::string uuid;      // set on updates that need an acknowledgement
  int32_t exit_status = -1;
  // The last health check result of a task with a health check; none before
  // the first (or without a health check).
  std::optional<bool> healthy;
  std::optional<CheckStatus> check_status;  // the last result of the task's check
};

struct FrameworkInfo {
  FrameworkId id;
  std::string name;
  std::string user;
  std::string principal;
  std::string hostname;
  std::vector<std::string> roles;
  double failover_timeout_seconds = 0;
  bool checkpoint = false;
  bool partition_aware = false;
};

struct AgentInfo {
  AgentId id;
  std::string hostname;
  std::string address;       // host:port of the agent process
  std::string http_address;  // host:port of its HTTP API
  Resources resources;
  Labels attributes;
};

struct Task {
  TaskInfo info;
  FrameworkId framework_id;
  ExecutorId executor_id;
  TaskState state = TaskState::kStaging;
  std::vector<TaskStatus> statuses;
  std::string role;  // the role its resources are allocated to
};

struct Offer {
  OfferId id;
  FrameworkId framework_id;
  AgentId agent_id;
  std::string hostname;
  Resources resources;
  std::string agent_http_address;
  std::string role;   // the role its resources are allocated to
  Labels attributes;  // the agent's, for placement constraints
};

struct Operation {
  enum class Type { kLaunch, kLaunchGroup, kReserve, kUnreserve, kCreate, kDestroy };
  Type type = Type::kLaunch;
  std::vector<TaskInfo> tasks;  // kLaunch, kLaunchGroup
  ExecutorInfo executor;        // kLaunchGroup
  Resources resources;          // kReserve, kUnreserve, kCreate, kDestroy
};
const char* ToString(Operation::Type type);

// ---- framework -> master ----
namespace call {
struct Subscribe {
  FrameworkInfo info;  // info.id set: fail over to an existing framework
};
struct Accept {
  std::vector<OfferId> offer_ids;
  std::vector<Operation> operations;
  double refuse_seconds = 5;
};
struct Decline {
  std::vector<OfferId> offer_ids;
  double refuse_seconds = 5;
};
struct Revive {
  std::vector<std::string> roles;
};
struct Suppress {
  std::vector<std::string> roles;
};
struct Kill {
  TaskId task_id;
  AgentId agent_id;
};
struct Acknowledge {
  AgentId agent_id;
  TaskId task_id;
  std::string uuid;
};
struct Reconcile {
  std::vector<std::pair<TaskId, AgentId>> tasks;  // empty: implicit reconciliation
};
struct Teardown {};
struct Message {
  AgentId agent_id;
  ExecutorId executor_id;
  std::string data;
};
}  // namespace call

struct SchedulerCall {
  FrameworkId framework_id;
  std::variant<call::Subscribe, call::Accept, call::Decline, call::Revive, call::Suppress,
               call::Kill, call::Acknowledge, call::Reconcile, call::Teardown, call::Message>
      call;
};

// ---- master -> framework ----
namespace event {
struct Subscribed {
  FrameworkId framework_id;
  double heartbeat_interval_seconds = 0;
  std::string master_id;
};
struct Offers {
  std::vector<Offer> offers;
};
struct Rescind {
  OfferId offer_id;
};
struct Update {
  TaskStatus status;
};
struct Message {
  AgentId agent_id;
  ExecutorId executor_id;
  std::string data;
};
struct Failure {
  AgentId agent_id;
  ExecutorId executor_id;
  int32_t status = -1;
};
struct Error {
  std::string message;
  // The framework was torn down or another scheduler took it over: the
  // scheduler that gets this must stop, not resubscribe.
  bool terminal = false;
};
struct Heartbeat {};
}  // namespace event

using SchedulerEvent = std::variant<event::Subscribed, event::Offers, event::Rescind, event::Update,
                                    event::Message, event::Failure, event::Error, event::Heartbeat>;

// ---- master <-> agent ----
namespace agentmsg {
struct Register {
  AgentInfo info;  // empty id: a new agent
  std::vector<Task> tasks;
  std::vector<FrameworkInfo> frameworks;
  // Fresh for each registration cycle and strictly increasing across agent
  // restarts; retries of one cycle carry the same epoch.
  uint64_t epoch = 0;
  std::vector<ExecutorInfo> executors;  // group executors, with their own resources
};
struct Registered {
  AgentId agent_id;
  std::string master_id;
  uint64_t epoch = 0;  // of the Register this answers
};
struct Ping {
  std::string master_id;
};
struct Pong {};
struct RunTask {
  FrameworkInfo framework;
  ExecutorInfo executor;
  std::vector<TaskInfo> tasks;
  std::string role;  // the role the tasks' resources are allocated to
};
struct KillTask {
  FrameworkId framework_id;
  TaskId task_id;
};
struct StatusUpdate {
  FrameworkId framework_id;
  TaskStatus status;
};
struct StatusUpdateAck {
  FrameworkId framework_id;
  TaskId task_id;
  std::string uuid;
};
struct ShutdownFramework {
  FrameworkId framework_id;
};
struct Shutdown {
  std::string reason;
};
// The reason a master gives an agent that an operator marked gone: such an
// agent stops its executors and never registers again with that id.
inline constexpr std::string_view kAgentGoneReason =
    "this agent was marked gone and cannot come back with its id; clear its work directory to "
    "join as a new agent";
struct ReconcileTasks {
  FrameworkId framework_id;
  std::vector<TaskId> task_ids;
};
// agent -> master, with every Pong: what the agent's running containers use in total.
struct UsageReport {
  double cpu_seconds = 0;  // user + system cpu time of the running containers
  uint64_t memory_bytes = 0;
  uint64_t processes = 0;
  uint32_t containers = 0;
};
}  // namespace agentmsg

using AgentMessage =
    std::variant<agentmsg::Register, agentmsg::Registered, agentmsg::Ping, agentmsg::Pong,
                 agentmsg::RunTask, agentmsg::KillTask, agentmsg::StatusUpdate,
                 agentmsg::StatusUpdateAck, agentmsg::ShutdownFramework, agentmsg::Shutdown,
                 agentmsg::ReconcileTasks, agentmsg::UsageReport>;

// ---- agent <-> executor ----
namespace execmsg {
struct Subscribe {
  FrameworkId framework_id;
  ExecutorId executor_id;
  int32_t pid = 0;
  std::vector<TaskStatus> unacknowledged;
  std::vector<TaskInfo> launched;
  std::string secret;  // the one the agent launched it with
};
struct Launch {
  std::vector<TaskInfo> tasks;
};
struct Kill {
  TaskId task_id;
  int64_t grace_period_ms = 0;
};
struct Shutdown {
  int64_t grace_period_ms = 0;
};
struct Update {
  TaskStatus status;
};
struct Ack {
  TaskId task_id;
  std::string uuid;
};
}  // namespace execmsg

using ExecutorMessage = std::variant<execmsg::Subscribe, execmsg::Launch, execmsg::Kill,
                                     execmsg::Shutdown, execmsg::Update, execmsg::Ack>;

// ---- records kept in storage ----

struct AgentRecord {
  enum class State : uint8_t { kAdmitted, kUnreachable, kGone };
  AgentInfo info;
  State state = State::kAdmitted;
  double changed_time = 0;
};

struct ExecutorRecord {
  ExecutorInfo info;
  FrameworkInfo framework;
  ContainerId container_id;
  int32_t pid = 0;
  std::string sandbox;
  std::string secret;  // what its executor must subscribe with
};

struct TaskRecord {
  Task task;
  std::vector<TaskStatus> pending;  // unacknowledged updates, oldest first
};

// ---- envelope ----
struct Keepalive {};
struct ProtocolError {
  std::string message;
};

using Message = std::variant<SchedulerCall, SchedulerEvent, AgentMessage, ExecutorMessage,
                             Keepalive, ProtocolError>;

// For std::visit with a set of lambdas.
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace stoa

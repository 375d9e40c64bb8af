# Types shared by every channel: ids, resources, tasks, statuses, frameworks, agents.
# Enum ordinals are mirrored by the C++ enums in messages.hpp: append, never reorder.
@0xc5cb17aee84c34a0;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("stoa::proto");

struct Range {
  begin @0 :UInt64;
  end @1 :UInt64;
}

struct Resource {
  name @0 :Text;
  value :union {
    scalarMillis @1 :Int64;
    ranges @2 :List(Range);
    set @3 :List(Text);
  }
  role @4 :Text;
  principal @5 :Text;
  persistenceId @6 :Text;
  containerPath @7 :Text;
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

enum TaskState {
  staging @0;
  starting @1;
  running @2;
  killing @3;
  finished @4;
  failed @5;
  killed @6;
  error @7;
  lost @8;
  dropped @9;
  unreachable @10;
  gone @11;
  unknown @12;
}

enum Reason {
  none @0;
  commandExecutorFailed @1;
  containerLaunchFailed @2;
  memoryLimit @3;
  pidsLimit @4;
  containerLimitationDisk @5;
  executorTerminated @6;
  executorRegistrationTimeout @7;
  frameworkRemoved @8;
  agentRemoved @9;
  agentRestarted @10;
  agentUnknown @11;
  agentDisconnected @12;
  taskInvalid @13;
  taskUnknown @14;
  taskKilledDuringLaunch @15;
  reconciliation @16;
  invalidOffers @17;
  masterDisconnected @18;
  killedByFramework @19;
  agentReregistered @20;
  taskHealthCheckStatusUpdated @21;
  taskCheckStatusUpdated @22;
}

enum CheckType {
  http @0;
  tcp @1;
  command @2;
}

# A check the executor runs next to a task (CheckInfo in messages.hpp).
struct CheckInfo {
  type @0 :CheckType;
  port @1 :UInt32;
  path @2 :Text;
  scheme @3 :Text;
  command @4 :Text;
  delaySeconds @5 :Float64;
  intervalSeconds @6 :Float64;
  timeoutSeconds @7 :Float64;
}

struct HealthCheck {
  check @0 :CheckInfo;
  consecutiveFailures @1 :UInt32;
  gracePeriodSeconds @2 :Float64;
}

# The last result of a task's check: the member of its type, or none when the
# check produced no result.
struct CheckStatus {
  type @0 :CheckType;
  result :union {
    none @1 :Void;
    httpStatusCode @2 :Int32;
    tcpSucceeded @3 :Bool;
    commandExitCode @4 :Int32;
  }
}

enum Source {
  master @0;
  agent @1;
  executor @2;
}

struct CommandInfo {
  value @0 :Text;
  shell @1 :Bool = true;
  arguments @2 :List(Text);
  environment @3 :List(KeyValue);
  user @4 :Text;
}

struct Volume {
  hostPath @0 :Text;
  containerPath @1 :Text;
  readOnly @2 :Bool;
}

# How a task's container is set up: root filesystem, volumes, hostname, network.
struct ContainerInfo {
  rootfs @0 :Text;
  volumes @1 :List(Volume);
  hostname @2 :Text;
  networkIsolated @3 :Bool;
  cpuHardLimit @4 :Bool;
}

struct TaskInfo {
  taskId @0 :Text;
  name @1 :Text;
  agentId @2 :Text;
  resources @3 :List(Resource);
  command @4 :CommandInfo;
  labels @5 :List(KeyValue);
  killGracePeriodMillis @6 :Int64;
  container @7 :ContainerInfo;
  healthCheck @8 :HealthCheck;  # absent: no health check
  check @9 :CheckInfo;          # absent: no check
}

struct ExecutorInfo {
  executorId @0 :Text;
  frameworkId @1 :Text;
  resources @2 :List(Resource);
  group @3 :Bool;
  idleTimeout @4 :Float64;  # seconds a group executor stays with no task; 0: it exits at once
}

struct TaskStatus {
  taskId @0 :Text;
  state @1 :TaskState;
  reason @2 :Reason;
  source @3 :Source;
  message @4 :Text;
  agentId @5 :Text;
  executorId @6 :Text;
  timestamp @7 :Float64;
  uuid @8 :Text;
  exitStatus @9 :Int32 = -1;
  healthy :union {
    unknown @10 :Void;
    value @11 :Bool;
  }
  checkStatus @12 :CheckStatus;  # absent: no check result
}

struct FrameworkInfo {
  id @0 :Text;
  name @1 :Text;
  user @2 :Text;
  principal @3 :Text;
  hostname @4 :Text;
  roles @5 :List(Text);
  failoverTimeoutSeconds @6 :Float64;
  checkpoint @7 :Bool;
  partitionAware @8 :Bool;
}

struct AgentInfo {
  id @0 :Text;
  hostname @1 :Text;
  address @2 :Text;
  httpAddress @3 :Text;
  resources @4 :List(Resource);
  attributes @5 :List(KeyValue);
}

# A task as the agent knows it: used on reregistration.
struct Task {
  info @0 :TaskInfo;
  frameworkId @1 :Text;
  executorId @2 :Text;
  state @3 :TaskState;
  statuses @4 :List(TaskStatus);
  role @5 :Text;  # the role its resources are allocated to
}

# ---- records kept in storage (the registry, the agent's checkpoint) ----

# The registry's entry for an agent.
struct AgentRecord {
  info @0 :AgentInfo;
  state @1 :UInt8;        # AgentRecord::State in messages.hpp
  changedTime @2 :Float64;
}

# The agent's checkpoint of one executor and the framework it belongs to.
struct ExecutorRecord {
  info @0 :ExecutorInfo;
  framework @1 :FrameworkInfo;
  containerId @2 :Text;
  pid @3 :Int32;
  sandbox @4 :Text;
  secret @5 :Text;  # what its executor must subscribe with
}

# The agent's checkpoint of one task with its unacknowledged updates.
struct TaskRecord {
  task @0 :Task;
  pending @1 :List(TaskStatus);
}

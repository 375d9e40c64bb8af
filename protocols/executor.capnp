# Agent <-> executor (over ipc:// in the agent's work directory).
@0xb41af7cc971fafcd;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("stoa::proto");
using Common = import "common.capnp";

struct ExecutorMessage {
  union {
    # executor -> agent, on start and after an agent restart.
    subscribe :group {
      frameworkId @0 :Text;
      executorId @1 :Text;
      pid @2 :Int32;
      unacknowledged @3 :List(Common.TaskStatus);
      launched @4 :List(Common.TaskInfo);
      secret @12 :Text;  # STOA_EXECUTOR_SECRET: proves it is the executor the agent launched
    }
    # agent -> executor.
    launch @5 :List(Common.TaskInfo);
    kill :group {
      taskId @6 :Text;
      gracePeriodMillis @7 :Int64;
    }
    shutdown @8 :Int64;   # grace period in milliseconds
    # executor -> agent, and agent -> executor for its ack.
    update @9 :Common.TaskStatus;
    ack :group {
      ackTaskId @10 :Text;
      uuid @11 :Text;
    }
  }
}

# Master <-> agent.
@0xd48ae1bfa850558e;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("stoa::proto");
using Common = import "common.capnp";

struct AgentMessage {
  union {
    # agent -> master. An empty info.id registers a new agent; a known id reregisters.
    register :group {
      info @0 :Common.AgentInfo;
      tasks @1 :List(Common.Task);
      frameworks @2 :List(Common.FrameworkInfo);
      # Fresh for each registration cycle (strictly increasing across restarts),
      # the same on its retries: a retry never reconciles tasks away.
      epoch @25 :UInt64;
      # Group executors it runs, with their own resources (charged apart from tasks).
      executors @27 :List(Common.ExecutorInfo);
    }
    # master -> agent: the id the agent now has.
    registered :group {
      agentId @3 :Text;
      masterId @4 :Text;
      registeredEpoch @26 :UInt64;  # the epoch of the Register it answers
    }
    ping @5 :Text;   # master -> agent, carries the master's id
    pong @6 :Void;   # agent -> master
    # master -> agent: launch tasks (one per command executor, or a group).
    runTask :group {
      framework @7 :Common.FrameworkInfo;
      executor @8 :Common.ExecutorInfo;
      tasks @9 :List(Common.TaskInfo);
      runRole @28 :Text;  # the role the tasks' resources are allocated to
    }
    killTask :group {
      killFrameworkId @10 :Text;
      killTaskId @11 :Text;
    }
    # agent -> master: a status update to forward; master -> agent: its ack.
    statusUpdate :group {
      updateFrameworkId @12 :Text;
      status @13 :Common.TaskStatus;
    }
    statusUpdateAck :group {
      ackFrameworkId @14 :Text;
      ackTaskId @15 :Text;
      uuid @16 :Text;
    }
    shutdownFramework @17 :Text;
    # master -> agent: you are unknown or removed; the text says why.
    shutdown @18 :Text;
    # master -> agent: report the latest state of these tasks (reconciliation).
    reconcileTasks :group {
      reconcileFrameworkId @19 :Text;
      taskIds @20 :List(Text);
    }
    # agent -> master, with every pong: what its running containers use in total.
    usage :group {
      cpuSeconds @21 :Float64;
      memoryBytes @22 :UInt64;
      processes @23 :UInt64;
      containers @24 :UInt32;
    }
  }
}

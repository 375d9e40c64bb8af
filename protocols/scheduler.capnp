# Framework <-> master. Calls and events map one to one onto Mesos's v1 scheduler API.
@0xbca98cf5098755a8;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("stoa::proto");
using Common = import "common.capnp";

struct Offer {
  id @0 :Text;
  frameworkId @1 :Text;
  agentId @2 :Text;
  hostname @3 :Text;
  resources @4 :List(Common.Resource);
  agentHttpAddress @5 :Text;
  # The role the resources are allocated to (Mesos's allocation_info.role).
  role @6 :Text;
  # The agent's attributes (--attributes), for placement constraints.
  attributes @7 :List(Common.KeyValue);
}

struct Operation {
  union {
    launch @0 :List(Common.TaskInfo);
    launchGroup :group {
      executor @1 :Common.ExecutorInfo;
      tasks @2 :List(Common.TaskInfo);
    }
    reserve @3 :List(Common.Resource);
    unreserve @4 :List(Common.Resource);
    create @5 :List(Common.Resource);
    destroy @6 :List(Common.Resource);
  }
}

struct TaskAgent {
  taskId @0 :Text;
  agentId @1 :Text;
}

struct Call {
  frameworkId @0 :Text;
  union {
    subscribe @1 :Common.FrameworkInfo;
    accept :group {
      offerIds @2 :List(Text);
      operations @3 :List(Operation);
      refuseSeconds @4 :Float64 = 5.0;
    }
    decline :group {
      offerIds @5 :List(Text);
      declineRefuseSeconds @6 :Float64 = 5.0;
    }
    revive @7 :List(Text);
    suppress @8 :List(Text);
    kill :group {
      taskId @9 :Text;
      agentId @10 :Text;
    }
    acknowledge :group {
      ackAgentId @11 :Text;
      ackTaskId @12 :Text;
      uuid @13 :Text;
    }
    reconcile @14 :List(TaskAgent);
    teardown @15 :Void;
    message :group {
      msgAgentId @16 :Text;
      executorId @17 :Text;
      data @18 :Data;
    }
  }
}

struct Event {
  union {
    subscribed :group {
      frameworkId @0 :Text;
      heartbeatIntervalSeconds @1 :Float64;
      masterId @2 :Text;
    }
    offers @3 :List(Offer);
    rescind @4 :Text;
    update @5 :Common.TaskStatus;
    message :group {
      agentId @6 :Text;
      executorId @7 :Text;
      data @8 :Data;
    }
    failure :group {
      failureAgentId @9 :Text;
      failureExecutorId @10 :Text;
      status @11 :Int32;
    }
    # `terminal`: the framework was torn down or failed over to another
    # scheduler; this scheduler must stop, not resubscribe.
    error :group {
      errorMessage @12 :Text;
      terminal @14 :Bool;
    }
    heartbeat @13 :Void;
  }
}

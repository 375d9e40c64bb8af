# Every frame on every socket is one Envelope. `version` lets peers refuse
# what they do not speak instead of misreading it.
@0xa0cca624492755ac;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("stoa::proto");
using Scheduler = import "scheduler.capnp";
using Agent = import "agent.capnp";
using Executor = import "executor.capnp";

const protocolVersion :UInt32 = 1;

struct Envelope {
  version @0 :UInt32;
  union {
    call @1 :Scheduler.Call;
    event @2 :Scheduler.Event;
    agent @3 :Agent.AgentMessage;
    executor @4 :Executor.ExecutorMessage;
    keepalive @5 :Void;
    # A frame the receiver could not decode or accept; the text says why.
    error @6 :Text;
  }
}

// The operator views (/state JSON, /metrics Prometheus text) rendered from a
// MasterSnapshot: a plain copy of what they show, which the master actor
// hands out, so that rendering runs on the HTTP thread and not on the actor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/transport.hpp"
#include "master/agent_book.hpp"
#include "master/framework_book.hpp"
#include "master/offer_book.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

// Counters the master keeps for /metrics.
// (Frames received and malformed ones are the transport's EndpointCounters.)
struct MasterCounters {
  uint64_t refused_messages = 0;  // decoded, but of a kind the master does not take
  uint64_t status_updates = 0, snapshots = 0;
  uint64_t tasks_launched = 0, offers_sent = 0, allocation_rounds = 0;
  double allocation_seconds_total = 0, last_allocation_seconds = 0;
};

struct MasterSnapshot {
  struct AgentView {
    AgentInfo info;
    bool reachable = true;
    double registered_time = 0;
    Resources used;
    Resources offered;
    agentmsg::UsageReport usage;
  };
  struct FrameworkView {
    FrameworkInfo info;
    bool connected = false;
    bool active = false;
    double registered_time = 0;
    size_t offers = 0;
    std::vector<Task> tasks;  // when taken with tasks
    // When taken with tasks; shared with the books, since they never change.
    std::vector<std::shared_ptr<const Task>> completed_tasks;
  };

  std::string master_id;
  std::string address;
  double start_time = 0;
  std::vector<AgentId> recovered_agents;
  std::vector<AgentView> agents;
  std::vector<FrameworkView> frameworks;
  std::vector<FrameworkView> completed_frameworks;  // when taken with tasks
  size_t completed_framework_count = 0;
  std::vector<uint64_t> tasks_by_state;  // active and completed, by TaskState
  size_t offers_outstanding = 0;
  MasterCounters counters;
};

// Copies what the views need out of the books. Without `with_tasks` the
// frameworks' task lists and the completed frameworks stay empty (the metrics
// need only the counts).
MasterSnapshot TakeSnapshot(const FrameworkBook& frameworks, const AgentBook& agents,
                            const OfferBook& offers, bool with_tasks);

// The /state document (fields as README documents them).
std::string RenderState(const MasterSnapshot& snapshot);
// The /metrics text (Prometheus exposition format 0.0.4), with the master
// endpoint's `transport` counters; `wall_now` for uptime.
std::string RenderMetrics(const MasterSnapshot& snapshot, const EndpointCounters& transport,
                          double wall_now);

// Concurrent readers of one view share one answer: a caller that arrives
// while an answer is being made (asked of the actor and rendered) waits for
// it and returns it too, so N dashboards polling together cost one snapshot
// and one rendering. Thread-safe.
class SharedAnswer {
 public:
  // An answer made after this call began: its own `make`'s, or that of the
  // call making one for every caller that arrived while the previous one was
  // being made (so N readers at once cost about two). A `make` that throws
  // throws to its caller; the others go on.
  std::string Get(const std::function<std::string()>& make);
  // Callers waiting for an answer being made (for tests).
  size_t waiting() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable done_;
  bool making_ = false;
  uint64_t round_ = 0;  // answers made so far
  size_t waiting_ = 0;
  std::string answer_;  // the last one made
};

}  // namespace stoa::master

// ACCEPT as a pure plan: PlanAccept checks the offers, each operation, its
// executor's resources and its tasks against the books without changing
// them, and says what to launch, what to refuse and what is left over. The
// master applies the plan (takes the offers, books the launches, sends).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "master/agent_book.hpp"
#include "master/framework_book.hpp"
#include "master/offer_book.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

struct AcceptPlan {
  // One RunTask: a command task with its own executor, or a whole task group.
  struct Launch {
    ExecutorInfo executor;
    std::vector<TaskInfo> tasks;  // with agent_id set
    bool group = false;
    Resources executor_charge;  // what a new group executor takes from the offers
  };

  // True when the offers are usable: they are all taken. Otherwise the ones
  // still outstanding for the framework (`offers_to_recover`) go back to the
  // allocator without a rescind, and every task is refused.
  bool offers_valid = false;
  std::vector<OfferId> offers_to_recover;
  AgentId agent_id;
  std::string role;  // the allocation role of the launched tasks: the first offer's
  // What the framework hears, in order: errors for operations and updates
  // for refused tasks.
  std::vector<SchedulerEvent> events;
  std::vector<Launch> launches;
  // Offered and not used: declined with the ACCEPT's refuse filter.
  Resources leftover;
};

// Plans `accept` for `framework`. `new_id(prefix)` makes the ids of new
// executors; `wall_now` stamps the updates of refused tasks.
AcceptPlan PlanAccept(const Framework& framework, const call::Accept& accept,
                      const OfferBook& offers, const AgentBook& agents,
                      const std::function<std::string(const std::string&)>& new_id,
                      double wall_now);

}  // namespace stoa::master

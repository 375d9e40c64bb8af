#include "master/accept.hpp"

#include <set>
#include <utility>

#include "master/tasks.hpp"
#include "master/validation.hpp"

namespace stoa::master {
namespace {

// The offers must be outstanding, this framework's, and all on one agent.
std::string CheckOffers(const Framework& framework, const call::Accept& accept,
                        const OfferBook& offers, AcceptPlan& plan) {
  if (accept.offer_ids.empty()) return "ACCEPT names no offers";
  std::set<OfferId> seen;
  for (const auto& offer_id : accept.offer_ids) {
    if (!seen.insert(offer_id).second) return "offer '" + offer_id + "' is named twice";
    if (!offers.IsOutstandingFor(framework.info.id, offer_id)) {
      return "offer '" + offer_id +
             "' is not outstanding for this framework (rescinded, declined, used or never made)";
    }
    const Offer& offer = offers.Find(offer_id)->offer;
    if (!plan.agent_id.empty() && offer.agent_id != plan.agent_id) {
      return "offers of one ACCEPT must all be on the same agent";
    }
    if (!plan.agent_id.empty() && offer.role != plan.role) {
      // As Mesos: the tasks' resources are allocated to one role.
      return "offers of one ACCEPT must all be allocated to the same role ('" + plan.role +
             "' and '" + offer.role + "')";
    }
    plan.agent_id = offer.agent_id;
    plan.role = offer.role;
  }
  return "";
}

}  // namespace

AcceptPlan PlanAccept(const Framework& framework, const call::Accept& accept,
                      const OfferBook& offers, const AgentBook& agents,
                      const std::function<std::string(const std::string&)>& new_id,
                      double wall_now) {
  AcceptPlan plan;
  std::string offer_error = CheckOffers(framework, accept, offers, plan);
  Resources offered;
  plan.offers_valid = offer_error.empty();
  if (plan.offers_valid) {
    for (const auto& offer_id : accept.offer_ids) {
      const Offer& offer = offers.Find(offer_id)->offer;
      offered += offer.resources;
    }
  } else {
    plan.agent_id.clear();
    std::set<OfferId> seen;
    for (const auto& offer_id : accept.offer_ids) {
      if (offers.IsOutstandingFor(framework.info.id, offer_id) && seen.insert(offer_id).second) {
        plan.offers_to_recover.push_back(offer_id);
      }
    }
  }

  const AgentId& agent_id = plan.agent_id;
  const Agent* agent = plan.offers_valid ? agents.Find(agent_id) : nullptr;
  bool agent_usable = agent != nullptr && agent->reachable();
  Resources remaining = offered;
  // Ids of this ACCEPT's launches; with the framework's own tasks, the ids in use.
  std::set<TaskId> planned_ids;
  std::set<ExecutorId> planned_executors;  // group executors charged by an earlier operation
  auto in_use = [&](const TaskId& id) {
    return framework.tasks.count(id) > 0 || planned_ids.count(id) > 0;
  };
  size_t task_count = 0;
  for (const auto& operation : accept.operations) task_count += operation.tasks.size();

  for (const auto& operation : accept.operations) {
    if (operation.type != Operation::Type::kLaunch &&
        operation.type != Operation::Type::kLaunchGroup) {
      plan.events.push_back(event::Error{std::string("operation ") + ToString(operation.type) +
                                         " is not supported by this master yet"});
      continue;
    }
    std::string group_error;
    if (!offer_error.empty()) {
      group_error = offer_error;
    } else if (!agent_usable) {
      group_error = "agent '" + agent_id + "' is no longer reachable";
    } else if (task_count > kMaxTasksPerAccept) {
      group_error = "ACCEPT launches " + std::to_string(task_count) + " tasks; at most " +
                    std::to_string(kMaxTasksPerAccept) + " are allowed";
    } else if (operation.tasks.empty()) {
      plan.events.push_back(event::Error{"a launch operation has no tasks"});
      continue;
    }
    bool is_group = operation.type == Operation::Type::kLaunchGroup;
    ExecutorInfo executor = operation.executor;
    executor.framework_id = framework.info.id;
    Resources executor_charge;
    if (group_error.empty() && is_group) {
      if (executor.executor_id.empty()) executor.executor_id = new_id("executor-");
      bool known = agent->executors.count({framework.info.id, executor.executor_id}) > 0 ||
                   planned_executors.count(executor.executor_id) > 0;
      constexpr double kMaxIdleTimeout = 24 * 3600;
      if (Status s = ValidateId("executor", executor.executor_id); !s.ok()) {
        group_error = s.message();
      } else if (!(executor.idle_timeout_seconds >= 0) ||
                 executor.idle_timeout_seconds > kMaxIdleTimeout) {
        group_error = "executor '" + executor.executor_id + "': idle_timeout_seconds must be " +
                      "between 0 and 86400";
      } else if (executor.idle_timeout_seconds > 0 && !executor.resources.empty()) {
        // Its charge would end with its last task while it stays.
        group_error = "executor '" + executor.executor_id +
                      "': an executor that stays (idle_timeout_seconds > 0) takes no resources "
                      "of its own; give them to its tasks";
      } else if (!known && !executor.resources.empty()) {
        if (Status r = ValidateTaskResources(executor.resources); !r.ok()) {
          group_error = "executor '" + executor.executor_id + "': " + r.message();
        } else if (!remaining.Contains(executor.resources)) {
          group_error = "executor '" + executor.executor_id + "': resources " +
                        executor.resources.ToString() + " are not in the offered " +
                        remaining.ToString();
        } else {
          executor_charge = executor.resources;
        }
      }
    }
    Resources before = remaining;
    remaining -= executor_charge;
    // Validate every task; a group is launched whole or not at all.
    std::set<TaskId> group_ids;
    std::vector<TaskInfo> tasks = operation.tasks;
    std::vector<std::string> task_errors(tasks.size());
    bool any_task_error = false;
    std::string first_task_error;
    for (size_t i = 0; i < tasks.size() && group_error.empty(); ++i) {
      TaskInfo& task = tasks[i];
      auto group_in_use = [&](const TaskId& id) { return in_use(id) || group_ids.count(id) > 0; };
      Status valid = ValidateTaskIndexed(task, agent_id, remaining, group_in_use);
      if (!valid.ok()) {
        task_errors[i] = valid.message();
        if (!any_task_error) first_task_error = valid.message();
        any_task_error = true;
        continue;
      }
      task.agent_id = agent_id;
      remaining -= task.resources;
      group_ids.insert(task.task_id);
    }
    if (is_group && any_task_error && group_error.empty()) {
      group_error = "the task group is invalid: " + first_task_error;
      remaining = before;
    }
    std::vector<TaskInfo> launched;
    for (size_t i = 0; i < tasks.size(); ++i) {
      std::string error = group_error.empty() ? task_errors[i] : group_error;
      if (error.empty()) {
        launched.push_back(tasks[i]);
        continue;
      }
      Task rejected;
      rejected.info = tasks[i];
      rejected.framework_id = framework.info.id;
      bool dropped = !offer_error.empty() || !agent_usable;
      TaskStatus status =
          MasterStatus(rejected, dropped ? TaskState::kDropped : TaskState::kError,
                       dropped ? Reason::kInvalidOffers : Reason::kTaskInvalid, error, wall_now);
      if (dropped && !framework.info.partition_aware) status.state = TaskState::kLost;
      plan.events.push_back(event::Update{status});
    }
    if (launched.empty()) continue;
    for (const auto& task : launched) planned_ids.insert(task.task_id);
    if (!is_group) {
      for (auto& task : launched) {
        ExecutorInfo command_executor;
        // Its own id, not the task's: a task id reused while the old
        // container is still being torn down on the agent names a new one.
        command_executor.executor_id = new_id(
            task.task_id.size() <= kMaxIdLength - 46 ? task.task_id + ".executor-" : "executor-");
        command_executor.framework_id = framework.info.id;
        plan.launches.push_back(AcceptPlan::Launch{command_executor, {task}, false, {}});
      }
    } else {
      executor.group = true;
      planned_executors.insert(executor.executor_id);
      plan.launches.push_back(
          AcceptPlan::Launch{executor, std::move(launched), true, executor_charge});
    }
  }
  if (plan.offers_valid) plan.leftover = remaining;
  return plan;
}

}  // namespace stoa::master

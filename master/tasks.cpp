#include "master/tasks.hpp"

namespace stoa::master {

TaskStatus MasterStatus(const Task& task, TaskState state, Reason reason,
                        const std::string& message, double wall_now) {
  TaskStatus status;
  status.task_id = task.info.task_id;
  status.state = state;
  status.reason = reason;
  status.source = Source::kMaster;
  status.message = message;
  status.agent_id = task.info.agent_id;
  status.executor_id = task.executor_id;
  status.timestamp = wall_now;
  return status;
}

TaskStatus UnknownTaskStatus(const Framework& framework, const TaskId& task_id,
                             const AgentId& agent_id, const std::string& message, double wall_now) {
  TaskStatus status;
  status.task_id = task_id;
  status.agent_id = agent_id;
  status.state = framework.info.partition_aware ? TaskState::kUnknown : TaskState::kLost;
  status.reason = Reason::kReconciliation;
  status.source = Source::kMaster;
  status.message = message;
  status.timestamp = wall_now;
  return status;
}

bool HoldsResources(TaskState state) {
  return !IsTerminal(state) && state != TaskState::kUnreachable;
}

void BookLaunch(Framework& framework, Agent& agent, const ExecutorInfo& executor,
                const TaskInfo& info, const std::string& role) {
  Task task;
  task.role = role;
  task.info = info;
  task.framework_id = framework.info.id;
  task.executor_id = executor.executor_id;
  task.state = TaskState::kStaging;
  agent.used += info.resources;
  agent.tasks.insert({framework.info.id, info.task_id});
  framework.tasks[info.task_id] = std::move(task);
}

void ChargeExecutor(Agent& agent, const FrameworkId& framework_id, const ExecutorId& executor_id,
                    const Resources& charge, int tasks, const std::string& role) {
  auto [it, fresh] =
      agent.executors.try_emplace({framework_id, executor_id}, ExecutorCharge{charge, 0, role});
  if (fresh) agent.used += charge;
  it->second.live_tasks += tasks;
}

Result<std::optional<Recovery>> Transition(Task& task, Agent* agent, const TaskStatus& status) {
  TaskState from = task.state;
  if (!IsValidTransition(from, status.state)) {
    return Status::Error(std::string("task '") + task.info.task_id + "' cannot go from " +
                         ToString(from) + " to " + ToString(status.state));
  }
  // As Mesos's master keeps them: one status per state in a row, the latest,
  // so that a task's health updates (RUNNING after RUNNING) do not pile up.
  if (!task.statuses.empty() && task.statuses.back().state == status.state) {
    task.statuses.back() = status;
  } else {
    task.statuses.push_back(status);
  }
  task.state = status.state;
  if (agent == nullptr) return std::optional<Recovery>();
  Resources freed;
  if (!HoldsResources(from) && HoldsResources(task.state)) {
    agent->used += task.info.resources;  // an UNREACHABLE task found running again
  }
  if (HoldsResources(from) && !HoldsResources(task.state)) {
    agent->used -= task.info.resources;
    freed += task.info.resources;
  }
  if (!IsTerminal(from) && IsTerminal(task.state)) {
    auto executor = agent->executors.find({task.framework_id, task.executor_id});
    if (executor != agent->executors.end() && --executor->second.live_tasks <= 0) {
      agent->used -= executor->second.resources;
      freed += executor->second.resources;
      agent->executors.erase(executor);
    }
  }
  if (!agent->reachable() || freed.empty()) return std::optional<Recovery>();
  return std::optional<Recovery>(Recovery{task.framework_id, agent->info.id, freed, task.role});
}

bool ReportedByItsAgent(const Task& task, const AgentId& agent_id) {
  return task.info.agent_id == agent_id;
}

ReportedTask JudgeReportedTask(const Framework& framework, const AgentId& agent_id,
                               const Task& reported, const AgentDebts& debts) {
  // A task the framework was told had ended (e.g. LOST while its agent was
  // unreachable), or whose id now runs elsewhere, must not come back.
  auto known = framework.tasks.find(reported.info.task_id);
  bool elsewhere = known != framework.tasks.end() && known->second.info.agent_id != agent_id &&
                   !IsTerminal(known->second.state);
  TaskKey key{reported.framework_id, reported.info.task_id};
  bool ended_here = known == framework.tasks.end() && debts.ended.count(key) > 0;
  if (elsewhere || ended_here) {
    return IsTerminal(reported.state) ? ReportedTask::kIgnore : ReportedTask::kKill;
  }
  // A kill asked for while the agent was away is delivered now; the task
  // stays booked until the agent reports that it ended.
  if (debts.kills.count(key) > 0 && !IsTerminal(reported.state)) {
    return ReportedTask::kAdoptAndKill;
  }
  return ReportedTask::kAdopt;
}

void CompleteTask(FrameworkBook& frameworks, Framework& framework,
                  std::map<TaskId, Task>::iterator it, Agent* agent) {
  if (agent != nullptr) agent->tasks.erase({framework.info.id, it->first});
  frameworks.CompleteTask(framework, it);
}

}  // namespace stoa::master

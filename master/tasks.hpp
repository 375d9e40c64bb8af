// The task state machine as the master keeps it: booking a launch, the one
// checked Transition that moves resources exactly once, and completing a task.
// Plain functions over the books: no actor, no transport, no clock of their
// own. What must go back to the allocator is returned, not sent.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "master/agent_book.hpp"
#include "master/framework_book.hpp"
#include "protocols/messages.hpp"

namespace stoa::master {

// Resources a framework's tasks no longer hold on an agent, for Allocator::Recover.
struct Recovery {
  FrameworkId framework_id;
  AgentId agent_id;
  Resources resources;
  std::string role;
};

// A status the master itself writes about `task`, at wall time `wall_now`.
TaskStatus MasterStatus(const Task& task, TaskState state, Reason reason,
                        const std::string& message, double wall_now);
// The answer about a task the master does not know: UNKNOWN for
// partition-aware frameworks, LOST otherwise.
TaskStatus UnknownTaskStatus(const Framework& framework, const TaskId& task_id,
                             const AgentId& agent_id, const std::string& message, double wall_now);

// Whether a task in `state` holds its resources on its agent: live and not
// UNREACHABLE (whose agent the allocator has already dropped).
bool HoldsResources(TaskState state);

// Books a task launched on `agent` with `executor`: STAGING, charged to the
// agent. REQUIRES: the framework has no task with this id.
void BookLaunch(Framework& framework, Agent& agent, const ExecutorInfo& executor,
                const TaskInfo& info, const std::string& role);
// Charges a group executor's own resources (allocated to `role`) to `agent`
// the first time it is seen there, and counts `tasks` more live tasks for it.
void ChargeExecutor(Agent& agent, const FrameworkId& framework_id, const ExecutorId& executor_id,
                    const Resources& charge, int tasks, const std::string& role);

// The one place a task changes state. Refuses (with the reason) a move that
// IsValidTransition forbids. A task leaving the set of states that hold
// resources frees them on `agent` once (and one found again after
// UNREACHABLE holds them again); a group executor's charge goes with
// the last of its tasks to end. Returns what the allocator must get back
// (nothing when the agent is unreachable or unknown: the allocator has
// already dropped it). `agent` may be null (the agent was removed).
// `task.statuses` keeps the latest status of each run of one state.
Result<std::optional<Recovery>> Transition(Task& task, Agent* agent, const TaskStatus& status);

// Whether an update about `task` from agent `agent_id` may be applied: only
// the agent the task runs on speaks for it (a reused id may name a task that
// now runs elsewhere).
bool ReportedByItsAgent(const Task& task, const AgentId& agent_id);

// What to do with a task an agent reports when it (re)registers.
enum class ReportedTask {
  kAdopt,         // book it as the agent reports it
  kAdoptAndKill,  // book it and deliver the kill asked for while the agent was away
  kKill,          // the master ended it, or its id now runs elsewhere: kill it, do not book it
  kIgnore,        // as kKill, but it has already ended: nothing to do
};
ReportedTask JudgeReportedTask(const Framework& framework, const AgentId& agent_id,
                               const Task& reported, const AgentDebts& debts);

// Moves a task out of the live books into the framework's completed tasks
// and off its agent's list.
void CompleteTask(FrameworkBook& frameworks, Framework& framework,
                  std::map<TaskId, Task>::iterator it, Agent* agent);

}  // namespace stoa::master

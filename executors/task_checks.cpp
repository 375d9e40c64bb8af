// stoa-executor's health checks and checks of its tasks: each probe runs
// beside the loop (HTTP and TCP on threads, COMMAND as a process reaped with
// the tasks), its result is judged by the task's HealthChecker and reported
// in a TASK_RUNNING update, and a task that fails its health check too often
// in a row is killed, as Mesos's executors do.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "common/duration.hpp"
#include "executors/executor_impl.hpp"

namespace stoa::executors {

Status Executor::Impl::CheckChecks(const TaskInfo& info) const {
  if (info.health_check) {
    if (Status s = ValidateHealthCheck(*info.health_check); !s.ok()) return s;
  }
  if (info.check) return ValidateCheck(*info.check);
  return Status::Ok();
}

void Executor::Impl::StartChecks(Task& task) {
  double now = MonotonicSeconds();
  if (task.info.health_check) task.health = HealthChecker::ForHealth(*task.info.health_check, now);
  if (task.info.check) task.check = HealthChecker::ForCheck(*task.info.check, now);
}

double Executor::Impl::NextCheckDeadline() const {
  double deadline = kNever;
  for (const auto& [id, task] : tasks) {
    for (const auto* checker : {&task.health, &task.check}) {
      if (!checker->has_value()) continue;
      deadline = std::min({deadline, (*checker)->NextProbeAt(), (*checker)->Deadline()});
    }
  }
  return deadline;
}

void Executor::Impl::RunChecks(double now) {
  for (auto& [id, task] : tasks) {
    for (auto* checker : {&task.health, &task.check}) {
      if (!checker->has_value()) continue;
      HealthChecker& running = **checker;
      if (running.in_flight() != 0 && now >= running.Deadline()) {
        uint64_t probe = running.in_flight();
        for (const auto& [pid, owned] : probe_of_pid) {
          if (owned == probe) killpg(pid, SIGKILL);  // reaped (and ignored) later
        }
        probes.erase(probe);
        Judge(task, running, running.TimedOut(now));
      }
      // Judging may have killed the task and stopped its checks.
      if (checker->has_value() && now >= (*checker)->NextProbeAt()) {
        StartProbe(task, **checker, now);
      }
    }
  }
}

void Executor::Impl::StartProbe(Task& task, HealthChecker& checker, double now) {
  uint64_t id = ++last_probe_id;
  const CheckInfo& check = checker.check();
  checker.Started(id, now);
  probes[id] = ProbeOwner{task.info.task_id, checker.is_health()};
  switch (check.type) {
    case CheckType::kHttp:
      probe_threads.Start(
          id, [check](const std::atomic<bool>& cancelled) { return ProbeHttp(check, cancelled); });
      return;
    case CheckType::kTcp:
      probe_threads.Start(
          id, [check](const std::atomic<bool>& cancelled) { return ProbeTcp(check, cancelled); });
      return;
    case CheckType::kCommand: {
      Result<pid_t> pid = SpawnCheckCommand(task, check.command);
      if (pid.ok()) {
        probe_of_pid[*pid] = id;
      } else {
        ProbeEnded(id, CommandNotStarted(pid.error()));
      }
      return;
    }
  }
}

void Executor::Impl::TakeProbeResults() {
  for (const auto& [id, result] : probe_threads.TakeFinished()) ProbeEnded(id, result);
}

bool Executor::Impl::ReapedProbe(pid_t pid, int wait_status) {
  auto found = probe_of_pid.find(pid);
  if (found == probe_of_pid.end()) return false;
  uint64_t id = found->second;
  probe_of_pid.erase(found);
  killpg(pid, SIGKILL);  // what the check command left behind ends with it
  ProbeEnded(id, JudgeCommand(wait_status));
  return true;
}

void Executor::Impl::ProbeEnded(uint64_t id, const ProbeResult& result) {
  auto owner = probes.find(id);
  if (owner == probes.end()) return;  // timed out already, or its task stopped checking
  ProbeOwner who = owner->second;
  probes.erase(owner);
  auto task = tasks.find(who.task_id);
  if (task == tasks.end()) return;
  std::optional<HealthChecker>& checker = who.health ? task->second.health : task->second.check;
  if (!checker || checker->in_flight() != id) return;
  Judge(task->second, *checker, checker->Finished(result, MonotonicSeconds()));
}

void Executor::Impl::Judge(Task& task, HealthChecker& checker, const CheckVerdict& verdict) {
  if (!verdict.report || IsTerminal(task.state) || task.kill_requested) return;
  if (checker.is_health()) {
    task.healthy = verdict.healthy;
    SendUpdate(task, TaskState::kRunning, Reason::kTaskHealthCheckStatusUpdated, verdict.message);
  } else {
    task.check_status = verdict.check_status;
    SendUpdate(task, TaskState::kRunning, Reason::kTaskCheckStatusUpdated, verdict.message);
  }
  if (!verdict.kill) return;
  int failures = checker.consecutive_failures();
  std::string times = std::to_string(failures) + " time" + (failures == 1 ? "" : "s") +
                      " in a row: " + verdict.cause;
  task.unhealthy_cause = times;
  log->warn("{} task={}: failed its health check {}; killing it", ids, task.info.task_id, times);
  KillTask(task, KillGrace(task, 0), Reason::kTaskHealthCheckStatusUpdated,
           "Task failed its health check " + times);
}

void Executor::Impl::StopChecks(Task& task) {
  for (auto* checker : {&task.health, &task.check}) {
    if (!checker->has_value()) continue;
    uint64_t probe = (*checker)->in_flight();
    if (probe != 0) {
      probes.erase(probe);  // its result, should it come, is dropped
      for (const auto& [pid, owned] : probe_of_pid) {
        if (owned == probe) killpg(pid, SIGKILL);
      }
    }
    checker->reset();
  }
}

Result<pid_t> Executor::Impl::SpawnCheckCommand(const Task& task, const std::string& command) {
  isolators::ProcessPlan plan;
  if (std::optional<SpawnError> error = PlanAsTask(task, plan, nullptr)) {
    return Status::Error(error->message);
  }
  plan.program = "/bin/sh";
  plan.arguments = {"sh", "-c", command};
  if (config.rootfs.empty()) {
    if (!task.directory.valid()) return Status::Error("the task has no sandbox");
    plan.working_directory_fd = task.directory.get();
  }
  // Its output goes to the executor's stderr, as Mesos's checks' does.
  plan.stdout_fd = STDERR_FILENO;
  plan.new_process_group = true;  // killed as a whole at its timeout
  plan.die_with_parent = true;
  Result<isolators::ChildProcess> child = isolators::Launch(std::move(plan));
  if (!child.ok()) return Status::Error(child.error());
  return child->pid();
}

}  // namespace stoa::executors

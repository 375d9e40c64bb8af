#include "agent/agent.hpp"

#include <limits.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "agent/checkpoint.hpp"
#include "agent/containerizer.hpp"
#include "agent/status_update_manager.hpp"
#include "common/detector.hpp"
#include "common/duration.hpp"
#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "common/transport.hpp"
#include "common/zookeeper.hpp"
#include "protocols/codec.hpp"

namespace stoa::agent {
// A container launch handed to the launcher actor, and how it went.
struct LaunchRequest {
  ContainerConfig config;
  ExitCallback on_exit;
};
struct LaunchResult {
  pid_t pid = 0;
  std::string error;  // empty on success
};
}  // namespace stoa::agent

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::agent::LaunchRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::agent::LaunchResult)

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using recv_atom = caf::atom_constant<caf::atom("recv")>;
using exec_recv_atom = caf::atom_constant<caf::atom("execrecv")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using launch_atom = caf::atom_constant<caf::atom("launch")>;

// Launches block (isolators prepare cgroups and mounts; a root filesystem
// tarball is unpacked on first use), so they run here, off the agent actor.
caf::behavior LauncherActor(caf::event_based_actor*, std::shared_ptr<Containerizer> containerizer) {
  return {
      [containerizer](launch_atom, const LaunchRequest& request) {
        Result<pid_t> pid = containerizer->Launch(request.config, request.on_exit);
        return pid.ok() ? LaunchResult{*pid, ""} : LaunchResult{0, pid.error()};
      },
  };
}
using escalate_atom = caf::atom_constant<caf::atom("escalate")>;
using state_atom = caf::atom_constant<caf::atom("state")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using leader_atom = caf::atom_constant<caf::atom("leader")>;

constexpr const char* kMasterConnection = "master";

caf::timespan Seconds(double seconds) {
  return std::chrono::duration_cast<caf::timespan>(std::chrono::duration<double>(seconds));
}

std::string Hostname() {
  char name[HOST_NAME_MAX + 1] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::string DefaultExecutorPath() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) return "stoa-executor";
  return (self.parent_path() / "stoa-executor").string();
}

// Tells the agent actor, once the container of an executor ended, how it ended.
// It holds the actor weakly: the containerizer must not keep a stopped agent alive.
ExitCallback NotifyExited(const caf::actor& agent, FrameworkId framework_id, ExecutorId executor_id,
                          ContainerId container_id) {
  return [address = caf::actor_cast<caf::actor_addr>(agent), framework_id = std::move(framework_id),
          executor_id = std::move(executor_id),
          container_id = std::move(container_id)](const ContainerTermination& termination) {
    auto agent = caf::actor_cast<caf::actor>(address);
    if (!agent) return;
    const auto& limitation = termination.limitation;
    caf::anon_send(agent, exited_atom::value, framework_id, executor_id, container_id,
                   termination.wait_status,
                   static_cast<int>(limitation ? limitation->reason : Reason::kNone),
                   limitation ? limitation->message : std::string());
  };
}

struct ExecutorEntry {
  ExecutorInfo info;
  std::string container_id;
  std::string sandbox;
  pid_t pid = 0;
  std::string peer;  // the executor's identity on our ROUTER, once subscribed
  bool subscribed = false;
  bool shutting_down = false;
  bool launching = false;        // the launcher has not answered yet
  bool exited = false;           // its container ended
  std::vector<TaskInfo> queued;  // waiting for the executor to subscribe
  std::map<TaskId, Task> tasks;
  std::set<TaskId> killing;
};

struct FrameworkEntry {
  FrameworkInfo info;
  std::map<ExecutorId, ExecutorEntry> executors;
};

class AgentActor : public caf::event_based_actor {
 public:
  AgentActor(caf::actor_config& config, AgentOptions options, AgentInfo info, ZmqEndpoint* endpoint,
             std::string executor_endpoint, std::shared_ptr<Checkpoint> checkpoint,
             std::shared_ptr<RecoveredState> recovered,
             std::shared_ptr<Containerizer> containerizer)
      : caf::event_based_actor(config),
        executor_endpoint_(std::move(executor_endpoint)),
        options_(std::move(options)),
        info_(std::move(info)),
        endpoint_(endpoint),
        log_(Logger("agent")),
        checkpoint_(std::move(checkpoint)),
        recovered_(std::move(recovered)),
        peer_identity_(NewId("agent-peer-")) {
    containerizer_ = std::move(containerizer);
  }

  const char* name() const override { return "stoa.agent"; }

  // Pending timers keep a stopped actor's object alive for a while: let go of
  // the checkpoint (and its LevelDB lock) as soon as the actor ends.
  void on_exit() override { checkpoint_.reset(); }

  caf::behavior make_behavior() override {
    launcher_ = spawn<caf::detached + caf::linked>(LauncherActor, containerizer_);
    Recover();
    StartRegistering();
    delayed_send(this, Seconds(options_.status_update_retry_interval), retry_atom::value);
    delayed_send(this, Seconds(options_.master_timeout / 3), check_atom::value);
    return {
        [this](recv_atom, const std::string&, const std::string& frame) { OnMasterFrame(frame); },
        [this](exec_recv_atom, const std::string& peer, const std::string& frame) {
          OnExecutorFrame(peer, frame);
        },
        [this](leader_atom, const std::string& address) {
          master_address_ = address;
          registered_ = false;
          if (address.empty()) return;  // no leader: wait for the next one
          endpoint_->Connect(kMasterConnection, address, peer_identity_);
          if (!gone_) Register();
          StartRegistering();  // retried until the new leader answers
        },
        [this](register_atom) {
          if (registered_ || gone_) {
            registering_ = false;
            return;
          }
          if (!master_address_.empty()) Register();
          delayed_send(this, Seconds(options_.registration_retry_interval), register_atom::value);
        },
        [this](retry_atom) {
          if (registered_) {
            for (auto& update : updates_.Heads()) SendToMaster(update);
          }
          delayed_send(this, Seconds(options_.status_update_retry_interval), retry_atom::value);
        },
        [this](check_atom) {
          if (registered_ && MonotonicSeconds() - last_master_message_ > options_.master_timeout) {
            log_->warn("no word from master {} for {}; registering again", master_id_,
                       FormatDuration(options_.master_timeout));
            registered_ = false;
            StartRegistering();
          }
          delayed_send(this, Seconds(options_.master_timeout / 3), check_atom::value);
        },
        [this](exited_atom, const std::string& framework_id, const std::string& executor_id,
               const std::string& container_id, int wait_status, int limitation_reason,
               const std::string& limitation_message) {
          OnExecutorExited(framework_id, executor_id, container_id, wait_status,
                           static_cast<Reason>(limitation_reason), limitation_message);
        },
        [this](escalate_atom, const std::string& framework_id, const std::string& executor_id,
               const std::string& container_id) {
          ExecutorEntry* executor = FindExecutor(framework_id, executor_id);
          if (executor != nullptr && executor->container_id == container_id && executor->pid > 0) {
            log_->warn("executor {} of framework {} did not stop in time; killing it", executor_id,
                       framework_id);
            if (!containerizer_->Destroy(container_id)) kill(executor->pid, SIGKILL);
          }
        },
        [this](state_atom) -> std::string { return StateJson().dump(); },
    };
  }

 private:
  // ---- master ----

  // Arms the registration loop (once): Register every retry interval until
  // the master answers.
  void StartRegistering() {
    if (registering_) return;
    registering_ = true;
    send(this, register_atom::value);
  }

  void SendToMaster(AgentMessage message) {
    endpoint_->SendOn(kMasterConnection, Encode(Message(std::move(message))));
  }

  void Register() {
    agentmsg::Register reg;
    reg.info = info_;
    reg.info.id = agent_id_;
    for (const auto& [framework_id, framework] : frameworks_) {
      reg.frameworks.push_back(framework.info);
      for (const auto& [executor_id, executor] : framework.executors) {
        for (const auto& [task_id, task] : executor.tasks) reg.tasks.push_back(task);
      }
    }
    SendToMaster(std::move(reg));
  }

  void OnMasterFrame(const std::string& frame) {
    Result<Message> decoded = Decode(frame);
    if (!decoded.ok()) {
      log_->warn("dropped an invalid frame from the master: {}", decoded.error());
      return;
    }
    last_master_message_ = MonotonicSeconds();
    if (auto* error = std::get_if<ProtocolError>(&*decoded)) {
      log_->warn("the master refused a message: {}", error->message);
      return;
    }
    auto* message = std::get_if<AgentMessage>(&*decoded);
    if (message == nullptr) {
      log_->warn("the master sent a message that is not for agents; ignored");
      return;
    }
    std::visit(Overloaded{
                   [&](agentmsg::Registered& m) { OnRegistered(m); },
                   [&](agentmsg::Ping& m) {
                     if (registered_ && m.master_id != master_id_) {
                       log_->info("a new master {} is pinging; registering again", m.master_id);
                       registered_ = false;
                       StartRegistering();
                       return;
                     }
                     SendToMaster(agentmsg::Pong{});
                     SendToMaster(containerizer_->UsageSummary());
                   },
                   [&](agentmsg::RunTask& m) {
                     if (!registered_) {
                       // The master learns from our registration that it never ran.
                       log_->warn("framework={}: ignoring a launch while not registered",
                                  m.framework.id);
                       return;
                     }
                     RunTask(m);
                     CheckpointExecutor(m.framework.id, m.executor.executor_id);
                   },
                   [&](agentmsg::KillTask& m) { KillTask(m.framework_id, m.task_id); },
                   [&](agentmsg::StatusUpdateAck& m) {
                     if (auto next = updates_.Acknowledge(m.framework_id, m.task_id, m.uuid)) {
                       SendToMaster(*next);
                     }
                     if (ExecutorEntry* e = FindTaskExecutor(m.framework_id, m.task_id)) {
                       CheckpointTask(e->tasks.at(m.task_id));
                     }
                     MaybeForgetTask(m.framework_id, m.task_id);
                   },
                   [&](agentmsg::ShutdownFramework& m) { ShutdownFramework(m.framework_id); },
                   [&](agentmsg::Shutdown& m) {
                     if (m.reason == agentmsg::kAgentGoneReason) {
                       log_->error("the master says: {}; stopping every executor", m.reason);
                       gone_ = true;
                       registered_ = false;
                       std::vector<FrameworkId> ids;
                       for (const auto& [id, framework] : frameworks_) ids.push_back(id);
                       for (const auto& id : ids) {
                         updates_.RemoveFramework(id);
                         ShutdownFramework(id);
                       }
                       return;
                     }
                     log_->warn("the master says: {}; registering again", m.reason);
                     registered_ = false;
                     StartRegistering();
                   },
                   [&](auto&) { log_->warn("the master sent a message agents do not take"); },
               },
               *message);
  }

  void OnRegistered(const agentmsg::Registered& m) {
    bool first = agent_id_.empty();
    if (agent_id_ != m.agent_id) {
      if (Status s = checkpoint_->SetAgentId(m.agent_id); !s.ok()) log_->error("{}", s.message());
    }
    agent_id_ = m.agent_id;
    master_id_ = m.master_id;
    if (!registered_) {
      log_->info("{} with master {} as agent {}", first ? "registered" : "reregistered", master_id_,
                 agent_id_);
    }
    registered_ = true;
    for (auto& update : updates_.Heads()) SendToMaster(update);
  }

  // ---- tasks and executors ----

  ExecutorEntry* FindExecutor(const FrameworkId& framework_id, const ExecutorId& executor_id) {
    auto fit = frameworks_.find(framework_id);
    if (fit == frameworks_.end()) return nullptr;
    auto eit = fit->second.executors.find(executor_id);
    return eit == fit->second.executors.end() ? nullptr : &eit->second;
  }

  ExecutorEntry* FindTaskExecutor(const FrameworkId& framework_id, const TaskId& task_id) {
    auto fit = frameworks_.find(framework_id);
    if (fit == frameworks_.end()) return nullptr;
    for (auto& [id, executor] : fit->second.executors) {
      if (executor.tasks.count(task_id) > 0) return &executor;
    }
    return nullptr;
  }

  // An update that originates at the agent (launch failure, executor gone).
  void AgentUpdate(const FrameworkId& framework_id, ExecutorEntry& executor, const TaskId& task_id,
                   TaskState state, Reason reason, const std::string& message) {
    TaskStatus status;
    status.task_id = task_id;
    status.state = state;
    status.reason = reason;
    status.source = Source::kAgent;
    status.message = message;
    status.agent_id = agent_id_;
    status.executor_id = executor.info.executor_id;
    status.timestamp = WallSeconds();
    status.uuid = NewUuid();
    OnUpdate(framework_id, executor, status);
  }

  // Records an update in the task and hands it to the status update manager.
  void OnUpdate(const FrameworkId& framework_id, ExecutorEntry& executor, TaskStatus status) {
    auto it = executor.tasks.find(status.task_id);
    if (it == executor.tasks.end()) return;
    Task& task = it->second;
    status.agent_id = agent_id_;
    for (const auto& seen : task.statuses) {
      if (seen.uuid == status.uuid) return;  // a resend of one we already have
    }
    if (gone_) {  // no master will ever acknowledge it: record, queue nothing
      task.statuses.push_back(status);
      if (IsValidTransition(task.state, status.state)) task.state = status.state;
      return;
    }
    auto added = updates_.Add(framework_id, status);
    if (added == StatusUpdateManager::AddResult::kDuplicate) return;
    task.statuses.push_back(status);
    if (task.statuses.size() > 16) task.statuses.erase(task.statuses.begin());
    if (IsValidTransition(task.state, status.state)) task.state = status.state;
    CheckpointTask(task);
    if (registered_ && added == StatusUpdateManager::AddResult::kSendNow) {
      SendToMaster(agentmsg::StatusUpdate{framework_id, status});
    }
  }

  void RunTask(agentmsg::RunTask& run) {
    const FrameworkId framework_id = run.framework.id;
    FrameworkEntry& framework = frameworks_[framework_id];
    framework.info = run.framework;
    auto [it, created] = framework.executors.try_emplace(run.executor.executor_id);
    ExecutorEntry& executor = it->second;
    if (created) {
      executor.info = run.executor;
      executor.info.framework_id = framework_id;
      executor.container_id = NewUuid();
    }
    for (auto& info : run.tasks) {
      Task task;
      task.info = info;
      task.framework_id = framework_id;
      task.executor_id = executor.info.executor_id;
      task.state = TaskState::kStaging;
      executor.tasks[info.task_id] = std::move(task);
    }
    if (executor.shutting_down) {
      for (auto& info : run.tasks) {
        AgentUpdate(framework_id, executor, info.task_id, TaskState::kLost,
                    Reason::kExecutorTerminated, "the executor is shutting down");
      }
      return;
    }
    if (executor.subscribed) {
      SendToExecutor(executor, execmsg::Launch{run.tasks});
      return;
    }
    executor.queued.insert(executor.queued.end(), run.tasks.begin(), run.tasks.end());
    if (!created) return;  // launched, not yet subscribed: the tasks wait

    executor.sandbox = (fs::path(options_.work_dir) / "frameworks" / framework_id / "executors" /
                        executor.info.executor_id / "runs" / executor.container_id)
                           .string();
    // Checkpointed before the launch: an agent killed mid-launch must find the
    // tasks (and the container to clean up) when it comes back.
    CheckpointExecutor(framework_id, executor.info.executor_id);
    std::error_code error;
    fs::create_directories(executor.sandbox, error);
    if (error) {
      LaunchFailed(executor,
                   "sandbox '" + executor.sandbox + "' cannot be created: " + error.message());
      return;
    }
    {
      ContainerConfig config;
      config.container_id = executor.container_id;
      config.program = options_.executor_path;
      config.sandbox = executor.sandbox;
      config.environment = {{"STOA_AGENT_ENDPOINT", executor_endpoint_},
                            {"STOA_FRAMEWORK_ID", framework_id},
                            {"STOA_EXECUTOR_ID", executor.info.executor_id},
                            {"STOA_AGENT_ID", agent_id_},
                            {"STOA_SANDBOX", executor.sandbox},
                            {"STOA_EXECUTOR_GROUP", executor.info.group ? "1" : "0"}};
      // The container holds the executor and every task it was launched with;
      // the first task says how the container is set up.
      config.resources = executor.info.resources;
      for (const auto& task : run.tasks) config.resources += task.resources;
      if (!run.tasks.empty()) config.container = run.tasks.front().container;
      config.user = !run.tasks.empty() && !run.tasks.front().command.user.empty()
                        ? run.tasks.front().command.user
                        : options_.default_user;
      config.framework_id = framework_id;
      config.executor_id = executor.info.executor_id;
      executor.launching = true;
      request(launcher_, caf::infinite, launch_atom::value,
              LaunchRequest{config, NotifyExited(caf::actor_cast<caf::actor>(this), framework_id,
                                                 executor.info.executor_id, executor.container_id)})
          .then([this, framework_id, executor_id = executor.info.executor_id,
                 container_id = executor.container_id](const LaunchResult& result) {
            OnLaunched(framework_id, executor_id, container_id, result);
          });
    }
  }

  void OnLaunched(const FrameworkId& framework_id, const ExecutorId& executor_id,
                  const ContainerId& container_id, const LaunchResult& result) {
    ExecutorEntry* found = FindExecutor(framework_id, executor_id);
    if (found == nullptr || found->container_id != container_id) {
      if (result.error.empty()) containerizer_->Destroy(container_id);  // nobody wants it now
      return;
    }
    ExecutorEntry& executor = *found;
    executor.launching = false;
    if (!result.error.empty()) {
      LaunchFailed(executor, result.error);
      return;
    }
    if (executor.exited) {  // it ended before the launcher answered
      ForgetExecutorIfDone(framework_id, executor_id);
      return;
    }
    executor.pid = result.pid;
    log_->info("framework={} executor={} container={} started as pid {} in {}", framework_id,
               executor.info.executor_id, executor.container_id, executor.pid, executor.sandbox);
    CheckpointExecutor(framework_id, executor_id);
    if (executor.shutting_down && !executor.subscribed) {
      containerizer_->Destroy(executor.container_id);  // shut down while it was launching
    }
  }

  // The container could not be started: its queued tasks fail with the reason.
  void LaunchFailed(ExecutorEntry& executor, const std::string& error) {
    const FrameworkId framework_id = executor.info.framework_id;
    log_->error("framework={} executor={}: launch failed: {}", framework_id,
                executor.info.executor_id, error);
    auto tasks = executor.queued;
    executor.queued.clear();
    executor.shutting_down = true;  // later tasks for it fail at once instead of waiting
    for (auto& info : tasks) {
      AgentUpdate(framework_id, executor, info.task_id, TaskState::kFailed,
                  Reason::kContainerLaunchFailed, error);
    }
    ForgetExecutorIfDone(framework_id, executor.info.executor_id);
  }

  void KillTask(const FrameworkId& framework_id, const TaskId& task_id) {
    ExecutorEntry* executor = FindTaskExecutor(framework_id, task_id);
    if (executor == nullptr) {
      log_->warn("framework={} task={}: kill of an unknown task", framework_id, task_id);
      return;
    }
    Task& task = executor->tasks.at(task_id);
    if (IsTerminal(task.state)) return;
    auto queued = std::find_if(executor->queued.begin(), executor->queued.end(),
                               [&](const TaskInfo& t) { return t.task_id == task_id; });
    if (queued != executor->queued.end()) {
      executor->queued.erase(queued);
      AgentUpdate(framework_id, *executor, task_id, TaskState::kKilled,
                  Reason::kTaskKilledDuringLaunch, "killed before the executor started it");
      if (executor->queued.empty() && !executor->subscribed) ShutdownExecutor(*executor);
      return;
    }
    executor->killing.insert(task_id);
    int64_t grace = task.info.kill_grace_period_ms > 0 ? task.info.kill_grace_period_ms : 3000;
    SendToExecutor(*executor, execmsg::Kill{task_id, grace});
  }

  void ShutdownExecutor(ExecutorEntry& executor) {
    if (executor.shutting_down) return;
    executor.shutting_down = true;
    int64_t grace_ms = static_cast<int64_t>(options_.executor_shutdown_grace * 1000);
    if (executor.subscribed) {
      SendToExecutor(executor, execmsg::Shutdown{grace_ms});
      delayed_send(this, Seconds(options_.executor_shutdown_grace + 5), escalate_atom::value,
                   executor.info.framework_id, executor.info.executor_id, executor.container_id);
    } else if (executor.pid > 0) {
      if (!containerizer_->Destroy(executor.container_id)) kill(executor.pid, SIGKILL);
    }
  }

  void ShutdownFramework(const FrameworkId& framework_id) {
    auto it = frameworks_.find(framework_id);
    if (it == frameworks_.end()) return;
    log_->info("shutting down framework {}", framework_id);
    for (auto& [id, executor] : it->second.executors) {
      auto queued = executor.queued;
      executor.queued.clear();
      for (auto& info : queued) {
        AgentUpdate(framework_id, executor, info.task_id, TaskState::kKilled,
                    Reason::kFrameworkRemoved, "the framework was removed");
      }
      ShutdownExecutor(executor);
    }
  }

  // The executor's container ended; `limitation` (kNone: none) is the limit it
  // reached, which fails its unfinished tasks with that reason.
  void OnExecutorExited(const FrameworkId& framework_id, const ExecutorId& executor_id,
                        const std::string& container_id, int wait_status, Reason limitation,
                        const std::string& limitation_message) {
    ExecutorEntry* executor = FindExecutor(framework_id, executor_id);
    if (executor == nullptr || executor->container_id != container_id) return;
    std::string how = DescribeWaitStatus(wait_status);
    log_->info("framework={} executor={} {}{}", framework_id, executor_id, how,
               limitation == Reason::kNone ? "" : ": " + limitation_message);
    std::vector<TaskId> live;
    for (const auto& [task_id, task] : executor->tasks) {
      if (!IsTerminal(task.state)) live.push_back(task_id);
    }
    for (const auto& task_id : live) {
      if (limitation != Reason::kNone) {
        AgentUpdate(framework_id, *executor, task_id, TaskState::kFailed, limitation,
                    limitation_message);
        continue;
      }
      bool killed = executor->killing.count(task_id) > 0 || executor->shutting_down;
      AgentUpdate(framework_id, *executor, task_id,
                  killed ? TaskState::kKilled : TaskState::kFailed, Reason::kExecutorTerminated,
                  "the executor " + how + " (see executor.log in the sandbox)");
    }
    if (!executor->peer.empty()) executor_peers_.erase(executor->peer);
    executor->pid = 0;
    executor->exited = true;
    executor->subscribed = false;
    executor->shutting_down = true;  // no new tasks into a dead executor
    ForgetExecutorIfDone(framework_id, executor_id);
  }

  // Drops bookkeeping of a finished task once its updates are all acknowledged.
  void MaybeForgetTask(const FrameworkId& framework_id, const TaskId& task_id) {
    ExecutorEntry* executor = FindTaskExecutor(framework_id, task_id);
    if (executor == nullptr) return;
    ForgetExecutorIfDone(framework_id, executor->info.executor_id);
  }

  void ForgetExecutorIfDone(const FrameworkId& framework_id, const ExecutorId& executor_id) {
    ExecutorEntry* executor = FindExecutor(framework_id, executor_id);
    if (executor == nullptr || executor->pid != 0 || executor->launching) return;
    for (const auto& [task_id, task] : executor->tasks) {
      if (!IsTerminal(task.state) || !updates_.Drained(framework_id, task_id)) return;
    }
    for (const auto& [task_id, task] : executor->tasks) {
      completed_tasks_.push_back({task, executor->sandbox});
      if (completed_tasks_.size() > 1000) completed_tasks_.erase(completed_tasks_.begin());
    }
    for (const auto& [task_id, task] : executor->tasks) {
      if (Status s = checkpoint_->RemoveTask(framework_id, task_id); !s.ok()) {
        log_->error("{}", s.message());
      }
    }
    if (Status s = checkpoint_->RemoveExecutor(framework_id, executor_id); !s.ok()) {
      log_->error("{}", s.message());
    }
    auto& executors = frameworks_[framework_id].executors;
    executors.erase(executor_id);
    if (executors.empty()) frameworks_.erase(framework_id);
  }

  // ---- checkpoint and recovery ----

  void CheckpointTask(const Task& task) {
    TaskRecord record{task, updates_.Pending(task.framework_id, task.info.task_id)};
    if (Status s = checkpoint_->PutTask(record); !s.ok()) log_->error("{}", s.message());
  }

  void CheckpointExecutor(const FrameworkId& framework_id, const ExecutorId& executor_id) {
    ExecutorEntry* executor = FindExecutor(framework_id, executor_id);
    if (executor == nullptr) return;
    ExecutorRecord record{executor->info, frameworks_[framework_id].info, executor->container_id,
                          static_cast<int32_t>(executor->pid), executor->sandbox};
    if (Status s = checkpoint_->PutExecutor(record); !s.ok()) log_->error("{}", s.message());
    for (const auto& [task_id, task] : executor->tasks) CheckpointTask(task);
  }

  // Rebuilds frameworks, executors, tasks and pending updates from the
  // checkpoint, reattaches to executors that still run and reports the tasks
  // of those that do not (after a reboot, as TASK_GONE).
  void Recover() {
    if (recovered_ == nullptr) return;
    std::shared_ptr<RecoveredState> state = std::move(recovered_);
    bool rebooted = !state->boot_id.empty() && state->boot_id != BootId();
    agent_id_ = state->agent_id;
    for (const auto& record : state->executors) {
      FrameworkEntry& framework = frameworks_[record.info.framework_id];
      framework.info = record.framework;
      ExecutorEntry& executor = framework.executors[record.info.executor_id];
      executor.info = record.info;
      executor.container_id = record.container_id;
      executor.sandbox = record.sandbox;
      executor.pid = record.pid;
    }
    for (const auto& record : state->tasks) {
      ExecutorEntry* executor = FindExecutor(record.task.framework_id, record.task.executor_id);
      if (executor == nullptr) {
        checkpoint_->RemoveTask(record.task.framework_id, record.task.info.task_id);
        continue;
      }
      executor->tasks[record.task.info.task_id] = record.task;
      for (const auto& status : record.pending) updates_.Add(record.task.framework_id, status);
    }
    size_t reattached = 0, lost = 0;
    std::vector<std::tuple<FrameworkId, ExecutorId, ContainerId>> gone;
    for (auto& [framework_id, framework] : frameworks_) {
      for (auto& [executor_id, executor] : framework.executors) {
        if (!rebooted && IsExecutorProcess(executor.pid, executor_id)) {
          ++reattached;  // the containerizer watches it and reports its end
        } else {
          ++lost;
          gone.emplace_back(framework_id, executor_id, executor.container_id);
        }
      }
    }
    for (const auto& [framework_id, executor_id, container_id] : gone) {
      OnRecoveredExecutorGone(framework_id, executor_id, container_id, rebooted);
    }
    if (!agent_id_.empty()) {
      log_->info("recovered agent {}: reattached to {} executors, {} gone{}", agent_id_, reattached,
                 lost, rebooted ? " (the host rebooted)" : "");
    }
  }

  // A checkpointed executor that no longer runs: its unfinished tasks end;
  // after a reboot they are TASK_GONE.
  void OnRecoveredExecutorGone(const FrameworkId& framework_id, const ExecutorId& executor_id,
                               const ContainerId& container_id, bool rebooted) {
    ExecutorEntry* executor = FindExecutor(framework_id, executor_id);
    if (executor == nullptr || executor->container_id != container_id) return;
    std::vector<TaskId> live;
    for (const auto& [task_id, task] : executor->tasks) {
      if (!IsTerminal(task.state)) live.push_back(task_id);
    }
    for (const auto& task_id : live) {
      if (rebooted) {
        AgentUpdate(framework_id, *executor, task_id, TaskState::kGone, Reason::kAgentRestarted,
                    "the host rebooted: the task is gone");
      } else {
        AgentUpdate(framework_id, *executor, task_id, TaskState::kFailed,
                    Reason::kExecutorTerminated,
                    "the executor ended while the agent was restarting");
      }
    }
    if (!executor->peer.empty()) executor_peers_.erase(executor->peer);
    executor->pid = 0;
    executor->subscribed = false;
    executor->shutting_down = true;
    ForgetExecutorIfDone(framework_id, executor_id);
  }

  // ---- executors ----

  void SendToExecutor(const ExecutorEntry& executor, ExecutorMessage message) {
    if (executor.peer.empty()) return;
    endpoint_->SendToPeer(executor.peer, Encode(Message(std::move(message))));
  }

  void OnExecutorFrame(const std::string& peer, const std::string& frame) {
    Result<Message> decoded = Decode(frame);
    auto* message = decoded.ok() ? std::get_if<ExecutorMessage>(&*decoded) : nullptr;
    if (message == nullptr) {
      std::string why = decoded.ok() ? "not an executor message" : decoded.error();
      log_->warn("dropped an invalid frame from executor peer '{}': {}", peer, why);
      endpoint_->SendToPeer(peer, Encode(Message(ProtocolError{"invalid frame: " + why})));
      return;
    }
    if (auto* subscribe = std::get_if<execmsg::Subscribe>(message)) {
      OnExecutorSubscribe(peer, *subscribe);
      return;
    }
    auto pit = executor_peers_.find(peer);
    ExecutorEntry* executor = pit == executor_peers_.end()
                                  ? nullptr
                                  : FindExecutor(pit->second.first, pit->second.second);
    if (executor == nullptr) {
      log_->warn("a message from executor peer '{}' that has not subscribed; ignored", peer);
      return;
    }
    if (auto* update = std::get_if<execmsg::Update>(message)) {
      const FrameworkId framework_id = executor->info.framework_id;
      OnUpdate(framework_id, *executor, update->status);
      // The agent now owns the update: acknowledge it to the executor.
      SendToExecutor(*executor, execmsg::Ack{update->status.task_id, update->status.uuid});
    }
  }

  void OnExecutorSubscribe(const std::string& peer, const execmsg::Subscribe& subscribe) {
    ExecutorEntry* executor = FindExecutor(subscribe.framework_id, subscribe.executor_id);
    if (executor == nullptr || (executor->pid == 0 && !executor->launching)) {
      log_->warn("executor {} of framework {} is unknown; telling it to shut down",
                 subscribe.executor_id, subscribe.framework_id);
      endpoint_->SendToPeer(peer, Encode(Message(ExecutorMessage(execmsg::Shutdown{0}))));
      return;
    }
    if (!executor->peer.empty()) executor_peers_.erase(executor->peer);
    executor->peer = peer;
    executor->subscribed = true;
    executor_peers_[peer] = {subscribe.framework_id, subscribe.executor_id};
    for (const auto& status : subscribe.unacknowledged) {
      OnUpdate(subscribe.framework_id, *executor, status);
      SendToExecutor(*executor, execmsg::Ack{status.task_id, status.uuid});
    }
    if (executor->shutting_down) {
      SendToExecutor(*executor, execmsg::Shutdown{
                                    static_cast<int64_t>(options_.executor_shutdown_grace * 1000)});
    } else if (!executor->queued.empty()) {
      SendToExecutor(*executor, execmsg::Launch{executor->queued});
      executor->queued.clear();
    }
    // Kills asked for while the executor was out of reach (agent restart).
    for (const auto& task_id : executor->killing) {
      auto it = executor->tasks.find(task_id);
      if (it == executor->tasks.end() || IsTerminal(it->second.state)) continue;
      int64_t grace =
          it->second.info.kill_grace_period_ms > 0 ? it->second.info.kill_grace_period_ms : 3000;
      SendToExecutor(*executor, execmsg::Kill{task_id, grace});
    }
  }

  // ---- views ----

  json StateJson() const {
    auto task_json = [](const Task& task, const std::string& sandbox) {
      json statuses = json::array();
      for (const auto& s : task.statuses) {
        statuses.push_back(
            {{"state", ToString(s.state)}, {"timestamp", s.timestamp}, {"message", s.message}});
      }
      std::string task_sandbox = sandbox;
      return json{{"id", task.info.task_id},
                  {"framework_id", task.framework_id},
                  {"executor_id", task.executor_id},
                  {"state", ToString(task.state)},
                  {"resources", task.info.resources.ToString()},
                  {"sandbox", task_sandbox},
                  {"statuses", statuses}};
    };
    auto sandbox_of = [](const ExecutorEntry& executor, const TaskId& task_id) {
      return executor.info.group ? executor.sandbox + "/tasks/" + task_id : executor.sandbox;
    };
    json frameworks = json::array();
    for (const auto& [framework_id, framework] : frameworks_) {
      json executors = json::array();
      for (const auto& [executor_id, executor] : framework.executors) {
        json tasks = json::array();
        for (const auto& [task_id, task] : executor.tasks) {
          tasks.push_back(task_json(task, sandbox_of(executor, task_id)));
        }
        executors.push_back({{"id", executor_id},
                             {"container_id", executor.container_id},
                             {"pid", executor.pid},
                             {"sandbox", executor.sandbox},
                             {"subscribed", executor.subscribed},
                             {"tasks", tasks}});
      }
      frameworks.push_back(
          {{"id", framework_id}, {"name", framework.info.name}, {"executors", executors}});
    }
    json completed = json::array();
    for (const auto& [task, sandbox] : completed_tasks_)
      completed.push_back(task_json(task, sandbox));
    return {{"id", agent_id_},
            {"master_id", master_id_},
            {"registered", registered_},
            {"gone", gone_},
            {"hostname", info_.hostname},
            {"address", info_.address},
            {"resources", info_.resources.ToString()},
            {"work_dir", options_.work_dir},
            {"pending_status_updates", updates_.PendingCount()},
            {"frameworks", frameworks},
            {"completed_tasks", completed}};
  }

  std::string executor_endpoint_;  // where executors reach this agent
  AgentOptions options_;
  AgentInfo info_;
  ZmqEndpoint* endpoint_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<Checkpoint> checkpoint_;
  std::shared_ptr<RecoveredState> recovered_;  // consumed by Recover()
  std::string peer_identity_;                  // our identity on the master's socket
  std::string master_address_;                 // the leading master, empty when none
  caf::actor launcher_;                        // runs container launches
  bool gone_ = false;                          // marked gone: never register again
  AgentId agent_id_;
  std::string master_id_;
  bool registered_ = false;
  bool registering_ = false;  // the registration loop is armed
  double last_master_message_ = 0;
  StatusUpdateManager updates_;
  std::map<FrameworkId, FrameworkEntry> frameworks_;
  std::map<std::string, std::pair<FrameworkId, ExecutorId>> executor_peers_;
  std::vector<std::pair<Task, std::string>> completed_tasks_;
  std::shared_ptr<Containerizer> containerizer_;  // runs each executor in its container
};

// GET /monitor/statistics: each running container's usage, with Mesos's field names.
json StatisticsJson(const std::vector<ContainerUsage>& usages) {
  json result = json::array();
  for (const auto& usage : usages) {
    const isolators::ResourceStatistics& s = usage.statistics;
    json statistics = {{"timestamp", s.timestamp}};
    auto put = [&](const char* name, const auto& value) {
      if (value.has_value()) statistics[name] = *value;
    };
    put("cpus_limit", s.cpus_limit);
    put("cpus_user_time_secs", s.cpus_user_seconds);
    put("cpus_system_time_secs", s.cpus_system_seconds);
    put("cpus_throttled_time_secs", s.cpus_throttled_seconds);
    put("cpus_nr_periods", s.cpus_nr_periods);
    put("cpus_nr_throttled", s.cpus_nr_throttled);
    put("mem_rss_bytes", s.mem_rss_bytes);
    put("mem_total_bytes", s.mem_usage_bytes);
    put("mem_limit_bytes", s.mem_limit_bytes);
    put("processes", s.processes);
    put("threads", s.threads);
    put("processes_limit", s.processes_limit);
    result.push_back({{"container_id", usage.container_id},
                      {"framework_id", usage.framework_id},
                      {"executor_id", usage.executor_id},
                      {"statistics", statistics}});
  }
  return result;
}

// Reads a byte range of a file under `root`; anything outside it is refused.
HttpResponse ReadSandboxFile(const std::string& root, const HttpRequest& request) {
  auto path_it = request.params.find("path");
  if (path_it == request.params.end() || path_it->second.empty()) {
    return JsonError(400, "give the file with ?path=... (a path inside a sandbox)");
  }
  std::error_code error;
  fs::path real = fs::canonical(path_it->second, error);
  if (error) return JsonError(404, "'" + path_it->second + "' does not exist");
  fs::path real_root = fs::canonical(root, error);
  std::string prefix = real_root.string() + "/";
  if (error || real.string().rfind(prefix, 0) != 0 || !fs::is_regular_file(real)) {
    return JsonError(403, "'" + path_it->second + "' is not a file inside a sandbox");
  }
  auto number = [&](const char* name, int64_t fallback) -> Result<int64_t> {
    auto it = request.params.find(name);
    if (it == request.params.end()) return fallback;
    try {
      size_t used = 0;
      int64_t value = std::stoll(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument(name);
      return value;
    } catch (const std::exception&) {
      return Status::Error(std::string(name) + " '" + it->second + "' is not a whole number");
    }
  };
  Result<int64_t> offset = number("offset", 0);
  Result<int64_t> length = number("length", 1 << 20);
  if (!offset.ok()) return JsonError(400, offset.error());
  if (!length.ok()) return JsonError(400, length.error());
  int64_t size = static_cast<int64_t>(fs::file_size(real, error));
  HttpResponse response;
  if (*offset < 0) {  // the size only, as Mesos does with offset=-1
    response.body = json{{"data", ""}, {"offset", size}}.dump();
    return response;
  }
  int64_t count = std::max<int64_t>(0, std::min<int64_t>(*length, size - *offset));
  count = std::min<int64_t>(count, 16 << 20);
  std::string data(static_cast<size_t>(count), '\0');
  std::ifstream in(real, std::ios::binary);
  in.seekg(*offset);
  in.read(data.data(), count);
  data.resize(static_cast<size_t>(in.gcount()));
  response.body = json{{"data", data}, {"offset", *offset}}.dump(-1, ' ', false,
                                                                 json::error_handler_t::replace);
  return response;
}

}  // namespace

Result<std::string> DetectResources(const std::string& work_dir, const std::string& overrides) {
  Result<Resources> given = Resources::Parse(overrides);
  if (!given.ok()) return Status::Error("--resources: " + given.error());
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  double mem_mb = static_cast<double>(pages) * static_cast<double>(page_size) / (1 << 20);
  mem_mb = std::max(mem_mb / 2, mem_mb - 1024);  // leave room for the system
  struct statvfs disk {};
  double disk_mb = 0;
  if (statvfs(work_dir.c_str(), &disk) == 0) {
    disk_mb = static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize) / (1 << 20);
    disk_mb = std::max(0.0, disk_mb - 5 * 1024);
  }
  Resources detected = Resources::Scalar("cpus", static_cast<double>(std::max(1L, cpus))) +
                       Resources::Scalar("mem", std::floor(mem_mb)) +
                       Resources::Scalar("disk", std::floor(disk_mb)) +
                       Resources::Ports({{31000, 32000}});
  Resources result;
  std::set<std::string> overridden;
  for (const auto& entry : given->entries()) overridden.insert(entry.name);
  for (const auto& entry : detected.entries()) {
    if (overridden.count(entry.name) == 0) result.Add(entry);
  }
  result += *given;
  return result.ToString();
}

struct Agent::Impl {
  caf::actor_system* system = nullptr;
  std::unique_ptr<ZmqEndpoint> endpoint;
  HttpServer http;
  caf::actor actor;
  std::unique_ptr<MasterDetector> detector;
  std::shared_ptr<Containerizer> containerizer;

  std::string Ask() const {
    std::string answer;
    caf::scoped_actor self{*system};
    self->request(actor, std::chrono::seconds(10), state_atom::value)
        .receive(
            [&](std::string& text) { answer = std::move(text); },
            [&](caf::error& error) {
              answer = json{{"error", "the agent did not answer: " + system->render(error)}}.dump();
            });
    return answer;
  }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() {
  impl_->detector.reset();
  impl_->http.Stop();
  impl_->endpoint->Stop();
  caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
  caf::scoped_actor self{*impl_->system};
  self->wait_for(impl_->actor);  // it holds the endpoint by pointer
}

Result<std::unique_ptr<Agent>> Agent::Start(caf::actor_system& system, const AgentOptions& given) {
  AgentOptions options = given;
  std::error_code error;
  fs::create_directories(options.work_dir, error);
  if (error) {
    return Status::Error("cannot create work directory '" + options.work_dir +
                         "': " + error.message());
  }
  options.work_dir = fs::canonical(options.work_dir).string();
  if (options.executor_path.empty()) options.executor_path = DefaultExecutorPath();
  if (options.master.rfind("zk://", 0) == 0) {
    if (auto url = ParseZooKeeperUrl(options.master); !url.ok()) return url.status();
  } else if (auto address = ZmqAddressOf(options.master); !address.ok()) {
    return address.status();
  }
  auto checkpoint = Checkpoint::Open(options.work_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  auto recovered = (*checkpoint)->Recover();
  if (!recovered.ok()) return recovered.status();
  Result<std::string> resources_text = DetectResources(options.work_dir, options.resources);
  if (!resources_text.ok()) return resources_text.status();

  AgentInfo info;
  info.hostname = options.hostname.empty() ? Hostname() : options.hostname;
  info.address = options.ip + ":" + std::to_string(options.port);
  info.resources = *Resources::Parse(*resources_text);

  ContainerizerOptions containerizer_options;
  containerizer_options.work_dir = options.work_dir;
  containerizer_options.isolation = options.isolation;
  containerizer_options.cgroups_root = options.cgroups_root;
  containerizer_options.cgroups_enable_cfs = options.cgroups_enable_cfs;
  containerizer_options.pids_limit = options.pids_limit;
  containerizer_options.image_cache_dir = options.image_cache_dir;
  auto containerizer = Containerizer::Create(containerizer_options);
  if (!containerizer.ok()) return containerizer.status();
  Logger("agent")->info("containers are isolated with {}{}", (*containerizer)->isolation(),
                        options.isolation.empty() ? " (the default here; see --isolation)" : "");
  std::vector<ExecutorRecord> recovered_executors = recovered->executors;

  auto impl = std::make_unique<Impl>();
  impl->system = &system;
  impl->containerizer = std::move(*containerizer);
  impl->endpoint = std::make_unique<ZmqEndpoint>("agent");
  std::string executor_endpoint = "ipc://" + options.work_dir + "/executors.sock";
  if (Status s = impl->endpoint->Bind(executor_endpoint); !s.ok()) return s;
  if (options.port >= 0) {
    std::string tcp = "tcp://" + options.ip + ":" + std::to_string(options.port);
    if (Status s = impl->endpoint->Bind(tcp); !s.ok()) return s;
  }
  if (Status s = impl->http.Start(options.ip, options.http_port); !s.ok()) return s;
  info.http_address = options.ip + ":" + std::to_string(impl->http.port());

  impl->actor = system.spawn<AgentActor>(options, info, impl->endpoint.get(), executor_endpoint,
                                         std::shared_ptr<Checkpoint>(std::move(*checkpoint)),
                                         std::make_shared<RecoveredState>(std::move(*recovered)),
                                         impl->containerizer);
  caf::actor actor = impl->actor;
  // Re-attach to the containers of the checkpointed executors; any other
  // container this work directory launched is destroyed.
  std::vector<KnownContainer> known;
  for (const auto& record : recovered_executors) {
    known.push_back({record.container_id, record.pid, record.info.framework_id,
                     record.info.executor_id,
                     NotifyExited(actor, record.info.framework_id, record.info.executor_id,
                                  record.container_id)});
  }
  if (Status s = impl->containerizer->Recover(known); !s.ok()) {
    Logger("agent")->error("container recovery: {}", s.message());
  }
  impl->endpoint->Start([actor](const FrameOrigin& origin, std::string frame) {
    if (origin.from_router) {
      caf::anon_send(actor, exec_recv_atom::value, origin.id, std::move(frame));
    } else {
      caf::anon_send(actor, recv_atom::value, origin.id, std::move(frame));
    }
  });
  auto detector = MasterDetector::Create(options.master, [actor](const LeaderInfo& leader) {
    caf::anon_send(actor, leader_atom::value, leader.address);
  });
  if (!detector.ok()) return detector.status();
  impl->detector = std::move(*detector);

  Impl* raw = impl.get();
  impl->http.Route("GET", "/state", [raw](const HttpRequest&) {
    HttpResponse response;
    response.body = raw->Ask();
    return response;
  });
  impl->http.Route("GET", "/health", [](const HttpRequest&) {
    HttpResponse response;
    response.body = R"({"healthy":true})";
    return response;
  });
  std::shared_ptr<Containerizer> containers = impl->containerizer;
  impl->http.Route("GET", "/monitor/statistics", [containers](const HttpRequest&) {
    HttpResponse response;
    response.body = StatisticsJson(containers->UsageAll()).dump();
    return response;
  });
  std::string root = options.work_dir + "/frameworks";
  impl->http.Route("GET", "/files/read",
                   [root](const HttpRequest& request) { return ReadSandboxFile(root, request); });
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

int Agent::http_port() const { return impl_->http.port(); }
std::string Agent::StateJson() const { return impl_->Ask(); }

}  // namespace stoa::agent

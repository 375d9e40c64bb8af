#include "agent/agent.hpp"

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <caf/all.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/checkpoint.hpp"
#include "agent/containerizer.hpp"
#include "agent/executor_manager.hpp"
#include "agent/http.hpp"
#include "agent/launcher.hpp"
#include "agent/master_link.hpp"
#include "agent/process.hpp"
#include "agent/sandbox.hpp"
#include "common/detector.hpp"
#include "common/duration.hpp"
#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "common/transport.hpp"
#include "common/zookeeper.hpp"
#include "isolators/capabilities.hpp"
#include "protocols/codec.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::Message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::FrameTicket)

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// transport -> agent: (recv_atom | exec_recv_atom, peer, Message, FrameTicket),
// decoded on the endpoint's I/O thread, from the master or from an executor.
using recv_atom = caf::atom_constant<caf::atom("recv")>;
using exec_recv_atom = caf::atom_constant<caf::atom("execrecv")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using escalate_atom = caf::atom_constant<caf::atom("escalate")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using state_atom = caf::atom_constant<caf::atom("state")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using leader_atom = caf::atom_constant<caf::atom("leader")>;
using gc_atom = caf::atom_constant<caf::atom("gc")>;
using gc_tick_atom = caf::atom_constant<caf::atom("gctick")>;
using gc_start_atom = caf::atom_constant<caf::atom("gcstart")>;

constexpr const char* kMasterConnection = "master";

// Seconds as a CAF timespan, clamped (see TimerSpan): no overflow into a timer
// that fires at once.
caf::timespan Seconds(double seconds) {
  return std::chrono::duration_cast<caf::timespan>(TimerSpan(seconds));
}

// Nanoseconds since the epoch: registration epochs increase across restarts.
uint64_t WallNanoseconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Removing a sandbox walks a tree a task may have made huge: off the agent actor.
caf::behavior SandboxGcActor(caf::event_based_actor*, std::shared_ptr<SandboxGc> gc,
                             std::string work_dir) {
  return {
      [gc](gc_start_atom, const std::vector<std::string>& live) {
        gc->ScheduleLeftovers({live.begin(), live.end()});
      },
      [gc](gc_atom, const std::string& sandbox, double ended_at) {
        if (Status s = gc->Schedule(sandbox, ended_at); !s.ok()) {
          Logger("agent")->warn("sandbox collection: {}", s.message());
        }
      },
      [gc, work_dir](gc_tick_atom, const std::vector<std::string>& live) {
        double usage = SandboxGc::DiskUsage(work_dir);
        auto log = Logger("agent");
        SandboxGc::Collection done = gc->Collect(WallSeconds(), usage, {live.begin(), live.end()});
        for (const auto& sandbox : done.removed) {
          log->info("removed sandbox {} (disk {:.0f}% used)", sandbox, usage * 100);
        }
        for (const auto& [sandbox, why] : done.failed) {
          log->warn("cannot remove sandbox {}: {}; {}", sandbox, why,
                    std::count(done.given_up.begin(), done.given_up.end(), sandbox) > 0
                        ? "given up: remove it by hand"
                        : "trying again later");
        }
      },
  };
}

// "rack:r1;zone:a" as (name, value) pairs, as Mesos writes agent attributes.
Result<Labels> ParseAttributes(const std::string& text) {
  Labels attributes;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string entry = text.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    size_t colon = entry.find(':');
    std::string name = entry.substr(0, colon);
    bool named = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '_' || c == '-' || c == '.';
    });
    if (colon == std::string::npos || !named || colon + 1 == entry.size()) {
      return Status::Error("--attributes: '" + entry +
                           "' is not NAME:VALUE (names are letters, digits, '_', '-', '.'), "
                           "e.g. 'rack:r1;zone:a'");
    }
    for (const auto& [other, value] : attributes) {
      if (other == name) return Status::Error("--attributes: '" + name + "' is given twice");
    }
    attributes.emplace_back(name, entry.substr(colon + 1));
  }
  return attributes;
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

std::vector<std::string> ToVector(const std::set<std::string>& set) {
  return {set.begin(), set.end()};
}

// The agent actor: a thin shell that decodes frames, runs the timers and
// carries out the effects of the MasterLink (registration, liveness) and the
// ExecutorManager (executors, tasks, updates).
class AgentActor : public caf::event_based_actor, public AgentEffects {
 public:
  AgentActor(caf::actor_config& config, AgentOptions options, AgentInfo info, ZmqEndpoint* endpoint,
             std::string executor_endpoint, std::shared_ptr<Checkpoint> checkpoint,
             std::shared_ptr<RecoveredState> recovered,
             std::shared_ptr<Containerizer> containerizer)
      : caf::event_based_actor(config),
        options_(std::move(options)),
        info_(std::move(info)),
        endpoint_(endpoint),
        log_(Logger("agent")),
        checkpoint_(checkpoint),
        recovered_(std::move(recovered)),
        peer_identity_(NewId("agent-peer-")),
        link_(recovered_ ? recovered_->agent_id : AgentId(), recovered_ ? recovered_->epoch : 0),
        executors_(ExecutorManagerOptions{options_.work_dir,
                                          options_.executor_path,
                                          std::move(executor_endpoint),
                                          options_.default_user,
                                          options_.bounding_capabilities,
                                          options_.executor_shutdown_grace,
                                          {options_.status_update_retry_interval,
                                           std::max(options_.status_update_retry_interval,
                                                    options_.status_update_max_retry_interval)}},
                   this, std::move(checkpoint)),
        containerizer_(std::move(containerizer)) {}

  const char* name() const override { return "stoa.agent"; }

  // Pending timers keep a stopped actor's object alive for a while: let go of
  // the checkpoint (and its LevelDB lock) as soon as the actor ends.
  void on_exit() override {
    checkpoint_.reset();
    executors_.ReleaseCheckpoint();
  }

  caf::behavior make_behavior() override {
    launcher_ = spawn<caf::detached + caf::linked>(LauncherActor, containerizer_);
    gc_ = spawn<caf::detached + caf::linked>(
        SandboxGcActor,
        std::make_shared<SandboxGc>(options_.work_dir,
                                    SandboxGcPolicy{options_.gc_delay, options_.gc_disk_headroom}),
        options_.work_dir);
    if (recovered_ != nullptr) {
      std::shared_ptr<RecoveredState> state = std::move(recovered_);
      executors_.Recover(*state, MonotonicSeconds());
    }
    send(gc_, gc_start_atom::value, ToVector(executors_.LiveSandboxes()));
    StartRegistering();
    delayed_send(this, Seconds(options_.status_update_retry_interval), retry_atom::value);
    delayed_send(this, Seconds(options_.master_timeout / 3), check_atom::value);
    send(this, gc_tick_atom::value);
    return {
        [this](recv_atom, const std::string&, Message& message, const FrameTicket&) {
          OnMasterMessage(message);
        },
        [this](exec_recv_atom, const std::string& peer, Message& message, const FrameTicket&) {
          OnExecutorMessage(peer, message);
        },
        [this](leader_atom, const std::string& address) {
          link_.LeaderChanged(address, WallNanoseconds());
          CheckpointEpoch();
          if (address.empty()) return;  // no leader: wait for the next one
          endpoint_->Connect(kMasterConnection, address, peer_identity_);
          if (!link_.gone()) Register();
          StartRegistering();  // retried until the new leader answers
        },
        [this](register_atom) {
          if (!link_.RegistrationTick()) return;
          if (link_.has_master()) Register();
          delayed_send(this, Seconds(options_.registration_retry_interval), register_atom::value);
        },
        [this](retry_atom) {
          if (link_.registered()) {
            for (auto& update : executors_.DueUpdates(MonotonicSeconds())) SendToMaster(update);
          }
          delayed_send(this, Seconds(options_.status_update_retry_interval), retry_atom::value);
        },
        [this](check_atom) {
          if (link_.Silent(MonotonicSeconds(), options_.master_timeout)) {
            log_->warn("no word from master {} for {}; registering again", link_.master_id(),
                       FormatDuration(options_.master_timeout));
            RegisterAgain();
          }
          delayed_send(this, Seconds(options_.master_timeout / 3), check_atom::value);
        },
        [this](gc_tick_atom) {
          send(gc_, gc_tick_atom::value, ToVector(executors_.LiveSandboxes()));
          delayed_send(this, Seconds(options_.disk_watch_interval), gc_tick_atom::value);
        },
        [this](exited_atom, const std::string& framework_id, const std::string& executor_id,
               const std::string& container_id, int wait_status, int limitation_reason,
               const std::string& limitation_message) {
          executors_.OnExecutorExited(framework_id, executor_id, container_id, wait_status,
                                      static_cast<Reason>(limitation_reason), limitation_message,
                                      MonotonicSeconds());
        },
        [this](escalate_atom, const std::string& framework_id, const std::string& executor_id,
               const std::string& container_id) {
          executors_.Escalate(framework_id, executor_id, container_id);
        },
        [this](idle_atom, const std::string& framework_id, const std::string& executor_id,
               const std::string& container_id) {
          executors_.CheckIdle(framework_id, executor_id, container_id, MonotonicSeconds());
        },
        [this](state_atom) -> std::string {
          return StateJson(info_, link_, executors_, options_.work_dir).dump();
        },
        [this](metrics_atom) -> std::string { return MetricsText(link_, executors_); },
    };
  }

  // ---- AgentEffects ----

  void SendStatusUpdate(const agentmsg::StatusUpdate& update) override {
    if (link_.registered()) SendToMaster(update);
  }

  void SendToExecutor(const std::string& peer, ExecutorMessage message) override {
    endpoint_->SendToPeer(peer, Encode(Message(std::move(message))));
  }

  // A container that needs provisioning (an image to unpack) waits for it
  // off the launcher, so that other launches go on meanwhile.
  void LaunchContainer(const ContainerConfig& config) override {
    if (!containerizer_->NeedsProvisioning(config)) {
      Launch(config);
      return;
    }
    std::string key = PendingLaunches::ProvisionerOf(config);
    if (pending_.Add(config)) {
      provisioners_[key] = spawn<caf::detached + caf::linked>(ProvisionerActor, containerizer_);
    }
    log_->info("framework={} executor={} container={}: provisioning {} before the launch",
               config.framework_id, config.executor_id, config.container_id, key);
    request(provisioners_[key], caf::infinite, provision_atom::value, ProvisionRequest{config})
        .then([this, framework_id = config.framework_id, executor_id = config.executor_id,
               container_id = config.container_id](const std::string& error) {
          OnProvisioned(framework_id, executor_id, container_id, error);
        });
  }

  void UpdateContainer(const ContainerId& container_id, const Resources& resources) override {
    if (pending_.Update(container_id, resources)) return;  // it goes with the launch
    send(launcher_, update_atom::value, UpdateRequest{container_id, resources});
  }

  bool DestroyContainer(const ContainerId& container_id) override {
    return containerizer_->Destroy(container_id);
  }

  void KillProcess(pid_t pid, uint64_t start_time) override {
    if (!SignalIfSameProcess(pid, start_time, SIGKILL)) {
      log_->warn("pid {} is no longer the executor it was (or is gone): not killed", pid);
    }
  }

  void ScheduleEscalation(const FrameworkId& framework_id, const ExecutorId& executor_id,
                          const ContainerId& container_id, double seconds) override {
    delayed_send(this, Seconds(seconds), escalate_atom::value, framework_id, executor_id,
                 container_id);
  }

  void ScheduleIdleCheck(const FrameworkId& framework_id, const ExecutorId& executor_id,
                         const ContainerId& container_id, double seconds) override {
    delayed_send(this, Seconds(seconds), idle_atom::value, framework_id, executor_id, container_id);
  }

  void SandboxDone(const std::string& sandbox) override {
    send(gc_, gc_atom::value, sandbox, WallSeconds());
  }

 private:
  // ---- master ----

  // Arms the registration loop (once): Register every retry interval until
  // the master answers.
  void StartRegistering() {
    if (link_.StartRegistering()) send(this, register_atom::value);
  }

  // A new registration cycle (a fresh epoch), retried until answered.
  void RegisterAgain() {
    link_.Lost(WallNanoseconds());
    CheckpointEpoch();
    StartRegistering();
  }

  // Written before the epoch is used, so that a restarted agent goes higher.
  void CheckpointEpoch() {
    if (Status s = checkpoint_->SetEpoch(link_.epoch()); !s.ok()) log_->error("{}", s.message());
  }

  void SendToMaster(AgentMessage message) {
    endpoint_->SendOn(kMasterConnection, Encode(Message(std::move(message))));
  }

  void Register() {
    agentmsg::Register reg;
    reg.info = info_;
    reg.info.id = link_.agent_id();
    reg.epoch = link_.epoch();
    executors_.FillRegister(reg);
    SendToMaster(std::move(reg));
  }

  // Frames that do not decode are dropped (and logged) by the endpoint.
  void OnMasterMessage(Message& decoded) {
    double now = MonotonicSeconds();
    link_.Heard(now);
    if (auto* error = std::get_if<ProtocolError>(&decoded)) {
      log_->warn("the master refused a message: {}", error->message);
      return;
    }
    auto* message = std::get_if<AgentMessage>(&decoded);
    if (message == nullptr) {
      log_->warn("the master sent a message that is not for agents; ignored");
      return;
    }
    std::visit(
        Overloaded{
            [&](agentmsg::Registered& m) { OnRegistered(m); },
            [&](agentmsg::Ping& m) {
              if (!link_.OnPing(m.master_id)) {
                log_->info("a new master {} is pinging; registering again", m.master_id);
                RegisterAgain();
                return;
              }
              SendToMaster(agentmsg::Pong{});
              SendToMaster(containerizer_->UsageSummary());
            },
            [&](agentmsg::RunTask& m) {
              if (!link_.registered()) {
                // The master learns from our registration that it never ran.
                log_->warn("framework={}: ignoring a launch while not registered", m.framework.id);
                return;
              }
              executors_.RunTask(std::move(m), now);
            },
            [&](agentmsg::KillTask& m) { executors_.KillTask(m.framework_id, m.task_id, now); },
            [&](agentmsg::StatusUpdateAck& m) { executors_.Acknowledge(m, now); },
            [&](agentmsg::ShutdownFramework& m) {
              executors_.ShutdownFramework(m.framework_id, now);
            },
            [&](agentmsg::Shutdown& m) {
              if (m.reason == agentmsg::kAgentGoneReason) {
                log_->error("the master says: {}; stopping every executor", m.reason);
                link_.MarkGone();
                executors_.ShutdownAllAsGone(now);
                return;
              }
              log_->warn("the master says: {}; registering again", m.reason);
              RegisterAgain();
            },
            [&](auto&) { log_->warn("the master sent a message agents do not take"); },
        },
        *message);
  }

  void OnRegistered(const agentmsg::Registered& m) {
    AgentId before = link_.agent_id();
    MasterLink::Registration how = link_.OnRegistered(m);
    if (how == MasterLink::Registration::kStale) {
      log_->info("ignoring a Registered for epoch {} (this registration is epoch {})", m.epoch,
                 link_.epoch());
      return;
    }
    if (before != m.agent_id) {
      if (Status s = checkpoint_->SetAgentId(m.agent_id); !s.ok()) log_->error("{}", s.message());
    }
    executors_.set_agent_id(m.agent_id);
    if (how != MasterLink::Registration::kAgain) {
      log_->info("{} with master {} as agent {}",
                 how == MasterLink::Registration::kFirst ? "registered" : "reregistered",
                 link_.master_id(), link_.agent_id());
    }
    for (auto& update : executors_.PendingHeads()) SendToMaster(update);
  }

  // ---- containers ----

  void Launch(const ContainerConfig& config) {
    request(
        launcher_, caf::infinite, launch_atom::value,
        LaunchRequest{config, NotifyExited(caf::actor_cast<caf::actor>(this), config.framework_id,
                                           config.executor_id, config.container_id)})
        .then([this, framework_id = config.framework_id, executor_id = config.executor_id,
               container_id = config.container_id](const LaunchResult& result) {
          executors_.OnLaunched(framework_id, executor_id, container_id, result.pid, result.error,
                                MonotonicSeconds());
        });
  }

  // The container is provisioned (or could not be): launch it with the
  // resources last asked for, unless its executor was shut down meanwhile.
  void OnProvisioned(const FrameworkId& framework_id, const ExecutorId& executor_id,
                     const ContainerId& container_id, const std::string& error) {
    std::optional<PendingLaunches::Taken> taken = pending_.Take(container_id);
    if (!taken) return;
    if (taken->last) {
      send(provisioners_[taken->provisioner], stop_atom::value);
      provisioners_.erase(taken->provisioner);
    }
    double now = MonotonicSeconds();
    if (!error.empty()) {  // Provision left nothing behind
      executors_.OnLaunched(framework_id, executor_id, container_id, 0, error, now);
    } else if (!executors_.LaunchWanted(framework_id, executor_id, container_id)) {
      containerizer_->Release(container_id);
      executors_.OnLaunchAbandoned(framework_id, executor_id, container_id, now);
    } else {
      Launch(taken->config);
    }
  }

  // ---- executors ----

  // Frames that do not decode are answered (and logged) by the endpoint.
  void OnExecutorMessage(const std::string& peer, Message& decoded) {
    auto* message = std::get_if<ExecutorMessage>(&decoded);
    if (message == nullptr) {
      log_->warn("dropped a message from executor peer '{}': not an executor message",
                 PrintablePeer(peer));
      endpoint_->SendToPeer(peer, EncodeRefusal("not an executor message"));
      return;
    }
    executors_.OnExecutorMessage(peer, *message, MonotonicSeconds());
  }

  AgentOptions options_;
  AgentInfo info_;
  ZmqEndpoint* endpoint_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<Checkpoint> checkpoint_;
  std::shared_ptr<RecoveredState> recovered_;  // consumed at start
  std::string peer_identity_;                  // our identity on the master's socket
  MasterLink link_;
  ExecutorManager executors_;
  caf::actor launcher_;                             // runs container launches and updates
  PendingLaunches pending_;                         // launches waiting for their provisioning
  std::map<std::string, caf::actor> provisioners_;  // by root filesystem being provisioned
  caf::actor gc_;                                   // removes sandboxes
  std::shared_ptr<Containerizer> containerizer_;    // runs each executor in its container
};

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

  // /state (JSON) or /metrics (text), as the agent actor renders them.
  template <typename Atom>
  std::string Ask(Atom what) const {
    std::string answer;
    caf::scoped_actor self{*system};
    self->request(actor, std::chrono::seconds(10), what)
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
  if (options.bounding_capabilities == "default") {
    options.bounding_capabilities =
        isolators::FormatCapabilities(isolators::DefaultTaskCapabilities());
  } else {
    auto capabilities = isolators::ParseCapabilities(options.bounding_capabilities);
    if (!capabilities.ok())
      return Status::Error("--bounding_capabilities: " + capabilities.error());
    options.bounding_capabilities = isolators::FormatCapabilities(*capabilities);
  }
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
  info.resources = *Resources::Parse(*resources_text);
  auto attributes = ParseAttributes(options.attributes);
  if (!attributes.ok()) return attributes.status();
  info.attributes = std::move(*attributes);

  ContainerizerOptions containerizer_options;
  containerizer_options.work_dir = options.work_dir;
  containerizer_options.isolation = options.isolation;
  containerizer_options.cgroups_root = options.cgroups_root;
  containerizer_options.cgroups_enable_cfs = options.cgroups_enable_cfs;
  containerizer_options.pids_limit = options.pids_limit;
  containerizer_options.image_cache_dir = options.image_cache_dir;
  containerizer_options.container_disk_watch_interval = options.container_disk_watch_interval;
  containerizer_options.enforce_container_disk_quota = options.enforce_container_disk_quota;
  auto containerizer = Containerizer::Create(containerizer_options);
  if (!containerizer.ok()) return containerizer.status();
  Logger("agent")->info("containers are isolated with {}{}; tasks may hold the capabilities {}",
                        (*containerizer)->isolation(),
                        options.isolation.empty() ? " (the default here; see --isolation)" : "",
                        options.bounding_capabilities);
  std::vector<ExecutorRecord> recovered_executors = recovered->executors;

  auto impl = std::make_unique<Impl>();
  impl->system = &system;
  impl->containerizer = std::move(*containerizer);
  impl->endpoint = std::make_unique<ZmqEndpoint>("agent");
  // Executors reach the agent only through a socket in its work dir (never
  // over the network), and each proves it is the one launched (its secret).
  std::string socket_path = options.work_dir + "/executors.sock";
  if (socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::Error("the executor socket '" + socket_path + "' is longer than " +
                         std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                         " bytes; choose a shorter --work_dir");
  }
  std::string executor_endpoint = "ipc://" + socket_path;
  if (Status s = impl->endpoint->Bind(executor_endpoint); !s.ok()) return s;
  // Executors run as the agent's user; no task of another user may connect.
  if (chmod(socket_path.c_str(), 0600) != 0) {
    return Status::Error("cannot restrict the executor socket '" + socket_path +
                         "': " + std::strerror(errno));
  }
  if (Status s = impl->http.Start(options.ip, options.http_port); !s.ok()) return s;
  info.http_address = options.ip + ":" + std::to_string(impl->http.port());
  info.address = info.http_address;

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
  // Decoded on the endpoint's I/O thread; executors' frames that do not decode
  // are answered there.
  impl->endpoint->Start(
      Decoding(Decode,
               [actor](const FrameOrigin& origin, Message message, FrameTicket ticket) {
                 if (origin.from_router) {
                   caf::anon_send(actor, exec_recv_atom::value, origin.id, std::move(message),
                                  std::move(ticket));
                 } else {
                   caf::anon_send(actor, recv_atom::value, origin.id, std::move(message),
                                  std::move(ticket));
                 }
               }),
      EncodeRefusal);
  auto detector = MasterDetector::Create(options.master, [actor](const LeaderInfo& leader) {
    caf::anon_send(actor, leader_atom::value, leader.address);
  });
  if (!detector.ok()) return detector.status();
  impl->detector = std::move(*detector);

  Impl* raw = impl.get();
  AddAgentRoutes(
      impl->http, [raw] { return raw->Ask(state_atom::value); },
      [raw] { return raw->Ask(metrics_atom::value); }, impl->containerizer, options.work_dir);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

int Agent::http_port() const { return impl_->http.port(); }
std::string Agent::StateJson() const { return impl_->Ask(state_atom::value); }

}  // namespace stoa::agent

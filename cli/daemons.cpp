// `stoa master` and `stoa agent`: start the daemon, serve until SIGINT/SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "agent/agent.hpp"
#include "cli/commands.hpp"
#include "common/contender.hpp"
#include "common/detector.hpp"
#include "common/duration.hpp"
#include "common/http_server.hpp"
#include "common/ids.hpp"
#include "common/logging.hpp"
#include "common/zookeeper.hpp"
#include "isolators/capabilities.hpp"
#include "master/master.hpp"

namespace stoa::cli {

double DurationFlag(const std::string& flag, const std::string& text) {
  Result<double> seconds = ParseDuration(text);
  if (!seconds.ok()) {
    std::fprintf(stderr, "stoa: --%s: %s\n", flag.c_str(), seconds.error().c_str());
    std::exit(2);
  }
  return *seconds;
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

namespace {

struct MasterFlags {
  master::MasterOptions options;
  std::string allocation_interval = "1secs";
  std::string agent_ping_timeout = "5secs";
  std::string framework_heartbeat_interval = "5secs";
  std::string offer_timeout = "60secs";
  std::string agent_reregister_timeout = "10mins";
  std::string zk;
  std::string zk_session_timeout = "10secs";
  std::string log_level = "info";
};

// A standby's HTTP API: /health says who leads; other calls are redirected to
// the leader (found by `detector`), with a body that says the same.
class StandbyApi {
 public:
  Status Start(const std::string& ip, int port, const std::string& zk, double session_timeout) {
    auto detector = MasterDetector::Create(
        zk,
        [this](const LeaderInfo& leader) {
          std::lock_guard<std::mutex> lock(mutex_);
          leader_ = leader;
        },
        session_timeout);
    if (!detector.ok()) return detector.status();
    detector_ = std::move(*detector);
    auto health = [this](const HttpRequest&) {
      HttpResponse response;
      response.body = HealthJson();
      return response;
    };
    server_.Route("GET", "/health", health);
    for (const char* path : {"/state", "/metrics"}) {
      server_.Route("GET", path, [this, path](const HttpRequest&) {
        HttpResponse response;
        std::lock_guard<std::mutex> lock(mutex_);
        if (leader_.http.empty()) {
          response.status = 503;
          response.body = R"({"error":"no master is leading right now; try again shortly"})";
          return response;
        }
        response.status = 307;
        response.headers["Location"] = "http://" + leader_.http + path;
        response.body = nlohmann::json{{"leading", false}, {"leader", leader_.http}}.dump();
        return response;
      });
    }
    return server_.Start(ip, port);
  }
  void Stop() {
    server_.Stop();
    detector_.reset();
  }

 private:
  std::string HealthJson() {
    std::lock_guard<std::mutex> lock(mutex_);
    return nlohmann::json{
        {"healthy", true}, {"leading", false}, {"leader", leader_.http}, {"leader_id", leader_.id}}
        .dump();
  }
  std::mutex mutex_;
  LeaderInfo leader_;
  std::unique_ptr<MasterDetector> detector_;
  HttpServer server_;
};

struct AgentFlags {
  agent::AgentOptions options;
  std::string status_update_retry_interval = "10secs";
  std::string master_timeout = "15secs";
  std::string executor_shutdown_grace_period = "5secs";
  std::string gc_delay = "1days";
  std::string disk_watch_interval = "1mins";
  std::string container_disk_watch_interval = "15secs";
  std::string log_level = "info";
  int old_port = -1;  // --port: no longer used (executors use ipc:// only)
};

}  // namespace

void AddMasterCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<MasterFlags>();
  CLI::App* cmd = app.add_subcommand("master", "Run a master");
  auto& o = flags->options;
  cmd->add_option("--ip", o.ip, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "Port agents and frameworks connect to (ZeroMQ)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--http_port", o.http_port, "Port of the HTTP API (/state, /metrics, /health)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", o.work_dir, "Directory for the registry")->capture_default_str();
  cmd->add_option("--allocation_interval", flags->allocation_interval,
                  "Time between periodic allocation rounds")
      ->capture_default_str();
  cmd->add_option("--agent_ping_timeout", flags->agent_ping_timeout,
                  "Time between pings to each agent")
      ->capture_default_str();
  cmd->add_option("--max_agent_ping_timeouts", o.max_agent_ping_timeouts,
                  "Missed pings before an agent is unreachable")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--framework_heartbeat_interval", flags->framework_heartbeat_interval,
                  "Time between HEARTBEAT events; a framework silent for 3 of them is "
                  "disconnected")
      ->capture_default_str();
  cmd->add_option("--offer_timeout", flags->offer_timeout,
                  "Offers unanswered this long are rescinded (0secs: never)")
      ->capture_default_str();
  cmd->add_option("--agent_reregister_timeout", flags->agent_reregister_timeout,
                  "After a failover, time agents have to reregister")
      ->capture_default_str();
  cmd->add_option("--zk", flags->zk,
                  "zk://HOST:PORT[,HOST:PORT]/PATH: elect a leader among masters and keep the "
                  "registry in ZooKeeper (default: one master, registry in LevelDB)");
  cmd->add_option("--zk_session_timeout", flags->zk_session_timeout,
                  "ZooKeeper session timeout; a master that loses its session exits")
      ->capture_default_str();
  cmd->add_option("--log_level", flags->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    auto& o = flags->options;
    o.agent_reregister_timeout =
        DurationFlag("agent_reregister_timeout", flags->agent_reregister_timeout);
    double zk_session_timeout = DurationFlag("zk_session_timeout", flags->zk_session_timeout);
    o.allocation_interval = DurationFlag("allocation_interval", flags->allocation_interval);
    o.agent_ping_interval = DurationFlag("agent_ping_timeout", flags->agent_ping_timeout);
    o.framework_heartbeat_interval =
        DurationFlag("framework_heartbeat_interval", flags->framework_heartbeat_interval);
    o.offer_timeout = DurationFlag("offer_timeout", flags->offer_timeout);
    if (o.allocation_interval <= 0 || o.agent_ping_interval <= 0 ||
        o.framework_heartbeat_interval <= 0) {
      std::fprintf(stderr, "stoa master: intervals must be longer than zero\n");
      *exit_code = 2;
      return;
    }
    SetLogLevel(flags->log_level);
    BlockTerminationSignals();
    auto log = Logger("master");

    // With ZooKeeper: join the election, serve as a standby until elected,
    // then lead with the registry in ZooKeeper. Losing the session ends the
    // process at once, so that two masters never lead together.
    std::unique_ptr<ZooKeeper> zookeeper;
    std::unique_ptr<LeaderContender> contender;
    std::unique_ptr<Storage> storage;
    if (!flags->zk.empty() && o.http_port == 0) {
      // Other masters, agents and the CLI find the leader's API by the port it
      // publishes in ZooKeeper before it starts serving: it must be fixed.
      std::fprintf(stderr, "stoa master: --http_port=0 cannot be used with --zk: give a port\n");
      *exit_code = 2;
      return;
    }
    if (!flags->zk.empty()) {
      auto url = ParseZooKeeperUrl(flags->zk);
      if (!url.ok()) {
        std::fprintf(stderr, "stoa master: --zk: %s\n", url.error().c_str());
        *exit_code = 2;
        return;
      }
      // A standby waits out a short disconnection (only a real expiry ends
      // it); the leader steps down as soon as it cannot be sure it still leads.
      static std::atomic<bool> leading{false};  // read on the client's thread
      auto session = ZooKeeper::Connect(
          url->servers, zk_session_timeout,
          [] {
            std::fprintf(stderr,
                         "stoa master: the ZooKeeper session expired; exiting so that no "
                         "two masters lead at once (restart me to rejoin as a standby)\n");
            std::fflush(stderr);
            _exit(1);
          },
          [] {
            if (!leading) return;
            std::fprintf(stderr,
                         "stoa master: lost ZooKeeper for a third of the session timeout; "
                         "stepping down (exiting) before another master can be elected\n");
            std::fflush(stderr);
            _exit(1);
          });
      if (!session.ok()) {
        std::fprintf(stderr, "stoa master: %s\n", session.error().c_str());
        *exit_code = 1;
        return;
      }
      zookeeper = std::move(*session);
      LeaderInfo self{NewId("master-"), "tcp://" + o.ip + ":" + std::to_string(o.port),
                      o.ip + ":" + std::to_string(o.http_port)};
      auto joined =
          LeaderContender::Join(zookeeper.get(), MembersPath(url->path), EncodeLeaderInfo(self));
      if (!joined.ok()) {
        std::fprintf(stderr, "stoa master: cannot join the election: %s\n", joined.error().c_str());
        *exit_code = 1;
        return;
      }
      contender = std::move(*joined);
      o.id = self.id;
      StandbyApi standby;
      if (Status s = standby.Start(o.ip, o.http_port, flags->zk, zk_session_timeout); !s.ok()) {
        std::fprintf(stderr, "stoa master: %s\n", s.message().c_str());
        *exit_code = 1;
        return;
      }
      log->info("joined the election as {}; waiting to lead", contender->znode());
      sigset_t pending_set;
      auto terminated = [&pending_set] {
        sigpending(&pending_set);
        return sigismember(&pending_set, SIGINT) || sigismember(&pending_set, SIGTERM);
      };
      bool elected = contender->WaitUntilLeading(terminated);
      standby.Stop();
      if (!elected) {
        log->info("stopping before being elected");
        *exit_code = 0;
        return;
      }
      leading = true;
      if (zookeeper->expired()) _exit(1);  // lost while being elected
      log->info("elected leader");
      auto registry = OpenZooKeeperStorage(zookeeper.get(), url->path + "/registry");
      if (!registry.ok()) {
        std::fprintf(stderr, "stoa master: %s\n", registry.error().c_str());
        *exit_code = 1;
        return;
      }
      storage = std::move(*registry);
    }
    o.on_fatal = [](const std::string& why) {
      std::fprintf(stderr, "stoa master: %s; exiting so that a restart recovers the registry\n",
                   why.c_str());
      std::fflush(stderr);
      _exit(1);
    };
    caf::actor_system_config config;
    caf::actor_system system{config};
    auto master = master::Master::Start(system, o, std::move(storage));
    if (!master.ok()) {
      std::fprintf(stderr, "stoa master: %s\n", master.error().c_str());
      *exit_code = 1;
      return;
    }
    Logger("master")->info("listening on {} (HTTP on {}:{})", (*master)->address(), o.ip,
                           (*master)->http_port());
    int sig = WaitForTerminationSignal();
    Logger("master")->info("stopping on signal {}", sig);
    master->reset();
    *exit_code = 0;
  });
}

void AddAgentCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* cmd = app.add_subcommand("agent", "Run an agent");
  auto& o = flags->options;
  cmd->add_option("--master", o.master, "The master, HOST:PORT")->required();
  cmd->add_option("--ip", o.ip, "Address to listen on")->capture_default_str();
  cmd->add_option("--http_port", o.http_port, "Port of the HTTP API (/state, /files/read)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", o.work_dir, "Directory for sandboxes and checkpoints")
      ->capture_default_str();
  cmd->add_option("--resources", o.resources,
                  "Resources to offer, e.g. 'cpus:4;mem:8192;ports:[31000-32000]' (detected "
                  "when omitted; entries given here replace detected ones)");
  cmd->add_option("--hostname", o.hostname, "Hostname to advertise");
  cmd->add_option("--attributes", o.attributes,
                  "Attributes frameworks may place tasks by, e.g. 'rack:r1;zone:a'");
  cmd->add_option("--executor_path", o.executor_path,
                  "Path of stoa-executor (default: next to this binary)");
  cmd->add_option("--status_update_retry_interval", flags->status_update_retry_interval,
                  "Time between resends of an unacknowledged status update")
      ->capture_default_str();
  cmd->add_option("--master_timeout", flags->master_timeout,
                  "Register again after this long without a word from the master")
      ->capture_default_str();
  cmd->add_option("--executor_shutdown_grace_period", flags->executor_shutdown_grace_period,
                  "Time an executor has to stop its tasks before it is killed")
      ->capture_default_str();
  cmd->add_option("--isolation", o.isolation,
                  "Isolators, comma-separated: cgroups/cpu, cgroups/mem, cgroups/pids, "
                  "namespaces/pid, namespaces/mount, namespaces/uts, namespaces/ipc, "
                  "namespaces/net, filesystem/linux, disk/du, or posix (no isolation; only with "
                  "disk/du). Default: the cgroups, the pid/mount/uts/ipc namespaces, "
                  "filesystem/linux and disk/du when running as root with cgroups; posix,disk/du "
                  "otherwise");
  cmd->add_option("--cgroups_root", o.cgroups_root,
                  "Containers' cgroups go under this cgroup in each controller's hierarchy")
      ->capture_default_str();
  cmd->add_flag("--cgroups_enable_cfs", o.cgroups_enable_cfs,
                "Hard-cap each container's cpu use at its cpus (CFS quota)");
  cmd->add_option("--pids_limit", o.pids_limit, "Processes per container (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 22));
  cmd->add_option("--default_user", o.default_user,
                  "Tasks without a user run as this user (default: the agent's user)");
  cmd->add_option("--bounding_capabilities", o.bounding_capabilities,
                  "Linux capabilities tasks may hold: default (" +
                      isolators::FormatCapabilities(isolators::DefaultTaskCapabilities()) +
                      "), all, none, or names separated by commas")
      ->capture_default_str();
  // Accepted so that older command lines still start; it does nothing.
  cmd->add_option("--port", flags->old_port)->group("");
  cmd->add_option("--image_cache_dir", o.image_cache_dir,
                  "Where tarball root filesystems are unpacked (default: <work_dir>/images)");
  cmd->add_option("--gc_delay", flags->gc_delay,
                  "A sandbox is removed this long after its executor ended, sooner as the disk "
                  "fills (see --gc_disk_headroom). Default 1 day: shorter than Mesos's 1 week, "
                  "since batch frameworks leave many sandboxes")
      ->capture_default_str();
  cmd->add_option("--gc_disk_headroom", o.gc_disk_headroom,
                  "Disk share to keep free: sandboxes older than gc_delay * max(0, 1 - "
                  "gc_disk_headroom - disk use of the work dir) are removed, oldest first")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--disk_watch_interval", flags->disk_watch_interval,
                  "How often disk use is checked and sandboxes due are removed")
      ->capture_default_str();
  cmd->add_option("--container_disk_watch_interval", flags->container_disk_watch_interval,
                  "How often disk/du measures each container's sandbox")
      ->capture_default_str();
  cmd->add_flag("--enforce_container_disk_quota,!--no-enforce_container_disk_quota",
                o.enforce_container_disk_quota,
                "With disk/du, a container whose sandbox outgrows its disk is destroyed and its "
                "tasks fail with REASON_CONTAINER_LIMITATION_DISK (default; "
                "--enforce_container_disk_quota=false only measures)")
      ->capture_default_str();
  cmd->add_option("--log_level", flags->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    auto& o = flags->options;
    o.status_update_retry_interval =
        DurationFlag("status_update_retry_interval", flags->status_update_retry_interval);
    o.master_timeout = DurationFlag("master_timeout", flags->master_timeout);
    o.executor_shutdown_grace =
        DurationFlag("executor_shutdown_grace_period", flags->executor_shutdown_grace_period);
    o.gc_delay = DurationFlag("gc_delay", flags->gc_delay);
    o.disk_watch_interval = DurationFlag("disk_watch_interval", flags->disk_watch_interval);
    o.container_disk_watch_interval =
        DurationFlag("container_disk_watch_interval", flags->container_disk_watch_interval);
    if (flags->old_port >= 0) {
      std::fprintf(stderr,
                   "stoa agent: --port is no longer used (executors reach the agent over "
                   "ipc:// in its work dir; its API is on --http_port); ignored\n");
    }
    if (o.status_update_retry_interval <= 0 || o.master_timeout <= 0 ||
        o.disk_watch_interval <= 0 || o.container_disk_watch_interval <= 0 || o.gc_delay < 0) {
      std::fprintf(stderr,
                   "stoa agent: --status_update_retry_interval, --master_timeout, "
                   "--disk_watch_interval and --container_disk_watch_interval must be longer "
                   "than zero, --gc_delay not negative\n");
      *exit_code = 2;
      return;
    }
    SetLogLevel(flags->log_level);
    BlockTerminationSignals();
    caf::actor_system_config config;
    caf::actor_system system{config};
    auto agent = agent::Agent::Start(system, o);
    if (!agent.ok()) {
      std::fprintf(stderr, "stoa agent: %s\n", agent.error().c_str());
      *exit_code = 1;
      return;
    }
    Logger("agent")->info("agent serving HTTP on {}:{}; master {}", o.ip, (*agent)->http_port(),
                          o.master);
    int sig = WaitForTerminationSignal();
    Logger("agent")->info("stopping on signal {} (executors keep running)", sig);
    agent->reset();
    *exit_code = 0;
  });
}

}  // namespace stoa::cli

// `stoa up`: a whole local cluster on this machine, on the embedded defaults
// (one master, N agents, the service and batch frameworks, no ZooKeeper), until Ctrl-C
// or SIGTERM.
#include "cli/up.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/app_client.hpp"
#include "cli/commands.hpp"
#include "common/duration.hpp"
#include "common/http_server.hpp"

namespace stoa::cli {
namespace {

namespace fs = std::filesystem;

struct UpFlags {
  int agents = 2;
  std::string ip = "127.0.0.1";
  int port = 5050;
  int http_port = 5051;
  std::string work_dir = ".stoa";
  std::string agent_resources;
  std::string agent_ports = "31000-31999";
  std::string cgroups_root;
  int service_port = 8080;
  int batch_port = 9000;
  bool demo = false;
};

// The host ports the agents offer, divided among them: tasks on different
// agents of this one machine must never get the same port.
struct PortRange {
  int first = 31000;
  int last = 31999;
};

Result<PortRange> ParsePortRange(const std::string& text, int agents) {
  PortRange range;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d-%d%c", &range.first, &range.last, &tail) != 2 ||
      range.first < 1 || range.last > 65535 || range.first > range.last) {
    return Status::Error("--agent_ports: '" + text + "' is not FIRST-LAST (ports 1 to 65535)");
  }
  if (range.last - range.first + 1 < agents) {
    return Status::Error("--agent_ports: " + text + " has fewer ports than the " +
                         std::to_string(agents) + " agents");
  }
  return range;
}

// A TCP port on `ip` that was free a moment ago (0 if none could be bound).
int FreePort(const std::string& ip) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = INADDR_ANY;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Polls the service's /v2/info until it has subscribed (it shows a framework
// id), it exits, or `seconds` pass.
bool WaitForService(const std::string& ip, int port, pid_t pid, double seconds) {
  double deadline = MonotonicSeconds() + seconds;
  while (MonotonicSeconds() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;
    Result<std::string> body = HttpGet(ip, port, "/v2/info");
    if (body.ok()) {
      auto info = nlohmann::json::parse(*body, nullptr, false);
      if (info.is_object() && info.value("frameworkId", nlohmann::json()).is_string()) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!log_path.empty()) {
      FILE* log = std::fopen(log_path.c_str(), "a");
      if (log != nullptr) {
        dup2(fileno(log), STDOUT_FILENO);
        dup2(fileno(log), STDERR_FILENO);
      }
    }
    execv(argv[0], argv.data());
    std::perror("exec");
    _exit(127);
  }
  return pid;
}

int WaitForChild(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

// Polls the master's /state until `agents` agents are active or `seconds` pass.
bool WaitForAgents(const std::string& ip, int http_port, int agents, double seconds) {
  double deadline = MonotonicSeconds() + seconds;
  while (MonotonicSeconds() < deadline) {
    Result<std::string> body = HttpGet(ip, http_port, "/state");
    if (body.ok()) {
      auto state = nlohmann::json::parse(*body, nullptr, false);
      int active = 0;
      if (state.is_object() && state.contains("agents")) {
        for (const auto& agent : state["agents"]) active += agent.value("active", false) ? 1 : 0;
      }
      if (active >= agents) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The daemons `stoa up` started, stopped in reverse order.
class Children {
 public:
  void Add(pid_t pid) { pids_.push_back(pid); }
  // Forgets a child that was already reaped.
  void Forget(pid_t pid) { pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end()); }
  void StopAll() {
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) kill(*it, SIGTERM);
    for (pid_t pid : pids_) WaitForChild(pid);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

void StartAgents(const UpFlags& flags, const UpCluster& cluster, int master_port,
                 const PortRange& ports, Children* children) {
  int each = (ports.last - ports.first + 1) / flags.agents;
  for (int i = 0; i < flags.agents; ++i) {
    int http_port = master_port + 2 + i;
    std::string name = "agent" + std::to_string(i + 1);
    std::vector<std::string> args = {cluster.self,
                                     "agent",
                                     "--master=" + cluster.master,
                                     "--ip=" + cluster.ip,
                                     "--http_port=" + std::to_string(http_port),
                                     "--work_dir=" + cluster.work_dir + "/" + name};
    std::string resources = flags.agent_resources;
    if (resources.find("ports") == std::string::npos) {
      int first = ports.first + i * each;
      resources += std::string(resources.empty() ? "" : ";") + "ports:[" + std::to_string(first) +
                   "-" + std::to_string(first + each - 1) + "]";
    }
    args.push_back("--resources=" + resources);
    if (!flags.cgroups_root.empty()) args.push_back("--cgroups_root=" + flags.cgroups_root);
    children->Add(Spawn(args, cluster.work_dir + "/" + name + ".log"));
    std::printf("%-11s http://%s:%d/state   log %s/%s.log\n", name.c_str(), cluster.ip.c_str(),
                http_port, cluster.work_dir.c_str(), name.c_str());
  }
}

// `stoa dns` on a free port, and `stoa lb` when HAProxy is installed.
void StartDiscovery(UpCluster& cluster, Children* children) {
  const std::string& ip = cluster.ip;
  cluster.dns_port = FreePort(ip);
  int dns_http = FreePort(ip);
  children->Add(
      Spawn({cluster.self, "dns", "--master=" + cluster.master, "--service=" + cluster.service_url,
             "--ip=" + ip, "--port=" + std::to_string(cluster.dns_port),
             "--http_port=" + std::to_string(dns_http)},
            cluster.work_dir + "/dns.log"));
  std::printf("dns         %s:%d (udp, tcp)   http://%s:%d/v1/enumerate   log %s/dns.log\n",
              ip.c_str(), cluster.dns_port, ip.c_str(), dns_http, cluster.work_dir.c_str());
  const char* haproxy = "/usr/sbin/haproxy";
  if (access(haproxy, X_OK) != 0) {
    std::printf("lb          skipped: %s is not installed (Debian's package haproxy)\n", haproxy);
    return;
  }
  cluster.lb_admin_port = FreePort(ip);
  children->Add(Spawn(
      {cluster.self, "lb", "--service=" + cluster.service_url, "--haproxy=" + std::string(haproxy),
       "--work_dir=" + cluster.work_dir + "/lb", "--bind_ip=" + ip, "--admin_ip=" + ip,
       "--admin_port=" + std::to_string(cluster.lb_admin_port)},
      cluster.work_dir + "/lb.log"));
  std::printf(
      "lb          HAProxy on %s:SERVICE_PORT of each app   http://%s:%d/v1/backends   "
      "log %s/lb.log\n",
      ip.c_str(), ip.c_str(), cluster.lb_admin_port, cluster.work_dir.c_str());
}

// Starts the cluster, runs the demo, waits for a signal and stops it all.
int RunUp(const UpFlags& flags) {
  Result<PortRange> ports = ParsePortRange(flags.agent_ports, flags.agents);
  if (!ports.ok()) {
    std::fprintf(stderr, "stoa up: %s\n", ports.error().c_str());
    return 2;
  }
  std::error_code error;
  fs::create_directories(flags.work_dir, error);
  if (error) {
    std::fprintf(stderr, "stoa up: cannot create %s: %s\n", flags.work_dir.c_str(),
                 error.message().c_str());
    return 1;
  }
  UpCluster cluster;
  cluster.work_dir = fs::canonical(flags.work_dir).string();
  cluster.self = fs::read_symlink("/proc/self/exe").string();
  cluster.ip = flags.ip;
  int master_port = flags.port, master_http = flags.port + 1;
  cluster.master = cluster.ip + ":" + std::to_string(master_port);
  cluster.service_port = flags.service_port != 0 ? flags.service_port : FreePort(cluster.ip);
  cluster.service_url = "http://" + cluster.ip + ":" + std::to_string(cluster.service_port);
  cluster.batch_port = flags.batch_port != 0 ? flags.batch_port : FreePort(cluster.ip);
  cluster.batch_url = "http://" + cluster.ip + ":" + std::to_string(cluster.batch_port);
  const std::string& ip = cluster.ip;
  const std::string& work_dir = cluster.work_dir;

  Children children;
  children.Add(
      Spawn({cluster.self, "master", "--ip=" + ip, "--port=" + std::to_string(master_port),
             "--http_port=" + std::to_string(master_http), "--work_dir=" + work_dir + "/master"},
            work_dir + "/master.log"));
  std::printf("master      %s   http://%s:%d/state   log %s/master.log\n", cluster.master.c_str(),
              ip.c_str(), master_http, work_dir.c_str());
  StartAgents(flags, cluster, master_port, *ports, &children);
  pid_t service = Spawn({cluster.self, "service", "--master=" + cluster.master, "--ip=" + ip,
                         "--http_port=" + std::to_string(cluster.service_port),
                         "--work_dir=" + work_dir + "/service"},
                        work_dir + "/service.log");
  children.Add(service);
  std::printf("service     %s/v2/apps   log %s/service.log\n", cluster.service_url.c_str(),
              work_dir.c_str());
  children.Add(Spawn(
      {cluster.self, "batch", "--master=" + cluster.master, "--ip=" + ip,
       "--http_port=" + std::to_string(cluster.batch_port), "--work_dir=" + work_dir + "/batch"},
      work_dir + "/batch.log"));
  std::printf("batch       %s/v1/jobs   log %s/batch.log\n", cluster.batch_url.c_str(),
              work_dir.c_str());
  StartDiscovery(cluster, &children);
  std::fflush(stdout);

  int code = 0;
  if (!WaitForAgents(ip, master_http, flags.agents, 30)) {
    std::fprintf(stderr, "stoa up: the cluster did not come up within 30s; see the logs in %s\n",
                 work_dir.c_str());
    code = 1;
  } else if (!WaitForService(ip, cluster.service_port, service, 30)) {
    if (waitpid(service, nullptr, WNOHANG) != 0) children.Forget(service);
    std::fprintf(stderr,
                 "stoa up: the service framework did not subscribe within 30s; see %s/service.log "
                 "(is port %d taken? --service_port=0 picks a free one)\n",
                 work_dir.c_str(), cluster.service_port);
    code = 1;
  } else {
    std::printf("cluster is up: %d agents registered. Cluster state: http://%s:%d/state\n",
                flags.agents, ip.c_str(), master_http);
    std::printf("service framework (Marathon's API): %s\n", cluster.service_url.c_str());
    std::printf("batch framework (Metronome's API): %s\n", cluster.batch_url.c_str());
    std::printf(
        "try: %s execute --master=%s --instances=4 --command='echo hello from $STOA_TASK_ID'\n",
        cluster.self.c_str(), cluster.master.c_str());
    std::printf("     %s app deploy APP.json; %s app list\n", cluster.self.c_str(),
                cluster.self.c_str());
    std::printf(
        "     dig @%s -p %d +short _web.demo._tcp.service.stoa SRV   (an app /G/A is "
        "A.G.service.stoa)\n",
        ip.c_str(), cluster.dns_port);
    if (cluster.service_url != kDefaultServiceUrl) {
      std::printf("     (export STOA_SERVICE=%s first)\n", cluster.service_url.c_str());
    }
    std::fflush(stdout);
    bool demo_app = flags.demo && RunDemo(cluster);
    if (flags.demo) RunBatchDemo(cluster);
    std::printf("Press Ctrl-C to stop the cluster.\n");
    std::fflush(stdout);
    WaitForTerminationSignal();
    if (flags.demo) RemoveDemo(cluster, demo_app);
  }
  std::printf("stopping the cluster...\n");
  std::fflush(stdout);
  children.StopAll();
  std::printf("stopped.\n");
  return code;
}

}  // namespace

void AddUpCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<UpFlags>();
  CLI::App* cmd = app.add_subcommand(
      "up", "Start a local cluster: one master, N agents, the service and batch frameworks");
  cmd->add_option("--agents", flags->agents, "Number of agents")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--ip", flags->ip, "Address every daemon listens on")->capture_default_str();
  cmd->add_option("--port", flags->port,
                  "Master port; its HTTP port is the next one, agents use the ones after")
      ->capture_default_str()
      ->check(CLI::Range(1, 65000));
  cmd->add_option("--service_port", flags->service_port,
                  "Port of the service framework's API (0: a free one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--batch_port", flags->batch_port,
                  "Port of the batch framework's API (0: a free one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", flags->work_dir, "Directory for every daemon's state and logs")
      ->capture_default_str();
  cmd->add_option("--agent_resources", flags->agent_resources,
                  "Resources each agent offers (detected when omitted; ports from "
                  "--agent_ports unless this names ports)");
  cmd->add_option("--agent_ports", flags->agent_ports,
                  "Host ports for tasks, FIRST-LAST, divided among the agents")
      ->capture_default_str();
  cmd->add_option("--cgroups_root", flags->cgroups_root,
                  "Cgroup the agents put containers under (default: the agent's, stoa)");
  cmd->add_flag(
      "--demo", flags->demo,
      "Once the cluster is up, run one-off tasks, deploy a small web service and run batch jobs");
  cmd->callback([flags, exit_code] {
    BlockTerminationSignals();
    *exit_code = RunUp(*flags);
  });
}

}  // namespace stoa::cli

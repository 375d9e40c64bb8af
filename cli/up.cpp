// `stoa up`: a whole local cluster on this machine, on the embedded defaults
// (one master, N agents, no ZooKeeper), until Ctrl-C or SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

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
  bool demo = false;
};

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

}  // namespace

void AddUpCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<UpFlags>();
  CLI::App* cmd = app.add_subcommand("up", "Start a local cluster: one master and N agents");
  cmd->add_option("--agents", flags->agents, "Number of agents")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--ip", flags->ip, "Address every daemon listens on")->capture_default_str();
  cmd->add_option("--port", flags->port,
                  "Master port; its HTTP port is the next one, agents use the ones after")
      ->capture_default_str()
      ->check(CLI::Range(1, 65000));
  cmd->add_option("--work_dir", flags->work_dir, "Directory for every daemon's state and logs")
      ->capture_default_str();
  cmd->add_option("--agent_resources", flags->agent_resources,
                  "Resources each agent offers (detected when omitted)");
  cmd->add_flag("--demo", flags->demo, "Run a demo job once the cluster is up");
  cmd->callback([flags, exit_code] {
    BlockTerminationSignals();
    std::error_code error;
    fs::create_directories(flags->work_dir, error);
    if (error) {
      std::fprintf(stderr, "stoa up: cannot create %s: %s\n", flags->work_dir.c_str(),
                   error.message().c_str());
      *exit_code = 1;
      return;
    }
    std::string work_dir = fs::canonical(flags->work_dir).string();
    std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string& ip = flags->ip;
    int master_port = flags->port, master_http = flags->port + 1;
    std::string master = ip + ":" + std::to_string(master_port);

    std::vector<pid_t> children;
    children.push_back(
        Spawn({self, "master", "--ip=" + ip, "--port=" + std::to_string(master_port),
               "--http_port=" + std::to_string(master_http), "--work_dir=" + work_dir + "/master"},
              work_dir + "/master.log"));
    std::printf("master      %s   http://%s:%d/state   log %s/master.log\n", master.c_str(),
                ip.c_str(), master_http, work_dir.c_str());
    for (int i = 0; i < flags->agents; ++i) {
      int http_port = master_port + 2 + i;
      std::string name = "agent" + std::to_string(i + 1);
      std::vector<std::string> args = {self,
                                       "agent",
                                       "--master=" + master,
                                       "--ip=" + ip,
                                       "--http_port=" + std::to_string(http_port),
                                       "--work_dir=" + work_dir + "/" + name};
      if (!flags->agent_resources.empty()) args.push_back("--resources=" + flags->agent_resources);
      children.push_back(Spawn(args, work_dir + "/" + name + ".log"));
      std::printf("%-11s http://%s:%d/state   log %s/%s.log\n", name.c_str(), ip.c_str(), http_port,
                  work_dir.c_str(), name.c_str());
    }
    std::fflush(stdout);

    bool ready = WaitForAgents(ip, master_http, flags->agents, 30);
    if (!ready) {
      std::fprintf(stderr, "stoa up: the cluster did not come up within 30s; see the logs in %s\n",
                   work_dir.c_str());
      *exit_code = 1;
    } else {
      std::printf("cluster is up: %d agents registered. Cluster state: http://%s:%d/state\n",
                  flags->agents, ip.c_str(), master_http);
      std::printf(
          "try: %s execute --master=%s --instances=4 --command='echo hello from $STOA_TASK_ID'\n",
          self.c_str(), master.c_str());
      std::fflush(stdout);
      if (flags->demo) {
        std::printf("\n--- demo: 4 tasks that say hello ---\n");
        std::fflush(stdout);
        pid_t demo = Spawn({self, "execute", "--master=" + master, "--instances=4", "--name=demo",
                            "--command=echo hello from $(hostname)"},
                           "");
        int status = 0;
        waitpid(demo, &status, 0);
        std::printf("--- demo %s ---\n",
                    WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "finished" : "failed");
      }
      std::printf("Press Ctrl-C to stop the cluster.\n");
      std::fflush(stdout);
      WaitForTerminationSignal();
    }
    std::printf("stopping the cluster...\n");
    for (auto it = children.rbegin(); it != children.rend(); ++it) kill(*it, SIGTERM);
    for (pid_t child : children) {
      int status = 0;
      waitpid(child, &status, 0);
    }
    std::printf("stopped.\n");
  });
}

}  // namespace stoa::cli

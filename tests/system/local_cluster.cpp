#include "tests/system/local_cluster.hpp"

#include "common/http_server.hpp"

namespace stoa::testing {

using json = nlohmann::json;

LocalCluster::LocalCluster() : bin_(BinDir()) {}

void LocalCluster::StartMaster() {
  master_port_ = FreePort();
  master_http_ = FreePort();
  master_ = "127.0.0.1:" + std::to_string(master_port_);
  processes_.push_back(std::make_unique<Process>(
      std::vector<std::string>{
          bin_ + "/stoa", "master", "--ip=127.0.0.1", "--port=" + std::to_string(master_port_),
          "--http_port=" + std::to_string(master_http_), "--work_dir=" + dir_.path() + "/master",
          "--allocation_interval=100ms", "--agent_ping_timeout=500ms",
          "--framework_heartbeat_interval=500ms"},
      dir_.path() + "/master.log"));
}

Process& LocalCluster::StartAgent(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> args{bin_ + "/stoa",
                                "agent",
                                "--master=" + master_,
                                "--ip=127.0.0.1",
                                "--http_port=" + std::to_string(FreePort()),
                                "--work_dir=" + dir_.path() + "/" + name,
                                "--resources=cpus:2;mem:2048;disk:1024",
                                "--status_update_retry_interval=1secs",
                                "--cgroups_root=" + cgroups_.name()};
  for (const std::string& flag : extra) {
    // A flag given in `extra` replaces the default of the same name.
    size_t equals = flag.find('=');
    std::string name = equals == std::string::npos ? flag : flag.substr(0, equals + 1);
    std::erase_if(args, [&](const std::string& arg) { return arg.rfind(name, 0) == 0; });
    args.push_back(flag);
  }
  processes_.push_back(std::make_unique<Process>(args, dir_.path() + "/" + name + ".log"));
  return *processes_.back();
}

json LocalCluster::State() const {
  Result<std::string> body = HttpGet("127.0.0.1", master_http_, "/state");
  if (!body.ok()) return json::object();
  json state = json::parse(*body, nullptr, false);
  return state.is_object() ? state : json::object();
}

int LocalCluster::ActiveAgents() const {
  int active = 0;
  for (const auto& agent : State().value("agents", json::array())) {
    active += agent.value("active", false) ? 1 : 0;
  }
  return active;
}

std::map<std::string, json> LocalCluster::MasterTasks() const {
  std::map<std::string, json> tasks;
  json state = State();
  for (const char* frameworks : {"frameworks", "completed_frameworks"}) {
    for (const auto& framework : state.value(frameworks, json::array())) {
      for (const char* list : {"tasks", "completed_tasks"}) {
        for (const auto& task : framework.value(list, json::array())) tasks[task["id"]] = task;
      }
    }
  }
  return tasks;
}

}  // namespace stoa::testing

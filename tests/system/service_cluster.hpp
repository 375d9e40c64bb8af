// `stoa master`, one `stoa agent` and `stoa service` as real processes on
// loopback, driven over plain HTTP as a Marathon user would with curl: the
// fixture of the service framework's system tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/http_server.hpp"
#include "tests/system/local_cluster.hpp"

namespace stoa::system_test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using stoa::testing::FreePort;
using stoa::testing::Process;
using stoa::testing::WaitFor;

class ServiceClusterTest : public ::testing::Test, protected stoa::testing::LocalCluster {
 protected:
  void SetUp() override {
    StartMaster();
    StartAgent("agent", {"--hostname=node0", "--attributes=rack:r1",
                         "--resources=cpus:2;mem:2048;disk:1024;ports:[31000-31099]"});
    service_http_ = FreePort();
    StartService();
    ASSERT_TRUE(WaitFor([&] { return Get("/v2/info").value("frameworkId", json()).is_string(); }))
        << Log("service");
  }

  // `stoa service` with `extra` flags last.
  void StartService(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {bin_ + "/stoa",
                                     "service",
                                     "--master=" + master_,
                                     "--ip=127.0.0.1",
                                     "--http_port=" + std::to_string(service_http_),
                                     "--work_dir=" + dir_.path() + "/service",
                                     "--min_revive_offers_interval=200ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    service_ = std::make_unique<Process>(args, dir_.path() + "/service.log");
  }

  HttpReply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = HttpCall(method, "127.0.0.1", service_http_, path, body);
    return reply.ok() ? *reply : HttpReply{};
  }
  json Get(const std::string& path) {
    HttpReply reply = Call("GET", path);
    return reply.status == 200 ? json::parse(reply.body, nullptr, false) : json::object();
  }

  // The app's tasks by id, as /v2/apps/{id}/tasks shows them.
  std::map<std::string, json> Tasks(const std::string& app) {
    std::map<std::string, json> tasks;
    for (const auto& task : Get("/v2/apps" + app + "/tasks").value("tasks", json::array())) {
      tasks[task["id"]] = task;
    }
    return tasks;
  }
  bool AllRunning(const std::string& app, size_t count) {
    auto tasks = Tasks(app);
    if (tasks.size() != count) return false;
    for (const auto& [id, task] : tasks) {
      if (task["state"] != "TASK_RUNNING") return false;
    }
    return Get("/v2/deployments").empty();
  }

  // The sandbox directory of `task` on whichever agent runs it.
  std::string Sandbox(const std::string& task) {
    for (const auto& entry : fs::recursive_directory_iterator(
             dir_.path(), fs::directory_options::skip_permission_denied)) {
      if (entry.path().filename() == "stdout" &&
          entry.path().string().find("/" + task) != std::string::npos) {
        return entry.path().parent_path().string();
      }
    }
    return "";
  }

  int service_http_ = 0;
  std::unique_ptr<Process> service_;  // goes before the cluster's processes
};

// The same with two agents named by loopback addresses (127.0.0.2 and
// 127.0.0.3), so that each has an address of its own: for DNS and the balancer.
class LoopbackAgentsTest : public ServiceClusterTest {
 protected:
  void SetUp() override {
    StartAgents();
    service_http_ = FreePort();
    StartServiceAndWait();
  }
  void StartAgents() {
    StartMaster();
    StartAgent("a1", {"--hostname=127.0.0.2", "--resources=cpus:2;mem:2048;ports:[31000-31049]"});
    StartAgent("a2", {"--hostname=127.0.0.3", "--resources=cpus:2;mem:2048;ports:[31050-31099]"});
  }
  void StartServiceAndWait(const std::vector<std::string>& extra = {}) {
    StartService(extra);
    ASSERT_TRUE(WaitFor([&] { return Get("/v2/info").value("frameworkId", json()).is_string(); }))
        << Log("service");
  }
};

// The events an SSE file holds, as (event line, data), comments skipped.
inline std::vector<std::pair<std::string, json>> ParseEvents(const std::string& text) {
  std::vector<std::pair<std::string, json>> events;
  size_t at = 0;
  for (size_t end; (end = text.find("\n\n", at)) != std::string::npos; at = end + 2) {
    std::string frame = text.substr(at, end - at);
    size_t newline = frame.find('\n');
    if (frame.rfind("event: ", 0) != 0 || newline == std::string::npos) continue;
    events.emplace_back(frame.substr(7, newline - 7),
                        json::parse(frame.substr(newline + 1 + 6), nullptr, false));
  }
  return events;
}

}  // namespace stoa::system_test

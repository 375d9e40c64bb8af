#include "agent/http.hpp"

#include "agent/sandbox.hpp"
#include "common/resources_json.hpp"

namespace stoa::agent {

using json = nlohmann::json;

namespace {

json TaskJson(const Task& task, const std::string& sandbox) {
  json statuses = json::array();
  for (const auto& s : task.statuses) {
    json status = {
        {"state", ToString(s.state)}, {"timestamp", s.timestamp}, {"message", s.message}};
    if (s.healthy) status["healthy"] = *s.healthy;
    statuses.push_back(std::move(status));
  }
  return json{{"id", task.info.task_id},
              {"framework_id", task.framework_id},
              {"executor_id", task.executor_id},
              {"state", ToString(task.state)},
              {"resources", ResourcesJson(task.info.resources)},
              {"sandbox", sandbox},
              {"statuses", statuses}};
}

}  // namespace

json StateJson(const AgentInfo& info, const MasterLink& link, const ExecutorManager& executors,
               const std::string& work_dir) {
  auto sandbox_of = [](const ExecutorEntry& executor, const TaskId& task_id) {
    return executor.info.group ? executor.sandbox + "/tasks/" + task_id : executor.sandbox;
  };
  json frameworks = json::array();
  for (const auto& [framework_id, framework] : executors.frameworks()) {
    json executor_list = json::array();
    for (const auto& [executor_id, executor] : framework.executors) {
      json tasks = json::array();
      for (const auto& [task_id, task] : executor.tasks) {
        tasks.push_back(TaskJson(task, sandbox_of(executor, task_id)));
      }
      executor_list.push_back({{"id", executor_id},
                               {"container_id", executor.container_id},
                               {"pid", executor.pid},
                               {"sandbox", executor.sandbox},
                               {"subscribed", executor.subscribed},
                               {"resources", ResourcesJson(executor.limits)},
                               {"tasks", tasks}});
    }
    frameworks.push_back(
        {{"id", framework_id}, {"name", framework.info.name}, {"executors", executor_list}});
  }
  json completed = json::array();
  for (const auto& [task, sandbox] : executors.completed_tasks()) {
    completed.push_back(TaskJson(task, sandbox));
  }
  return {{"id", link.agent_id()},
          {"master_id", link.master_id()},
          {"registered", link.registered()},
          {"gone", link.gone()},
          {"hostname", info.hostname},
          {"address", info.address},
          {"resources", ResourcesJson(info.resources)},
          {"work_dir", work_dir},
          {"pending_status_updates", executors.PendingUpdateCount()},
          {"frameworks", frameworks},
          {"completed_tasks", completed}};
}

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
    put("disk_used_bytes", s.disk_used_bytes);
    put("disk_limit_bytes", s.disk_limit_bytes);
    result.push_back({{"container_id", usage.container_id},
                      {"framework_id", usage.framework_id},
                      {"executor_id", usage.executor_id},
                      {"statistics", statistics}});
  }
  return result;
}

void AddAgentRoutes(HttpServer& http, std::function<std::string()> state,
                    std::shared_ptr<Containerizer> containerizer, const std::string& work_dir) {
  http.Route("GET", "/state", [state = std::move(state)](const HttpRequest&) {
    HttpResponse response;
    response.body = state();
    return response;
  });
  http.Route("GET", "/health", [](const HttpRequest&) {
    HttpResponse response;
    response.body = R"({"healthy":true})";
    return response;
  });
  http.Route("GET", "/monitor/statistics", [containerizer](const HttpRequest&) {
    HttpResponse response;
    response.body = StatisticsJson(containerizer->UsageAll()).dump();
    return response;
  });
  auto files = std::make_shared<SandboxFiles>(work_dir);
  http.Route("GET", "/files/read",
             [files](const HttpRequest& request) { return files->Read(request); });
}

}  // namespace stoa::agent

#include "agent/http.hpp"

#include <map>

#include "agent/sandbox.hpp"
#include "common/prometheus.hpp"
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

std::string MetricsText(const MasterLink& link, const ExecutorManager& executors) {
  PrometheusText out;
  out.Metric("stoa_agent_registered", "gauge", "1 while registered with a master.");
  out.Sample("stoa_agent_registered", link.registered() ? 1 : 0);
  size_t executor_count = 0, staying = 0, idle = 0;
  std::map<TaskState, size_t> tasks;
  for (const auto& [framework_id, framework] : executors.frameworks()) {
    for (const auto& [executor_id, executor] : framework.executors) {
      ++executor_count;
      if (executor.stays()) ++staying;
      if (executor.idle_since) ++idle;
      for (const auto& [task_id, task] : executor.tasks) {
        if (!IsTerminal(task.state)) ++tasks[task.state];
      }
    }
  }
  out.Metric("stoa_agent_executors", "gauge", "Executors by kind.");
  out.Sample("stoa_agent_executors", {{"kind", "all"}}, static_cast<double>(executor_count));
  out.Sample("stoa_agent_executors", {{"kind", "staying"}}, static_cast<double>(staying));
  out.Sample("stoa_agent_executors", {{"kind", "idle"}}, static_cast<double>(idle));
  out.Metric("stoa_agent_tasks", "gauge", "Tasks that have not ended, by state.");
  for (TaskState state :
       {TaskState::kStaging, TaskState::kStarting, TaskState::kRunning, TaskState::kKilling}) {
    out.Sample("stoa_agent_tasks", {{"state", ToString(state)}}, static_cast<double>(tasks[state]));
  }
  out.Metric("stoa_agent_status_updates_pending", "gauge",
             "Task updates not yet acknowledged by the framework.");
  out.Sample("stoa_agent_status_updates_pending",
             static_cast<double>(executors.PendingUpdateCount()));
  const ExecutorCounters& c = executors.counters();
  auto counter = [&](const char* name, const char* help, int64_t value) {
    out.Metric(name, "counter", help);
    out.Sample(name, static_cast<double>(value));
  };
  counter("stoa_agent_tasks_launched_total", "Tasks given to executors.", c.tasks_launched);
  counter("stoa_agent_executors_launched_total", "Containers launched for executors.",
          c.executors_launched);
  counter("stoa_agent_executor_launch_failures_total",
          "Executors whose container could not be launched.", c.launch_failures);
  counter("stoa_agent_status_updates_total", "Task updates received.", c.status_updates);
  counter("stoa_agent_idle_shutdowns_total",
          "Staying executors shut down after their idle timeout.", c.idle_shutdowns);
  return out.str();
}

std::string UsageMetricsText(const std::vector<ContainerUsage>& usages) {
  double cpu_seconds = 0, memory = 0, processes = 0;
  for (const auto& usage : usages) {
    const isolators::ResourceStatistics& s = usage.statistics;
    cpu_seconds += s.cpus_user_seconds.value_or(0) + s.cpus_system_seconds.value_or(0);
    memory += static_cast<double>(s.mem_usage_bytes.value_or(s.mem_rss_bytes.value_or(0)));
    processes += static_cast<double>(s.processes.value_or(0));
  }
  PrometheusText out;
  out.Metric("stoa_agent_containers", "gauge", "Running containers.");
  out.Sample("stoa_agent_containers", static_cast<double>(usages.size()));
  out.Metric("stoa_agent_container_cpu_seconds", "gauge",
             "Cpu time (user and system) of the running containers.");
  out.Sample("stoa_agent_container_cpu_seconds", cpu_seconds);
  out.Metric("stoa_agent_container_memory_bytes", "gauge", "Memory the running containers use.");
  out.Sample("stoa_agent_container_memory_bytes", memory);
  out.Metric("stoa_agent_container_processes", "gauge", "Processes in the running containers.");
  out.Sample("stoa_agent_container_processes", processes);
  return out.str();
}

void AddAgentRoutes(HttpServer& http, std::function<std::string()> state,
                    std::function<std::string()> metrics,
                    std::shared_ptr<Containerizer> containerizer, const std::string& work_dir) {
  http.Route("GET", "/state", [state = std::move(state)](const HttpRequest&) {
    HttpResponse response;
    response.body = state();
    return response;
  });
  http.Route("GET", "/metrics", [metrics = std::move(metrics), containerizer](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = metrics() + UsageMetricsText(containerizer->UsageAll());
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

#include "master/views.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "common/resources_json.hpp"

namespace stoa::master {
namespace {

using json = nlohmann::json;

json StatusJson(const TaskStatus& status) {
  json out = {{"state", ToString(status.state)},
              {"timestamp", status.timestamp},
              {"source", ToString(status.source)}};
  if (status.reason != Reason::kNone) out["reason"] = ToString(status.reason);
  if (!status.message.empty()) out["message"] = status.message;
  if (status.exit_status >= 0) out["exit_status"] = status.exit_status;
  if (status.healthy) out["healthy"] = *status.healthy;
  return out;
}

json TaskJson(const Task& task) {
  json statuses = json::array();
  for (const auto& status : task.statuses) statuses.push_back(StatusJson(status));
  return {{"id", task.info.task_id},
          {"name", task.info.name},
          {"framework_id", task.framework_id},
          {"agent_id", task.info.agent_id},
          {"executor_id", task.executor_id},
          {"state", ToString(task.state)},
          {"resources", ResourcesJson(task.info.resources)},
          {"command", task.info.command.value},
          {"statuses", statuses}};
}

json FrameworkJson(const MasterSnapshot::FrameworkView& framework) {
  json tasks = json::array(), completed = json::array();
  Resources used;
  for (const auto& task : framework.tasks) {
    tasks.push_back(TaskJson(task));
    if (!IsTerminal(task.state)) used += task.info.resources;
  }
  for (const auto& task : framework.completed_tasks) completed.push_back(TaskJson(*task));
  return {{"id", framework.info.id},
          {"name", framework.info.name},
          {"user", framework.info.user},
          {"roles", framework.info.roles},
          {"connected", framework.connected},
          {"active", framework.active},
          {"partition_aware", framework.info.partition_aware},
          {"failover_timeout", framework.info.failover_timeout_seconds},
          {"registered_time", framework.registered_time},
          {"used_resources", ResourcesJson(used)},
          {"offers", framework.offers},
          {"tasks", tasks},
          {"completed_tasks", completed}};
}

MasterSnapshot::FrameworkView FrameworkViewOf(const Framework& framework, size_t offers,
                                              bool with_tasks) {
  MasterSnapshot::FrameworkView view;
  view.info = framework.info;
  view.connected = framework.connected();
  view.active = framework.active();
  view.registered_time = framework.registered_time;
  view.offers = offers;
  if (with_tasks) {
    view.tasks.reserve(framework.tasks.size());
    for (const auto& [id, task] : framework.tasks) view.tasks.push_back(task);
    const auto& completed = framework.completed_tasks.tasks();
    view.completed_tasks.assign(completed.begin(), completed.end());
  }
  return view;
}

}  // namespace

MasterSnapshot TakeSnapshot(const FrameworkBook& frameworks, const AgentBook& agents,
                            const OfferBook& offers, bool with_tasks) {
  MasterSnapshot snapshot;
  snapshot.recovered_agents.assign(agents.recovered().begin(), agents.recovered().end());
  for (const auto& [id, agent] : agents.all()) {
    snapshot.agents.push_back(MasterSnapshot::AgentView{agent.info, agent.reachable(),
                                                        agent.registered_time, agent.used,
                                                        offers.Offered(id), agent.usage});
  }
  snapshot.tasks_by_state.assign(kTaskStateCount, 0);
  auto count_tasks = [&](const Framework& framework) {
    for (const auto& [id, task] : framework.tasks) {
      snapshot.tasks_by_state[static_cast<int>(task.state)]++;
    }
    for (const auto& task : framework.completed_tasks.tasks()) {
      snapshot.tasks_by_state[static_cast<int>(task->state)]++;
    }
  };
  for (const auto& [id, framework] : frameworks.all()) {
    snapshot.frameworks.push_back(
        FrameworkViewOf(framework, offers.CountOfFramework(id), with_tasks));
    count_tasks(framework);
  }
  for (const auto& framework : frameworks.completed()) {
    if (with_tasks) snapshot.completed_frameworks.push_back(FrameworkViewOf(framework, 0, true));
    count_tasks(framework);
  }
  snapshot.completed_framework_count = frameworks.completed().size();
  snapshot.offers_outstanding = offers.size();
  return snapshot;
}

std::string RenderState(const MasterSnapshot& snapshot) {
  json agents = json::array();
  for (const auto& agent : snapshot.agents) {
    agents.push_back({{"id", agent.info.id},
                      {"hostname", agent.info.hostname},
                      {"address", agent.info.address},
                      {"http_address", agent.info.http_address},
                      {"active", agent.reachable},
                      {"registered_time", agent.registered_time},
                      {"resources", ResourcesJson(agent.info.resources)},
                      {"used_resources", ResourcesJson(agent.used)},
                      {"offered_resources", ResourcesJson(agent.offered)}});
  }
  json frameworks = json::array(), completed = json::array();
  for (const auto& framework : snapshot.frameworks) frameworks.push_back(FrameworkJson(framework));
  for (const auto& framework : snapshot.completed_frameworks) {
    completed.push_back(FrameworkJson(framework));
  }
  return json{{"id", snapshot.master_id},
              {"version", "0.1.0"},
              {"address", snapshot.address},
              {"leader", snapshot.address},
              {"start_time", snapshot.start_time},
              {"recovered_agents", snapshot.recovered_agents},
              {"agents", agents},
              {"frameworks", frameworks},
              {"completed_frameworks", completed}}
      .dump();
}

std::string RenderMetrics(const MasterSnapshot& snapshot, const EndpointCounters& transport,
                          double wall_now) {
  std::string out;
  auto metric = [&out](const std::string& name, const std::string& type, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto sample = [&out](const std::string& name, const std::string& labels, double value) {
    out +=
        name + (labels.empty() ? "" : "{" + labels + "}") + " " + fmt::format("{}", value) + "\n";
  };
  int active_agents = 0, unreachable_agents = 0;
  Resources total, used, offered;
  agentmsg::UsageReport usage;  // summed over reachable agents
  for (const auto& agent : snapshot.agents) {
    (agent.reachable ? active_agents : unreachable_agents)++;
    if (!agent.reachable) continue;
    total += agent.info.resources;
    used += agent.used;
    offered += agent.offered;
    usage.cpu_seconds += agent.usage.cpu_seconds;
    usage.memory_bytes += agent.usage.memory_bytes;
    usage.processes += agent.usage.processes;
    usage.containers += agent.usage.containers;
  }
  metric("stoa_master_agents", "gauge", "Agents by state.");
  sample("stoa_master_agents", "state=\"active\"", active_agents);
  sample("stoa_master_agents", "state=\"unreachable\"", unreachable_agents);

  int connected = 0, disconnected = 0;
  for (const auto& framework : snapshot.frameworks) {
    (framework.connected ? connected : disconnected)++;
  }
  metric("stoa_master_frameworks", "gauge", "Frameworks by state.");
  sample("stoa_master_frameworks", "state=\"connected\"", connected);
  sample("stoa_master_frameworks", "state=\"disconnected\"", disconnected);
  sample("stoa_master_frameworks", "state=\"completed\"",
         static_cast<double>(snapshot.completed_framework_count));

  metric("stoa_master_tasks", "gauge", "Tasks the master knows (active and completed) by state.");
  for (int i = 0; i < kTaskStateCount; ++i) {
    sample("stoa_master_tasks", fmt::format("state=\"{}\"", ToString(static_cast<TaskState>(i))),
           static_cast<double>(snapshot.tasks_by_state[i]));
  }
  const MasterCounters& c = snapshot.counters;
  metric("stoa_master_tasks_launched_total", "counter", "Tasks launched since start.");
  sample("stoa_master_tasks_launched_total", "", static_cast<double>(c.tasks_launched));

  std::set<std::string> names;
  for (const auto& name : total.ScalarNames()) names.insert(name);
  metric("stoa_master_resources", "gauge", "Resources of reachable agents.");
  for (const auto& name : names) {
    sample("stoa_master_resources", "resource=\"" + name + "\"", total.Get(name));
  }
  metric("stoa_master_resources_used", "gauge", "Resources used by tasks.");
  for (const auto& name : names) {
    sample("stoa_master_resources_used", "resource=\"" + name + "\"", used.Get(name));
  }
  metric("stoa_master_resources_offered", "gauge", "Resources in outstanding offers.");
  for (const auto& name : names) {
    sample("stoa_master_resources_offered", "resource=\"" + name + "\"", offered.Get(name));
  }
  metric("stoa_master_offers_outstanding", "gauge", "Offers not yet answered.");
  sample("stoa_master_offers_outstanding", "", static_cast<double>(snapshot.offers_outstanding));
  metric("stoa_master_offers_sent_total", "counter", "Offers sent to frameworks.");
  sample("stoa_master_offers_sent_total", "", static_cast<double>(c.offers_sent));
  metric("stoa_allocator_round_seconds", "summary", "Time one allocation round takes.");
  sample("stoa_allocator_round_seconds_sum", "", c.allocation_seconds_total);
  sample("stoa_allocator_round_seconds_count", "", static_cast<double>(c.allocation_rounds));
  metric("stoa_allocator_last_round_seconds", "gauge", "Time the last allocation round took.");
  sample("stoa_allocator_last_round_seconds", "", c.last_allocation_seconds);
  metric("stoa_master_status_updates_total", "counter", "Status updates received from agents.");
  sample("stoa_master_status_updates_total", "", static_cast<double>(c.status_updates));
  metric("stoa_master_frames_received_total", "counter", "Frames received.");
  sample("stoa_master_frames_received_total", "", static_cast<double>(transport.frames_received));
  metric("stoa_master_invalid_frames_total", "counter",
         "Frames refused: malformed, or of a kind the master does not take.");
  sample("stoa_master_invalid_frames_total", "",
         static_cast<double>(transport.malformed_frames + c.refused_messages));
  metric("stoa_master_malformed_frames_total", "counter",
         "Frames that did not decode (dropped on the transport's I/O thread).");
  sample("stoa_master_malformed_frames_total", "", static_cast<double>(transport.malformed_frames));
  metric("stoa_master_frames_in_flight", "gauge",
         "Frames decoded and handed to the master actor, not yet processed.");
  sample("stoa_master_frames_in_flight", "", static_cast<double>(transport.frames_in_flight));
  metric("stoa_master_frames_in_flight_peak", "gauge", "The most frames in flight at once.");
  sample("stoa_master_frames_in_flight_peak", "",
         static_cast<double>(transport.frames_in_flight_peak));
  metric("stoa_master_frames_in_flight_limit", "gauge",
         "Frames in flight at which the master stops reading its socket.");
  sample("stoa_master_frames_in_flight_limit", "", static_cast<double>(transport.max_in_flight));
  metric("stoa_master_read_pauses_total", "counter",
         "Times the master stopped reading because the frames in flight reached the limit.");
  sample("stoa_master_read_pauses_total", "", static_cast<double>(transport.read_pauses));
  metric("stoa_master_frames_sent_total", "counter", "Frames handed to ZeroMQ for peers.");
  sample("stoa_master_frames_sent_total", "", static_cast<double>(transport.frames_sent));
  metric("stoa_master_frames_dropped_total", "counter",
         "Outgoing frames dropped: the peer's queue was full, the peer was gone, or the frame "
         "too large.");
  sample("stoa_master_frames_dropped_total", "", static_cast<double>(transport.frames_dropped));
  metric("stoa_master_frames_queued", "gauge", "Outgoing frames waiting for slow peers.");
  sample("stoa_master_frames_queued", "", static_cast<double>(transport.frames_queued));
  metric("stoa_master_queued_bytes", "gauge", "Bytes of the outgoing frames waiting.");
  sample("stoa_master_queued_bytes", "", static_cast<double>(transport.bytes_queued));
  metric(
      "stoa_master_snapshots_total", "counter",
      "Copies of the books taken for /state and /metrics (asks that arrive together share one).");
  sample("stoa_master_snapshots_total", "", static_cast<double>(c.snapshots));
  metric("stoa_master_uptime_seconds", "gauge", "Seconds since the master started.");
  sample("stoa_master_uptime_seconds", "", wall_now - snapshot.start_time);
  metric("stoa_master_container_cpu_seconds", "gauge",
         "Cpu time (user and system) of the running containers on reachable agents.");
  sample("stoa_master_container_cpu_seconds", "", usage.cpu_seconds);
  metric("stoa_master_container_memory_bytes", "gauge",
         "Memory used by the running containers on reachable agents.");
  sample("stoa_master_container_memory_bytes", "", static_cast<double>(usage.memory_bytes));
  metric("stoa_master_container_processes", "gauge",
         "Processes in the running containers on reachable agents.");
  sample("stoa_master_container_processes", "", static_cast<double>(usage.processes));
  metric("stoa_master_containers", "gauge", "Running containers on reachable agents.");
  sample("stoa_master_containers", "", static_cast<double>(usage.containers));
  return out;
}

std::string SharedAnswer::Get(const std::function<std::string()>& make) {
  std::unique_lock<std::mutex> lock(mutex_);
  // An answer being made now may predate this request (a change it must
  // see): it takes the next one, which the callers arriving meanwhile share.
  const uint64_t wanted = round_ + (making_ ? 2 : 1);
  while (round_ < wanted) {
    if (making_) {
      ++waiting_;
      done_.wait(lock, [&] { return !making_; });
      --waiting_;
      continue;
    }
    making_ = true;
    lock.unlock();
    std::string answer;
    try {
      answer = make();
    } catch (...) {
      lock.lock();
      making_ = false;  // the next caller tries again
      done_.notify_all();
      throw;
    }
    lock.lock();
    answer_ = std::move(answer);
    making_ = false;
    ++round_;
    done_.notify_all();
  }
  return answer_;
}

size_t SharedAnswer::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

}  // namespace stoa::master

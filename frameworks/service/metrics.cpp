#include "frameworks/service/metrics.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "frameworks/service/tree_plan.hpp"

namespace stoa::service {

void HttpRequestCounter::Count(const std::string& method, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[{method, status}];
}

std::map<std::pair<std::string, int>, uint64_t> HttpRequestCounter::Snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

namespace {

// One metric family: its HELP and TYPE lines, then its samples.
class Family {
 public:
  Family(std::ostringstream& out, const MetricInfo& info) : out_(out), name_(info.name) {
    out_ << "# HELP " << info.name << " " << info.help << "\n";
    out_ << "# TYPE " << info.name << " " << info.type << "\n";
  }
  void Sample(uint64_t value, const std::string& labels = "") {
    out_ << name_ << (labels.empty() ? "" : "{" + labels + "}") << " " << value << "\n";
  }

 private:
  std::ostringstream& out_;
  const char* name_;
};

std::string Label(const std::string& name, const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return name + "=\"" + escaped + "\"";
}

}  // namespace

std::string RenderMetrics(const ServiceView& view, const CoreCounters& counters,
                          const std::vector<QueuedApp>& queue,
                          const std::map<std::pair<std::string, int>, uint64_t>& http) {
  std::ostringstream out;
  uint64_t instances = 0;
  std::vector<uint64_t> by_state(kTaskStateCount, 0);
  std::vector<PathId> app_ids, group_ids;
  for (const auto& app : view.apps) {
    instances += static_cast<uint64_t>(app.app.instances);
    app_ids.push_back(app.app.id);
    for (const auto& task : app.tasks) ++by_state[static_cast<int>(task.state)];
  }
  for (const auto& group : view.groups) group_ids.push_back(group.id);
  Family(out, metric::kApps).Sample(view.apps.size());
  Family(out, metric::kGroups).Sample(GroupIds(app_ids, group_ids).size());
  Family(out, metric::kInstances).Sample(instances);
  Family tasks(out, metric::kTasks);
  for (int i = 0; i < kTaskStateCount; ++i) {
    tasks.Sample(by_state[i], Label("state", ToString(static_cast<TaskState>(i))));
  }
  Family(out, metric::kLaunches).Sample(counters.tasks_launched);
  Family(out, metric::kKills).Sample(counters.tasks_killed);
  Family offers(out, metric::kOffers);
  offers.Sample(counters.offers_used, Label("result", "used"));
  offers.Sample(counters.offers_declined, Label("result", "declined"));
  Family(out, metric::kDeployments).Sample(view.deployments.size());
  Family(out, metric::kDeploymentsStarted).Sample(counters.deployments_started);
  uint64_t waiting = 0;
  for (const auto& queued : queue) waiting += static_cast<uint64_t>(queued.count);
  Family(out, metric::kQueueApps).Sample(queue.size());
  Family(out, metric::kQueueInstances).Sample(waiting);
  Family(out, metric::kSubscribed).Sample(view.subscribed ? 1 : 0);
  Family requests(out, metric::kHttpRequests);
  for (const auto& [key, count] : http) {
    requests.Sample(count,
                    Label("method", key.first) + "," + Label("status", std::to_string(key.second)));
  }
  return out.str();
}

nlohmann::json MetricsJson(const std::string& text) {
  nlohmann::json out = {{"version", "4.0.0"},
                        {"gauges", nlohmann::json::object()},
                        {"counters", nlohmann::json::object()},
                        {"histograms", nlohmann::json::object()},
                        {"meters", nlohmann::json::object()},
                        {"timers", nlohmann::json::object()}};
  std::map<std::string, std::string> types;  // family -> "gauge" / "counter"
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    std::string sample = line.substr(0, space);
    std::string family = sample.substr(0, sample.find('{'));
    double value = std::strtod(line.c_str() + space + 1, nullptr);
    if (types[family] == "counter") {
      out["counters"][sample] = {{"count", value}};
    } else {
      out["gauges"][sample] = {{"value", value}};
    }
  }
  return out;
}

}  // namespace stoa::service

#include "frameworks/service/autoscale_round.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "common/logging.hpp"

namespace stoa::service {

using json = nlohmann::json;

namespace {

// Requests per second by app id, from `stoa lb`'s /v1/backends; none when it
// cannot be read.
std::optional<std::map<std::string, double>> RequestRates(const BackendsFetcher& backends) {
  if (!backends) return std::nullopt;
  Result<std::string> body = backends();
  json parsed = body.ok() ? json::parse(*body, nullptr, false) : json();
  if (!parsed.is_object() || !parsed.contains("backends") || !parsed["backends"].is_array()) {
    Logger("service")->warn("autoscaler: cannot read the balancer's /v1/backends: {}",
                            body.ok() ? "not its JSON" : body.error());
    return std::nullopt;
  }
  std::map<std::string, double> rates;
  for (const auto& backend : parsed["backends"]) {
    if (!backend.is_object()) continue;
    auto app = backend.find("appId");
    auto rate = backend.find("requestRate");
    if (app == backend.end() || !app->is_string() || rate == backend.end() || !rate->is_number()) {
      continue;
    }
    rates[app->get<std::string>()] += rate->get<double>();
  }
  return rates;
}

}  // namespace

void RunAutoscaleRound(ServiceCore& core, CpuSampler& sampler, const StatisticsFetcher& fetch,
                       const BackendsFetcher& backends) {
  std::vector<AutoscaleTarget> targets = core.AutoscaleTargets();
  if (targets.empty()) return;
  std::optional<std::map<std::string, double>> rates;
  for (const auto& target : targets) {
    if (target.policy.target_rps > 0 && !rates) rates = RequestRates(backends);
  }
  // executor id -> (cumulative cpu seconds, timestamp), from each agent once.
  std::map<std::string, std::pair<double, double>> readings;
  std::map<std::string, bool> fetched;
  for (const auto& target : targets) {
    if (target.policy.target_rps > 0) continue;  // no CPU figures needed
    for (const auto& [task, agent] : target.tasks) {
      if (fetched.count(agent)) continue;
      Result<std::string> body = fetch(agent);
      fetched[agent] = body.ok();
      if (!body.ok()) {
        Logger("service")->warn("autoscaler: no statistics from agent {}: {}", agent, body.error());
        continue;
      }
      json containers = json::parse(*body, nullptr, false);
      if (!containers.is_array()) continue;
      for (const auto& container : containers) {
        if (!container.is_object() || !container.contains("statistics")) continue;
        const json& statistics = container["statistics"];
        const json& executor =
            container.contains("executor_id") ? container["executor_id"] : json();
        if (!statistics.is_object() || !executor.is_string()) continue;
        // Numbers only: a field of another type reads as 0, never as an exception.
        auto number = [&](const char* key) {
          auto found = statistics.find(key);
          return found != statistics.end() && found->is_number() ? found->get<double>() : 0.0;
        };
        readings[executor.get<std::string>()] = {
            number("cpus_user_time_secs") + number("cpus_system_time_secs"), number("timestamp")};
      }
    }
  }
  std::set<std::string> seen;
  for (const auto& target : targets) {
    if (target.policy.target_rps > 0) {
      std::optional<double> per_instance;
      if (rates && !target.tasks.empty()) {
        auto rate = rates->find(target.app.ToString());
        per_instance =
            (rate == rates->end() ? 0.0 : rate->second) / static_cast<double>(target.tasks.size());
      }
      core.Autoscale(
          target.app, per_instance,
          DecideScale(target.policy, target.instances, per_instance, target.since_change));
      continue;
    }
    double sum = 0;
    int measured = 0;
    for (const auto& [task, agent] : target.tasks) {
      seen.insert(task);
      // A command task's executor is named after it: TASK.executor-…
      auto reading = readings.lower_bound(task + ".executor-");
      if (reading == readings.end() || reading->first.rfind(task + ".executor-", 0) != 0) continue;
      sampler.Add(task, reading->second.first, reading->second.second);
      if (auto percent = sampler.Percent(task, target.cpus)) {
        sum += *percent;
        ++measured;
      }
    }
    std::optional<double> average;
    if (measured > 0) average = sum / measured;
    core.Autoscale(target.app, average,
                   DecideScale(target.policy, target.instances, average, target.since_change));
  }
  sampler.Retain(seen);
}

}  // namespace stoa::service

#include <map>
#include <mutex>

#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, IsolatorFactory> factories;
};

// Built on first use: the RegisterIsolator objects of other files may run first.
Registry& TheRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

}  // namespace

void ResourceStatistics::Merge(const ResourceStatistics& other) {
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs.has_value()) mine = theirs;
  };
  if (other.timestamp > 0) timestamp = other.timestamp;
  take(cpus_limit, other.cpus_limit);
  take(cpus_user_seconds, other.cpus_user_seconds);
  take(cpus_system_seconds, other.cpus_system_seconds);
  take(cpus_throttled_seconds, other.cpus_throttled_seconds);
  take(cpus_nr_periods, other.cpus_nr_periods);
  take(cpus_nr_throttled, other.cpus_nr_throttled);
  take(mem_rss_bytes, other.mem_rss_bytes);
  take(mem_usage_bytes, other.mem_usage_bytes);
  take(mem_limit_bytes, other.mem_limit_bytes);
  take(processes, other.processes);
  take(threads, other.threads);
  take(processes_limit, other.processes_limit);
  take(disk_used_bytes, other.disk_used_bytes);
  take(disk_limit_bytes, other.disk_limit_bytes);
}

void IsolatorRegistry::Register(const std::string& name, IsolatorFactory factory) {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.factories[name] = std::move(factory);
}

Result<std::unique_ptr<Isolator>> IsolatorRegistry::Create(const std::string& name,
                                                           const IsolatorOptions& options) {
  IsolatorFactory factory;
  {
    Registry& registry = TheRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    auto it = registry.factories.find(name);
    if (it != registry.factories.end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
    return Status::Error("unknown isolator '" + name + "' (known: " + known + ")");
  }
  return factory(options);
}

std::vector<std::string> IsolatorRegistry::Names() {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry.factories) names.push_back(name);
  return names;
}

}  // namespace stoa::isolators

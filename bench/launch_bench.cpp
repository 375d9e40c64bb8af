// Launch latency of the containerizer: from Launch() until the container's
// first process (the executor) has exec'd, over 200 launches, for the posix
// launcher, full isolation without a network namespace and full isolation
// with one. Prints p50 and p99 (counters p50_ms, p99_ms). Needs root for the
// isolated cases.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/containerizer.hpp"
#include "bench/launch_common.hpp"
#include "isolators/cgroups/cgroups.hpp"

namespace {

namespace fs = std::filesystem;
using stoa::agent::ContainerConfig;
using stoa::agent::Containerizer;
using stoa::agent::ContainerizerOptions;

using stoa::bench::kFullIsolation;
using stoa::bench::kFullIsolationWithNet;

void LaunchLatency(benchmark::State& state, const char* isolation, bool network_isolated) {
  if (geteuid() != 0 && std::string(isolation) != "posix") {
    state.SkipWithError("isolation needs root");
    return;
  }
  char pattern[] = "/tmp/stoa-launch-bench-XXXXXX";
  std::string dir = mkdtemp(pattern);
  std::string root = "stoa-bench-" + std::to_string(getpid());
  ContainerizerOptions options;
  options.work_dir = dir + "/work";
  options.isolation = isolation;
  options.cgroups_root = root;
  auto containerizer = Containerizer::Create(options);
  if (!containerizer.ok()) {
    state.SkipWithError(containerizer.error().c_str());
    return;
  }
  std::vector<double> latencies;
  int count = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ContainerConfig config;
    config.container_id = "bench-" + std::to_string(count++);
    config.program = "/bin/true";
    config.sandbox = dir + "/sandboxes/" + config.container_id;
    fs::create_directories(config.sandbox);
    config.resources = *stoa::Resources::Parse("cpus:0.5;mem:128");
    config.container.network_isolated = network_isolated;
    state.ResumeTiming();
    auto start = std::chrono::steady_clock::now();
    auto pid = (*containerizer)->Launch(config, nullptr);
    auto end = std::chrono::steady_clock::now();
    state.PauseTiming();
    if (!pid.ok()) {
      state.SkipWithError(pid.error().c_str());
      break;
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    (*containerizer)->Wait(config.container_id, 30);  // ended and cleaned up, untimed
    state.ResumeTiming();
  }
  containerizer->reset();
  for (const char* controller : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    auto hierarchy = stoa::isolators::cgroups::FindHierarchy(controller);
    if (hierarchy.ok()) stoa::isolators::cgroups::Remove(hierarchy->mount_point + "/" + root);
  }
  if (auto unified = stoa::isolators::cgroups::FindUnifiedHierarchy()) {
    stoa::isolators::cgroups::Remove(unified->mount_point + "/" + root);
  }
  std::error_code error;
  fs::remove_all(dir, error);
  stoa::bench::ReportPercentiles(state, std::move(latencies));
}

BENCHMARK_CAPTURE(LaunchLatency, posix, "posix", false)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LaunchLatency, full_isolation_without_net, kFullIsolation, false)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LaunchLatency, full_isolation_with_net, kFullIsolationWithNet, true)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

// What the launch benchmarks share: the isolator sets they compare and how
// they report latencies.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

namespace stoa::bench {

inline constexpr const char* kFullIsolation =
    "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
    "namespaces/ipc,filesystem/linux";
inline constexpr const char* kFullIsolationWithNet =
    "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
    "namespaces/ipc,namespaces/net,filesystem/linux";

// Sets the counters p50_ms and p99_ms from latencies in milliseconds.
inline void ReportPercentiles(benchmark::State& state, std::vector<double> latencies_ms) {
  if (latencies_ms.empty()) return;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto percentile = [&](double p) {
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  state.counters["p50_ms"] = percentile(0.50);
  state.counters["p99_ms"] = percentile(0.99);
}

}  // namespace stoa::bench

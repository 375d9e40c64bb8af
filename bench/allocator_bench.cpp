// Allocation round benchmarks, after Mesos's HierarchicalAllocator_BENCHMARK_Test.
// Every agent has cpus:24;mem:4096;ports:[31000-32000]; every framework is in
// one role. Each case reports the time of one Allocate() call.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "master/allocator.hpp"

namespace stoa::master {
namespace {

constexpr double kFiveDays = 5 * 24 * 3600;

struct Cluster {
  Allocator allocator;
  std::vector<AgentId> agents;
  std::vector<FrameworkId> frameworks;
};

void Populate(Cluster& cluster, int64_t agents, int64_t frameworks) {
  Resources resources = Resources::Parse("cpus:24;mem:4096;ports:[31000-32000]").value();
  for (int64_t i = 0; i < agents; ++i) {
    cluster.agents.push_back("agent-" + std::to_string(i));
    cluster.allocator.AddAgent(cluster.agents.back(), resources);
  }
  for (int64_t i = 0; i < frameworks; ++i) {
    cluster.frameworks.push_back("framework-" + std::to_string(i));
    cluster.allocator.AddFramework(cluster.frameworks.back(), {"bench"});
  }
}

// Every framework declines what it was offered with a long filter.
void DeclineAll(Allocator& allocator, const std::vector<Allocation>& allocations, double now) {
  for (const Allocation& offer : allocations) {
    allocator.Recover(offer.framework_id, offer.agent_id, offer.resources);
    allocator.AddFilter(offer.framework_id, offer.agent_id, kFiveDays, now);
  }
}

void SetCounters(benchmark::State& state, size_t offers) {
  state.counters["agents"] = static_cast<double>(state.range(0));
  state.counters["frameworks"] = static_cast<double>(state.range(1));
  state.counters["offers"] =
      benchmark::Counter(static_cast<double>(offers), benchmark::Counter::kAvgIterations);
}

// Mesos's DeclineOffers scenario at its steady state: the first round makes
// offers, every framework declines them and every other agent with a 5-day
// filter, and the resources are recovered. The timed round finds every agent
// filtered by every framework that wants offers.
void BM_DeclineOffers(benchmark::State& state) {
  Cluster cluster;
  Populate(cluster, state.range(0), state.range(1));
  double now = 0;
  DeclineAll(cluster.allocator, cluster.allocator.Allocate(now), now);
  for (const FrameworkId& framework : cluster.frameworks) {
    for (const AgentId& agent : cluster.agents) {
      cluster.allocator.AddFilter(framework, agent, kFiveDays, now);
    }
  }
  now += 1;
  size_t offers = 0;
  for (auto _ : state) {
    std::vector<Allocation> allocations = cluster.allocator.Allocate(now);
    offers += allocations.size();
    benchmark::DoNotOptimize(allocations.data());
  }
  if (offers != 0) state.SkipWithError("a round made offers although everything was declined");
  SetCounters(state, offers);
}

// The rounds on the way to that steady state: each round offers every agent to
// the lowest-share framework that has not declined it yet (walking past those
// that have), and the offers are then declined with a 5-day filter (untimed).
void BM_DeclineOffersRounds(benchmark::State& state) {
  Cluster cluster;
  Populate(cluster, state.range(0), state.range(1));
  double now = 0;
  DeclineAll(cluster.allocator, cluster.allocator.Allocate(now), now);
  size_t offers = 0;
  for (auto _ : state) {
    now += 1;
    std::vector<Allocation> allocations = cluster.allocator.Allocate(now);
    state.PauseTiming();
    offers += allocations.size();
    DeclineAll(cluster.allocator, allocations, now);
    state.ResumeTiming();
  }
  SetCounters(state, offers);
}

// A round in which every agent is offered (no filters); the frameworks' use
// is recovered between rounds (untimed).
void BM_AcceptRound(benchmark::State& state) {
  Cluster cluster;
  Populate(cluster, state.range(0), state.range(1));
  double now = 0;
  size_t offers = 0;
  for (auto _ : state) {
    std::vector<Allocation> allocations = cluster.allocator.Allocate(now);
    state.PauseTiming();
    offers += allocations.size();
    for (const Allocation& offer : allocations) {
      cluster.allocator.Recover(offer.framework_id, offer.agent_id, offer.resources);
    }
    now += 1;
    state.ResumeTiming();
  }
  SetCounters(state, offers);
}

void Sizes(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"agents", "frameworks"})
      ->ArgsProduct({{1000, 10000}, {10, 100, 1000}})
      ->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_DeclineOffers)->Apply(Sizes);
// Ten rounds after the first: enough to walk past up to ten declines per agent.
BENCHMARK(BM_DeclineOffersRounds)->Apply(Sizes)->Iterations(10);
BENCHMARK(BM_AcceptRound)->Apply(Sizes);

}  // namespace
}  // namespace stoa::master
BENCHMARK_MAIN();

// Registry recovery after a master failover over ZooKeeper: a real ZooKeeper
// server (Debian's `zookeeper` package) holds N admitted agents, and each
// iteration is what a new leader does first, Registrar::Recover on a fresh
// session. Reports the time of one recovery and keys recovered per second.
// Loopback round trips are short: on a network each saved one counts for more.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "common/zookeeper.hpp"
#include "master/registrar.hpp"
#include "tests/test_util.hpp"

namespace stoa::master {
namespace {

// One server for every case, each case under its own registry path.
struct Server {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer zookeeper{dir.path()};
};

Server& SharedServer() {
  static Server server;
  return server;
}

AgentRecord Agent(int64_t i) {
  AgentRecord record;
  record.info.id = "agent-" + std::to_string(i);
  record.info.hostname = "node-" + std::to_string(i) + ".example";
  record.info.resources = *Resources::Parse("cpus:24;mem:65536;disk:500000;ports:[31000-32000]");
  record.state = AgentRecord::State::kAdmitted;
  record.changed_time = WallSeconds();
  return record;
}

void BM_RecoverRegistry(benchmark::State& state) {
  Server& server = SharedServer();
  if (!server.zookeeper.error().empty()) {
    state.SkipWithError(server.zookeeper.error().c_str());
    return;
  }
  const int64_t keys = state.range(0);
  const std::string root = "/bench/registry-" + std::to_string(keys);
  {
    auto session = ZooKeeper::Connect(server.zookeeper.servers(), 30);
    if (!session.ok()) {
      state.SkipWithError(session.error().c_str());
      return;
    }
    auto storage = OpenZooKeeperStorage(session->get(), root);
    if (!storage.ok()) {
      state.SkipWithError(storage.error().c_str());
      return;
    }
    Registrar writer(std::move(*storage));
    if (!writer.Recover().ok()) {
      state.SkipWithError("cannot read the registry to fill it");
      return;
    }
    for (int64_t i = 0; i < keys; ++i) {
      if (Status s = writer.PutAgent(Agent(i)); !s.ok()) {
        state.SkipWithError(s.message().c_str());
        return;
      }
    }
  }
  auto session = ZooKeeper::Connect(server.zookeeper.servers(), 30);
  if (!session.ok()) {
    state.SkipWithError(session.error().c_str());
    return;
  }
  for (auto _ : state) {
    Registrar registrar(std::move(*OpenZooKeeperStorage(session->get(), root)));
    Result<Registry> registry = registrar.Recover();
    if (!registry.ok() || static_cast<int64_t>(registry->agents.size()) != keys) {
      state.SkipWithError(registry.ok() ? "recovered the wrong number of agents"
                                        : registry.error().c_str());
      return;
    }
  }
  state.counters["keys"] = static_cast<double>(keys);
  state.counters["keys_per_s"] = benchmark::Counter(static_cast<double>(keys) * state.iterations(),
                                                    benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RecoverRegistry)
    ->Arg(500)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5)
    ->UseRealTime();

}  // namespace
}  // namespace stoa::master

BENCHMARK_MAIN();

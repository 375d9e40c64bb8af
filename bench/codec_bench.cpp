// Encode and decode rates of the codec for the messages that dominate traffic:
// status updates (one per task state change) and offer batches.
#include <benchmark/benchmark.h>

#include "protocols/codec.hpp"

namespace stoa {
namespace {

Message StatusUpdate() {
  TaskStatus status;
  status.task_id = "batch-job-000123";
  status.state = TaskState::kRunning;
  status.source = Source::kExecutor;
  status.message = "Command started (pid 4242)";
  status.agent_id = "agent-0f4c8f6e-3a51-4f0c-9f3b-2d0e5a6b7c8d";
  status.executor_id = "batch-job-000123";
  status.uuid = "3f2b8c1e-7d4a-4b6e-9c0f-1a2b3c4d5e6f";
  status.timestamp = 1.8e9;
  return Message(AgentMessage(agentmsg::StatusUpdate{"framework-1", status}));
}

Message OfferBatch(int offers) {
  event::Offers batch;
  Resources resources = *Resources::Parse("cpus:24;mem:65536;disk:100000;ports:[31000-32000]");
  for (int i = 0; i < offers; ++i) {
    Offer offer;
    offer.id = "offer-" + std::to_string(i);
    offer.framework_id = "framework-1";
    offer.agent_id = "agent-" + std::to_string(i);
    offer.hostname = "node" + std::to_string(i) + ".example";
    offer.resources = resources;
    batch.offers.push_back(offer);
  }
  return Message(SchedulerEvent(batch));
}

void BM_EncodeStatusUpdate(benchmark::State& state) {
  Message message = StatusUpdate();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string frame = Encode(message);
    bytes += frame.size();
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeStatusUpdate);

void BM_DecodeStatusUpdate(benchmark::State& state) {
  std::string frame = Encode(StatusUpdate());
  for (auto _ : state) {
    auto decoded = Decode(frame);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_DecodeStatusUpdate);

void BM_EncodeOffers(benchmark::State& state) {
  Message message = OfferBatch(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::string frame = Encode(message);
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeOffers)->Arg(1)->Arg(100);

void BM_DecodeOffers(benchmark::State& state) {
  std::string frame = Encode(OfferBatch(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    auto decoded = Decode(frame);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeOffers)->Arg(1)->Arg(100);

}  // namespace
}  // namespace stoa

BENCHMARK_MAIN();

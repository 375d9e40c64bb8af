// Metronome's REST API over the batch core: /v1/jobs (with embeds), a job's
// runs and schedules, /v0/scheduled-jobs, /v1/queue, /v1/metrics, /ping,
// /info and /leader, with Metronome's status codes and error bodies; and
// Prometheus's /metrics.
#pragma once

#include <functional>
#include <string>

#include "common/http_server.hpp"
#include "frameworks/batch/core.hpp"

namespace stoa::batch {

// What /info and /leader say about this instance.
struct BatchApiInfo {
  std::string version;
  // HOST:PORT of the leader (empty: nobody right now).
  std::function<std::string()> leader;
};

// Registers every route on `server`. REQUIRES: `core` and `info` outlive it.
void AddBatchApi(HttpServer& server, BatchCore* core, const BatchApiInfo* info);

}  // namespace stoa::batch

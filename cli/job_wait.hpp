// Following a run of the batch framework to its end, as `stoa job run --wait`
// does, with a progress bar of its tasks.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/http_client.hpp"

namespace stoa::cli {

struct RunWaitOptions {
  std::string command;        // "stoa job run", for messages
  double timeout = 0;         // seconds; 0: no limit
  bool quiet_stdout = false;  // progress and the last line go to stderr (--json)
};

// Polls GET /v1/jobs/{jobId}/runs/{id} of `started` (the run as POST .../runs
// answered it) until the run is SUCCESS or FAILED, showing its progress
// whenever it changes (redrawn in place on a terminal; otherwise a line per
// change, at most one a second but always the last). `*last` is the run's
// last answer. Returns 0 on SUCCESS; 1, saying why on stderr, on FAILED (with
// the run's reason), when the run is gone, the timeout passes or the
// framework stops answering for 5 s.
int WaitForRun(ApiClient& client, const nlohmann::json& started, const RunWaitOptions& options,
               nlohmann::json* last);

}  // namespace stoa::cli

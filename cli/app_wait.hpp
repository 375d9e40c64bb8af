// Waiting for a deployment of the service framework to end, as `stoa app`
// does after each change, with a progress line.
#pragma once

#include <string>

#include "cli/app_client.hpp"

namespace stoa::cli {

struct WaitOptions {
  std::string command;        // "stoa app deploy", for messages
  std::string verb;           // "deploying", for the progress line
  std::string done_verb;      // "deployed", for the last line
  bool removal = false;       // the goal is no task left rather than every instance running
  std::string version;        // the app's version the change made (empty: any)
  double timeout = 0;         // seconds; 0: no limit
  bool quiet_stdout = false;  // progress and the last line go to stderr (--json)
};

// Polls until /v2/deployments no longer lists `deployment_id`, printing how
// far the app got whenever that changes (one line rewritten on a terminal, a
// line per change otherwise). Returns 0 when the app is then at its goal:
// still at options.version with every instance running and none unhealthy
// (a removal's deployment itself lasts until no task is left).
// Returns 1, saying why on stderr, when it is not (a task ended since, the
// deployment was superseded or the app removed), the timeout passes or the
// service stops answering for 5 s.
int WaitForDeployment(ServiceClient& client, const std::string& app_id,
                      const std::string& deployment_id, const WaitOptions& options);

}  // namespace stoa::cli

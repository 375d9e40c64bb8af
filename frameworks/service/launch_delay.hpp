// Backoff of apps whose tasks keep failing, as Marathon's rate limiter does
// it: per app and config version, the first failure delays the next launch by
// backoffSeconds, each further one multiplies the delay by backoffFactor, up
// to maxLaunchDelaySeconds. A task that stages or runs moves the reference
// time on; a delay is forgotten once maxLaunchDelaySeconds passed since it, and
// a new config version starts without one. TASK_KILLED does not count.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "frameworks/service/app.hpp"

namespace stoa::service {

class LaunchDelays {
 public:
  // A task of `app` failed at `now` (seconds).
  void Failed(const AppDefinition& app, double now);
  // A task of `app` staged or started at `now`.
  void Progressed(const AppDefinition& app, double now);
  // Forgets the app's delays (DELETE /v2/queue/{id}/delay, or the app went away).
  void Reset(const PathId& app);
  // Drops delays older than their maxLaunchDelaySeconds.
  void CleanUp(double now);
  // The earliest time a task of `app` may be launched (0: at once).
  double NotBefore(const AppDefinition& app) const;

 private:
  struct Delay {
    double reference = 0;  // when it was last set or moved on
    double seconds = 0;
    double max_seconds = 0;
  };
  using Key = std::pair<PathId, std::string>;  // app, config version
  static Key KeyOf(const AppDefinition& app);
  std::map<Key, Delay> delays_;
};

}  // namespace stoa::service

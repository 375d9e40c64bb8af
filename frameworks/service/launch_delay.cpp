#include "frameworks/service/launch_delay.hpp"

#include <algorithm>

namespace stoa::service {

LaunchDelays::Key LaunchDelays::KeyOf(const AppDefinition& app) {
  return {app.id, app.version_info.last_config_change_at};
}

void LaunchDelays::Failed(const AppDefinition& app, double now) {
  double max = app.max_launch_delay_seconds;
  auto it = delays_.find(KeyOf(app));
  Delay delay;
  if (it == delays_.end()) {
    delay.seconds = std::min<double>(app.backoff_seconds, max);
  } else {
    delay.seconds = std::min(it->second.seconds * app.backoff_factor, max);
  }
  delay.reference = now;
  delay.max_seconds = max;
  delays_[KeyOf(app)] = delay;
}

void LaunchDelays::Progressed(const AppDefinition& app, double now) {
  auto it = delays_.find(KeyOf(app));
  if (it != delays_.end()) it->second.reference = now;
}

void LaunchDelays::Reset(const PathId& app) {
  for (auto it = delays_.begin(); it != delays_.end();) {
    it = it->first.first == app ? delays_.erase(it) : std::next(it);
  }
}

void LaunchDelays::CleanUp(double now) {
  for (auto it = delays_.begin(); it != delays_.end();) {
    bool overdue = now > it->second.reference + it->second.max_seconds;
    it = overdue ? delays_.erase(it) : std::next(it);
  }
}

double LaunchDelays::NotBefore(const AppDefinition& app) const {
  auto it = delays_.find(KeyOf(app));
  if (it == delays_.end()) return 0;
  return it->second.reference + it->second.seconds;
}

}  // namespace stoa::service

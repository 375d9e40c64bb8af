// The TaskInfo for one instance of an app: its command (a shell command for
// `cmd`, a program and its arguments for `args`), the resources it was
// matched, its volumes, and the environment Marathon gives a task: PORT0..N,
// PORT, PORTS, PORT_<port>, PORT_<NAME>, HOST, MESOS_TASK_ID,
// MARATHON_APP_ID, MARATHON_APP_VERSION, MARATHON_APP_RESOURCE_*,
// MARATHON_APP_LABELS and MARATHON_APP_LABEL_<NAME>, then the app's own env;
// its first health check and its readiness check, run by the executor against
// the task's host ports.
#pragma once

#include <map>
#include <string>

#include "frameworks/service/app.hpp"
#include "frameworks/service/offer_matcher.hpp"
#include "frameworks/service/records.hpp"
#include "protocols/messages.hpp"

namespace stoa::service {

// The environment of `task` (an instance of `app` on `task.host`, with `task.ports`).
std::map<std::string, std::string> TaskEnvironment(const AppDefinition& app,
                                                   const TaskRecord& task);

TaskInfo BuildTask(const AppDefinition& app, const TaskRecord& task, const InstanceMatch& match);

}  // namespace stoa::service

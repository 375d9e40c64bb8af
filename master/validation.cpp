#include "master/validation.hpp"

namespace stoa::master {

Status ValidateId(const std::string& kind, const std::string& id) {
  if (id.empty()) return Status::Error(kind + " id is empty");
  if (id.size() > kMaxIdLength) {
    return Status::Error(kind + " id is " + std::to_string(id.size()) +
                         " characters long (at most " + std::to_string(kMaxIdLength) + ")");
  }
  if (id == "." || id == "..") return Status::Error(kind + " id '" + id + "' is reserved");
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e || c == '/' || c == '\\') {
      return Status::Error(kind + " id '" + id +
                           "' has a character that is not allowed (use printable ASCII without "
                           "spaces or slashes)");
    }
  }
  return Status::Ok();
}

Status ValidateTask(const TaskInfo& task, const AgentId& agent_id, const Resources& available,
                    const std::set<TaskId>& ids_in_use) {
  return ValidateTaskIndexed(task, agent_id, available,
                             [&](const TaskId& id) { return ids_in_use.count(id) > 0; });
}

Status ValidateTaskIndexed(const TaskInfo& task, const AgentId& agent_id,
                           const Resources& available,
                           const std::function<bool(const TaskId&)>& in_use) {
  if (Status s = ValidateId("task", task.task_id); !s.ok()) return s;
  const std::string name = "task '" + task.task_id + "': ";
  if (in_use(task.task_id)) {
    return Status::Error(name + "the framework already has a task with this id");
  }
  if (!task.agent_id.empty() && task.agent_id != agent_id) {
    return Status::Error(name + "it names agent '" + task.agent_id + "' but the offers are on '" +
                         agent_id + "'");
  }
  if (task.command.value.empty()) return Status::Error(name + "the command is empty");
  if (task.command.value.size() > kMaxCommandLength) {
    return Status::Error(name + "the command is longer than " + std::to_string(kMaxCommandLength) +
                         " bytes");
  }
  if (task.health_check) {
    if (Status s = ValidateHealthCheck(*task.health_check); !s.ok()) {
      return Status::Error(name + s.message());
    }
  }
  if (task.check) {
    if (Status s = ValidateCheck(*task.check); !s.ok()) return Status::Error(name + s.message());
  }
  if (Status s = ValidateTaskResources(task.resources); !s.ok()) {
    return Status::Error(name + s.message());
  }
  if (task.resources.Get("cpus") <= 0 && task.resources.Get("mem") <= 0) {
    return Status::Error(name + "it asks for no cpus and no mem; give it at least one of them");
  }
  if (!available.Contains(task.resources)) {
    return Status::Error(name + "resources " + task.resources.ToString() +
                         " are not in what remains of the offers: " + available.ToString());
  }
  return Status::Ok();
}

}  // namespace stoa::master

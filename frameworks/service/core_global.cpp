// Global apps (Stoa's extension, as Docker Swarm's global mode): one instance
// on every agent the app's constraints allow, agents that join later included.
// The core learns the agents from their offers; an agent whose task of ours
// became unreachable or gone counts again only once it offers again. Agents
// hosting an instance of the current config always count, so that a restart
// (which forgets the agents until they offer) never shrinks a global app.
#include <set>

#include "frameworks/service/constraints.hpp"
#include "frameworks/service/core.hpp"

namespace stoa::service {
namespace {

bool OfCurrentConfig(const TaskRecord& task, const AppDefinition& app) {
  return task.config_version == app.version_info.last_config_change_at;
}

}  // namespace

AppPlan ServiceCore::Plan(const AppDefinition& app, double now) const {
  if (!app.global) return PlanApp(&app, TasksOf(app.id), now);
  AppDefinition sized = app;
  sized.instances = GlobalTarget(app, now);
  return PlanApp(&sized, TasksOf(app.id), now);
}

int ServiceCore::GlobalTarget(const AppDefinition& app, double now) const {
  std::set<AgentId> agents;
  for (const auto& [id, agent] : agents_) {
    if (!agent.lost &&
        BrokenConstraint(app.constraints, AgentFacts{agent.hostname, agent.attributes}, {})
            .empty()) {
      agents.insert(id);
    }
  }
  for (const TaskRecord* task : TasksOf(app.id)) {
    if (IsActive(*task, &app, now) && OfCurrentConfig(*task, app)) agents.insert(task->agent_id);
  }
  return static_cast<int>(agents.size());
}

bool ServiceCore::GlobalRoomOn(const AppDefinition& app, const AgentId& agent, double now) const {
  for (const TaskRecord* task : TasksOf(app.id)) {
    if (task->agent_id == agent && IsActive(*task, &app, now) && OfCurrentConfig(*task, app)) {
      return false;
    }
  }
  return true;
}

void ServiceCore::NoteAgent(const Offer& offer) {
  KnownAgent& agent = agents_[offer.agent_id];
  agent.hostname = offer.hostname;
  agent.http_address = offer.agent_http_address;
  agent.attributes.clear();
  for (const auto& [name, value] : offer.attributes) agent.attributes[name] = value;
  agent.lost = false;
}

void ServiceCore::NoteAgentLost(const AgentId& agent) {
  auto it = agents_.find(agent);
  if (it != agents_.end()) it->second.lost = true;
}

bool ServiceCore::AnyGlobalApp() const {
  for (const auto& [id, app] : apps_) {
    if (app.global) return true;
  }
  return false;
}

}  // namespace stoa::service

// The service framework's core: its apps, task records, deployments and
// launch delays, changed by the API (create, update, scale, delete, kill) and
// by the master's events (offers, status updates), always through the store
// first. Thread-safe: the driver's thread and the HTTP threads call it; each
// call holds one lock, never blocks on the network (store writes aside) and
// acts on the master only through sdk::SchedulerActions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frameworks/sdk/actions.hpp"
#include "frameworks/service/app_json.hpp"
#include "frameworks/service/autoscaler.hpp"
#include "frameworks/service/launch_delay.hpp"
#include "frameworks/service/offer_stats.hpp"
#include "frameworks/service/planner.hpp"
#include "frameworks/service/records.hpp"
#include "frameworks/service/store.hpp"
#include "frameworks/service/timestamp.hpp"

namespace stoa::service {

struct CoreOptions {
  double decline_seconds = 120;        // refuse filter for offers with nothing to run on them
  double min_revive_interval = 5;      // at most one revive per this (a later one is deferred)
  double revive_repeat = 30;           // revive again while work waits for offers
  double reconcile_retry = 5;          // ask again about tasks the master has not answered for
  double reconcile_interval = 600;     // an implicit reconciliation this often
  double kill_retry = 10;              // resend a kill not yet confirmed
  double launch_confirm_timeout = 60;  // a launched task silent this long is asked about
  // A task the service kills while it gets traffic (InRotation, with ports)
  // first leaves the endpoints (DNS, the balancer) and is killed this much
  // later, so that no new request reaches a dying instance. 0: at once
  // (`stoa service --kill_drain_delay`, 1 s by default).
  double kill_drain = 0;
  int service_port_min = 10000;  // service ports for port 0 come from [min, max)
  int service_port_max = 20000;
  // A store write the service cannot go on without failed (a task record, the
  // framework id): memory and storage would disagree. Production exits here.
  std::function<void(const std::string&)> on_fatal;
  // Marathon's event bus (/v2/events): each event as Marathon's JSON body, with
  // its "eventType" and "timestamp". Called with the core's lock held, in the
  // order things happened: it must not block or call back into the core.
  std::function<void(const nlohmann::json&)> on_event;
};

// The last task of an app that failed (lastTaskFailure).
struct TaskFailure {
  TaskId task_id;
  PathId app_id;
  std::string host;
  AgentId agent_id;
  std::string message;
  TaskState state = TaskState::kFailed;
  double timestamp = 0;
  std::string version;
};

// What the autoscaler last measured of an app and last did to it
// (`autoscaleStatus` in /v2/apps).
struct AutoscaleStatus {
  // The instances' average CPU use (percent of their cpus), or requests per
  // second per instance when `rps`.
  std::optional<double> measured;
  bool rps = false;
  double measured_at = 0;  // seconds since the epoch; 0: never
  double changed_at = 0;   // the last change; 0: none yet
  int from = 0, to = 0;
  std::string reason;
};

// An app with an autoscale policy, as the autoscaler needs it.
struct AutoscaleTarget {
  PathId app;
  AutoscalePolicy policy;
  int instances = 0;
  double cpus = 0;
  double since_change = 0;  // seconds since the policy's last change (huge: none)
  std::vector<std::pair<TaskId, std::string>> tasks;  // running, with their agent's HTTP address
};

struct AppView {
  AppDefinition app;
  std::optional<AutoscaleStatus> autoscale;
  std::vector<TaskRecord> tasks;  // not terminal
  std::vector<std::string> deployment_ids;
  std::optional<TaskFailure> last_failure;
};

struct ServiceView {
  FrameworkId framework_id;
  bool subscribed = false;
  std::vector<AppView> apps;  // by id
  std::vector<Deployment> deployments;
  std::vector<GroupRecord> groups;  // the explicit ones, by id
};

// An app waiting for launches, as /v2/queue shows it.
struct QueuedApp {
  AppDefinition app;
  int count = 0;          // instances left to launch
  double delay_left = 0;  // seconds its backoff still lasts (0: none)
  AppOfferStats offers;   // the offers it looked at since it waits
};

// What the core counted since it started, for /metrics.
struct CoreCounters {
  uint64_t tasks_launched = 0;
  uint64_t tasks_killed = 0;  // kills decided (each task once), wipes included
  uint64_t offers_used = 0;
  uint64_t offers_declined = 0;
  uint64_t deployments_started = 0;
};

// Why the core refused an API call; the HTTP layer maps it to a status code.
enum class Refusal { kNone, kNotFound, kConflict, kLocked, kInvalid, kUnavailable };

struct ChangeOutcome {
  Refusal refusal = Refusal::kNone;
  std::string message;
  std::vector<std::string> blocking_deployments;  // kLocked
  ValidationErrors errors;                        // kInvalid
  bool created = false;
  AppDefinition app;              // the app as it is now (deleted: as it was)
  Deployment deployment;          // the change's deployment
  std::vector<TaskRecord> tasks;  // the tasks a kill chose
};

// The state a change to several apps and groups at once leads to, as the API
// computes it from the current state (ChangeTree); or why it is refused.
struct TreeChange {
  Refusal refusal = Refusal::kNone;
  std::string message;
  ValidationErrors errors;  // kInvalid
  // Every app and explicit group there is to be. Apps are whole definitions
  // (versions are set by the core); a group with an empty version is one the
  // change touched, and gets the change's version.
  std::map<PathId, AppDefinition> apps;
  std::map<PathId, GroupRecord> groups;
  // Apps given as an earlier definition of theirs (a revert): they keep its
  // lastConfigChangeAt, so that the tasks of that config are kept.
  std::set<PathId> restored = {};
  std::string reverts = {};  // the deployment a revert undoes
  PathId group = {};         // the group changed, for group_change_success (the root: several)
  std::string reason = {};   // why the deployments it supersedes end (default: superseded)
};

class ServiceCore {
 public:
  // REQUIRES: `store` and `actions` outlive the core. `clock`: seconds since the epoch.
  ServiceCore(ServiceStore* store, sdk::SchedulerActions* actions, CoreOptions options,
              std::function<double()> clock);

  // Loads the stored state. Call once, before anything else.
  Status Recover();
  // The framework id to subscribe with (empty: a new framework).
  FrameworkId framework_id() const;

  // ---- the master's events (from the driver's thread) ----
  void Subscribed(const FrameworkId& framework_id);
  void Disconnected();
  void Offers(const std::vector<Offer>& offers);
  void Update(const TaskStatus& status);
  // Timers: retries, reconciliation, unreachable tasks, deferred revives.
  void Tick();

  // ---- the API ----
  // POST /v2/apps: `app` as parsed.
  ChangeOutcome CreateApp(AppDefinition app);
  // PUT/PATCH /v2/apps/{id}: `build` makes the new definition from the
  // current one (null when there is none). Creates only with `allow_create`.
  using Builder = std::function<ParsedApp(const AppDefinition* current)>;
  ChangeOutcome UpdateApp(const PathId& id, const Builder& build, bool force, bool allow_create);
  ChangeOutcome DeleteApp(const PathId& id, bool force);
  // POST /v2/apps/{id}/restart: every task is replaced.
  ChangeOutcome RestartApp(const PathId& id, bool force);
  // PUT /v2/apps/{id} with {"version": ...}: the app as it was at `version`
  // (an unknown version: kNotFound).
  ChangeOutcome RollbackApp(const PathId& id, const std::string& version, bool force);
  // GET /v2/apps/{id}/versions[/{version}]: nullopt when the app is unknown.
  std::optional<std::vector<std::string>> AppVersions(const PathId& id);
  std::optional<AppDefinition> AppAtVersion(const PathId& id, const std::string& version);
  // DELETE /v2/apps/{id}/tasks[/{task}]: kills the app's tasks that `pick`
  // chooses (an unknown task id: kNotFound); with `scale` the app shrinks by
  // as many, else they are replaced.
  ChangeOutcome KillTasks(const PathId& id, const std::function<bool(const TaskRecord&)>& pick,
                          bool scale, bool force);

  // ---- several apps and groups at once (core_groups.cpp, core_tasks.cpp) ----
  // PUT /v2/apps with several apps and the group API: `build` turns the
  // current apps and explicit groups into the state to reach. Every app that
  // changes (created, changed, scaled, removed) is part of one deployment;
  // one that stays the same is left alone. Apps and groups may not share an id
  // nor lie beneath an app (kInvalid); changed apps with a deployment in
  // progress are kLocked unless `force`. With `dry_run` nothing is done: the
  // outcome's deployment says what would be.
  using TreeBuilder = std::function<TreeChange(const std::map<PathId, AppDefinition>& apps,
                                               const std::map<PathId, GroupRecord>& groups)>;
  ChangeOutcome ChangeTree(const TreeBuilder& build, bool force, bool dry_run = false);
  // POST /v2/tasks/delete, DELETE /v2/apps/{id}/tasks?wipe: kills the tasks
  // named (unknown ones are skipped, as Marathon does). With `scale` their
  // apps shrink by as many, in one deployment; with `wipe` their records are
  // forgotten at once (Marathon's expunge) and their apps replace them.
  ChangeOutcome KillTasksById(const std::vector<TaskId>& ids, bool scale, bool wipe, bool force);

  // ---- deployments that fail (core_deployments.cpp) ----
  // DELETE /v2/deployments/{id}: a new deployment takes every app the
  // deployment changed back to its version before (apps it created are
  // removed); with `force` the deployment just ends (the apps keep their
  // new definitions, which the service goes on converging to). kNotFound for
  // an unknown deployment; kConflict when nothing could be changed back.
  ChangeOutcome CancelDeployment(const std::string& id, bool force);

  // ---- /v2/queue and /metrics (core_queue.cpp) ----
  // The apps waiting for launches, by id.
  std::vector<QueuedApp> LaunchQueue() const;
  // DELETE /v2/queue/{id}/delay: the app's backoff ends now (kNotFound when
  // the app does not wait).
  ChangeOutcome ResetDelay(const PathId& id);
  CoreCounters Counters() const;

  ServiceView View() const;
  // Whether task health is still being learnt after a restart or failover:
  // a recovered running task of a health-checked app has no result yet (for
  // at most kSettleSeconds). /v2/endpoints says so, and DNS and the balancer
  // keep what they had rather than drop every instance meanwhile.
  bool HealthSettling() const;
  static constexpr double kSettleSeconds = 60;

  // The apps with an autoscale policy and no deployment under way
  // (core_autoscale.cpp).
  std::vector<AutoscaleTarget> AutoscaleTargets() const;
  // Records what was measured of `app`, and with `decision` scales it (a
  // deployment, as PUT instances would) and says why in an autoscale_event.
  void Autoscale(const PathId& app, std::optional<double> measured,
                 const std::optional<AutoscaleDecision>& decision);
  std::optional<AppView> ViewApp(const PathId& id) const;

  // Publishes an event from outside the core (the API's api_post_event)
  // through on_event, in order with the core's own and stamped by its clock.
  void Publish(const std::string& type, nlohmann::json event) const;

 private:
  // An agent as its offers showed it, for global apps.
  struct KnownAgent {
    std::string hostname;
    std::string http_address;  // HOST:PORT of its HTTP API (/monitor/statistics)
    std::map<std::string, std::string> attributes;
    bool lost = false;  // a task of ours there became unreachable or gone since its last offer
  };

  struct TaskEntry {
    TaskRecord record;
    bool confirmed = true;  // the master told us of it since we subscribed
    double last_update = 0;
    double last_kill_sent = 0;
    double drain_until = 0;  // the kill is sent then (0: not draining)
    bool recovered = false;  // read from the store, not launched by this instance
  };

  // All below: REQUIRES mutex_ held.
  std::vector<const TaskRecord*> TasksOf(const PathId& app) const;
  // PlanApp for `app`; a global app's target is its agents (core_global.cpp).
  AppPlan Plan(const AppDefinition& app, double now) const;
  // Plan of every app, with nothing for an app that waits for the apps it
  // depends on (WaitsForDependencies) (core_groups.cpp).
  std::map<PathId, AppPlan> Plans(double now) const;
  int GlobalTarget(const AppDefinition& app, double now) const;
  // Whether a global app lacks an instance of its current config on `agent`.
  bool GlobalRoomOn(const AppDefinition& app, const AgentId& agent, double now) const;
  void NoteAgent(const Offer& offer);
  void NoteAgentLost(const AgentId& agent);
  bool AnyGlobalApp() const;
  void Converge();
  void KillTask(TaskEntry& entry);
  void ForgetTask(const TaskId& id);
  bool PutTaskOrDie(const TaskRecord& record);
  void LaunchOn(const Offer& offer, std::map<PathId, int>& wanted);
  void UpdateOfferInterest(const std::map<PathId, int>& wanted);
  void Revive();
  void ReconcileUnconfirmed();
  std::vector<std::string> DeploymentsOf(const PathId& app) const;
  // Writes `app` (and `deployment`), superseding the app's other deployments.
  ChangeOutcome Commit(AppDefinition app, Deployment deployment, bool created);
  ChangeOutcome Locked(const PathId& id) const;
  Status AssignServicePorts(AppDefinition& app, const AppDefinition* current) const;
  void RecordFailure(const TaskRecord& record, const TaskStatus& status);
  // The health and readiness `status` reports of `record`, an instance of
  // `app` (null: gone), with Marathon's health events (core_health.cpp).
  void UpdateHealth(TaskRecord& record, const TaskStatus& status, const AppDefinition* app);
  double Now() const { return clock_(); }
  // ChangeTree once the change is computed: checks, versions, stores, applies.
  ChangeOutcome CommitTree(TreeChange change, bool force, bool dry_run = false);
  // Marathon's events as a deployment begins (deployment_info per step, and
  // deployment_step_success for every step but the last, done at once) after
  // the change to `group` (group_change_success; null: the change did not
  // all go through).
  void Announce(const Deployment& deployment, const PathId* group) const;
  // Ends deployment `id` without its goal (superseded, reverted, stopped):
  // forgotten, with deployment_step_failure and deployment_failed.
  void Abandon(const std::string& id, const std::string& reason);
  // Ends `reverted` with deployment_failed and `reason`; a deployment back to
  // its apps' original versions takes its place.
  ChangeOutcome Revert(const Deployment& reverted, const std::string& reason);
  // A task of `record`'s app ended as `status` says, by itself: one more
  // failure of its deployment's new config, which may roll it back.
  void CountFailure(const TaskRecord& record, const TaskStatus& status);
  // Marathon's dependencies (the app's own `dependencies`, and those of the
  // groups it is in; an id names an app or every app beneath it): whether
  // `app` must wait because a deployment that changes it also changes an app
  // it depends on that is not at its goal (`reached`) yet (core_groups.cpp).
  bool WaitsForDependencies(const AppDefinition& app, const std::set<PathId>& reached) const;
  // Why an app at `id` cannot be (kInvalid) given the explicit groups, or kNone.
  ChangeOutcome GroupConflict(const PathId& id) const;
  // Marathon 1.4's heavy plan: `plan` gets "original" and "target", root
  // groups holding the apps its deployment changes, before and after.
  void AddPlanStates(nlohmann::json& plan) const;
  // Publishes `event` (Marathon's body without eventType/timestamp) as `type`.
  void Emit(const std::string& type, nlohmann::json event) const;

  ServiceStore* store_;
  sdk::SchedulerActions* actions_;
  CoreOptions options_;
  std::function<double()> clock_;

  mutable std::mutex mutex_;
  FrameworkId framework_id_;
  bool subscribed_ = false;
  std::map<PathId, AppDefinition> apps_;
  std::map<TaskId, TaskEntry> tasks_;
  std::map<std::string, Deployment> deployments_;
  std::map<PathId, TaskFailure> failures_;
  LaunchDelays delays_;
  std::map<AgentId, KnownAgent> agents_;
  std::map<PathId, AutoscaleStatus> autoscale_;
  double recovered_at_ = 0;
  VersionClock versions_;
  std::map<PathId, GroupRecord> groups_;  // explicit groups
  std::set<PathId> unreadable_apps_;      // stored but unreadable: their tasks are left alone
  OfferStatistics offer_stats_;
  CoreCounters counters_;

  // Offers: whether we asked for them and when.
  bool suppressed_ = false;
  bool revive_pending_ = false;
  double last_revive_ = -1e18;
  int last_wanted_ = 0;  // launches wanted at once, as of the last look
  // Reconciliation.
  double last_explicit_reconcile_ = 0;
  double last_implicit_reconcile_ = 0;
  bool implicit_done_ = false;
};

}  // namespace stoa::service

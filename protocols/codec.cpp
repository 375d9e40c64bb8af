#include "protocols/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <stdexcept>

#include "protocols/envelope.capnp.h"

namespace stoa {
namespace {

// ---------- helpers ----------

capnp::Text::Reader T(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }
std::string S(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

template <typename ListBuilder>
void SetTexts(ListBuilder list, const std::vector<std::string>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, T(values[i]));
}
template <typename ListReader>
std::vector<std::string> GetTexts(ListReader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto t : list) out.push_back(S(t));
  return out;
}

// Enum values from the wire are checked against the C++ enum's range.
template <typename E>
E CheckedEnum(uint16_t raw, int count, const char* what) {
  if (raw >= count)
    throw std::runtime_error(std::string("unknown ") + what + " value " + std::to_string(raw));
  return static_cast<E>(raw);
}

void Put(proto::KeyValue::Builder b, const std::pair<std::string, std::string>& kv) {
  b.setKey(T(kv.first));
  b.setValue(T(kv.second));
}
void PutLabels(capnp::List<proto::KeyValue>::Builder list, const Labels& labels) {
  for (unsigned i = 0; i < labels.size(); ++i) Put(list[i], labels[i]);
}
Labels GetLabels(capnp::List<proto::KeyValue>::Reader list) {
  Labels out;
  for (auto kv : list) out.emplace_back(S(kv.getKey()), S(kv.getValue()));
  return out;
}

// ---------- resources ----------

void PutResources(capnp::List<proto::Resource>::Builder list, const Resources& resources) {
  const auto& entries = resources.entries();
  for (unsigned i = 0; i < entries.size(); ++i) {
    const Resource& r = entries[i];
    auto b = list[i];
    b.setName(T(r.name));
    switch (r.type) {
      case Resource::Type::kScalar:
        b.getValue().setScalarMillis(r.scalar_millis);
        break;
      case Resource::Type::kRanges: {
        auto ranges = b.getValue().initRanges(r.ranges.size());
        for (unsigned j = 0; j < r.ranges.size(); ++j) {
          ranges[j].setBegin(r.ranges[j].begin);
          ranges[j].setEnd(r.ranges[j].end);
        }
        break;
      }
      case Resource::Type::kSet: {
        auto set = b.getValue().initSet(r.set.size());
        unsigned j = 0;
        for (const auto& item : r.set) set.set(j++, T(item));
        break;
      }
    }
    b.setRole(T(r.role));
    b.setPrincipal(T(r.principal));
    b.setPersistenceId(T(r.persistence_id));
    b.setContainerPath(T(r.container_path));
  }
}
#define PUT_RESOURCES(builder, field, value) \
  PutResources(builder.init##field((value).entries().size()), (value))

// Resources merge entry by entry (quadratic in distinct names); no real
// agent or task has more than a few dozen, so a frame with more is refused
// before it can cost the receiver minutes.
constexpr unsigned kMaxResourceEntries = 1024;

Resources GetResources(capnp::List<proto::Resource>::Reader list) {
  if (list.size() > kMaxResourceEntries) {
    throw std::runtime_error(std::to_string(list.size()) + " resource entries (at most " +
                             std::to_string(kMaxResourceEntries) + ")");
  }
  Resources out;
  for (auto b : list) {
    Resource r;
    r.name = S(b.getName());
    auto value = b.getValue();
    switch (value.which()) {
      case proto::Resource::Value::SCALAR_MILLIS:
        r.type = Resource::Type::kScalar;
        r.scalar_millis = value.getScalarMillis();
        if (r.scalar_millis < 0) throw std::runtime_error("resource '" + r.name + "' is negative");
        break;
      case proto::Resource::Value::RANGES:
        r.type = Resource::Type::kRanges;
        for (auto range : value.getRanges()) {
          if (range.getBegin() > range.getEnd())
            throw std::runtime_error("resource '" + r.name + "' has a range with begin > end");
          r.ranges.push_back({range.getBegin(), range.getEnd()});
        }
        break;
      case proto::Resource::Value::SET:
        r.type = Resource::Type::kSet;
        for (auto item : value.getSet()) r.set.insert(S(item));
        break;
    }
    r.role = S(b.getRole());
    if (r.role.empty()) r.role = "*";
    r.principal = S(b.getPrincipal());
    r.persistence_id = S(b.getPersistenceId());
    r.container_path = S(b.getContainerPath());
    out.Add(r);
  }
  return out;
}

// ---------- common structs ----------

void Put(proto::CommandInfo::Builder b, const CommandInfo& c) {
  b.setValue(T(c.value));
  b.setShell(c.shell);
  SetTexts(b.initArguments(c.arguments.size()), c.arguments);
  PutLabels(b.initEnvironment(c.environment.size()), c.environment);
  b.setUser(T(c.user));
}
CommandInfo Get(proto::CommandInfo::Reader b) {
  CommandInfo c;
  c.value = S(b.getValue());
  c.shell = b.getShell();
  c.arguments = GetTexts(b.getArguments());
  c.environment = GetLabels(b.getEnvironment());
  c.user = S(b.getUser());
  return c;
}

void Put(proto::CheckInfo::Builder b, const CheckInfo& c) {
  b.setType(static_cast<proto::CheckType>(c.type));
  b.setPort(c.port);
  b.setPath(T(c.path));
  b.setScheme(T(c.scheme));
  b.setCommand(T(c.command));
  b.setDelaySeconds(c.delay_seconds);
  b.setIntervalSeconds(c.interval_seconds);
  b.setTimeoutSeconds(c.timeout_seconds);
}
CheckInfo Get(proto::CheckInfo::Reader b) {
  CheckInfo c;
  c.type =
      CheckedEnum<CheckType>(static_cast<uint16_t>(b.getType()), kCheckTypeCount, "check type");
  c.port = b.getPort();
  c.path = S(b.getPath());
  c.scheme = S(b.getScheme());
  c.command = S(b.getCommand());
  c.delay_seconds = b.getDelaySeconds();
  c.interval_seconds = b.getIntervalSeconds();
  c.timeout_seconds = b.getTimeoutSeconds();
  return c;
}

void Put(proto::CheckStatus::Builder b, const CheckStatus& c) {
  b.setType(static_cast<proto::CheckType>(c.type));
  auto result = b.getResult();
  if (c.type == CheckType::kHttp && c.http_status_code) {
    result.setHttpStatusCode(*c.http_status_code);
  } else if (c.type == CheckType::kTcp && c.tcp_succeeded) {
    result.setTcpSucceeded(*c.tcp_succeeded);
  } else if (c.type == CheckType::kCommand && c.command_exit_code) {
    result.setCommandExitCode(*c.command_exit_code);
  } else {
    result.setNone();
  }
}
CheckStatus Get(proto::CheckStatus::Reader b) {
  CheckStatus c;
  c.type =
      CheckedEnum<CheckType>(static_cast<uint16_t>(b.getType()), kCheckTypeCount, "check type");
  auto result = b.getResult();
  auto expect = [&](CheckType type) {
    if (c.type != type) {
      throw std::runtime_error(std::string("a check status of type ") + ToString(c.type) +
                               " carries a " + ToString(type) + " result");
    }
  };
  switch (result.which()) {
    case proto::CheckStatus::Result::NONE:
      break;
    case proto::CheckStatus::Result::HTTP_STATUS_CODE:
      expect(CheckType::kHttp);
      c.http_status_code = result.getHttpStatusCode();
      break;
    case proto::CheckStatus::Result::TCP_SUCCEEDED:
      expect(CheckType::kTcp);
      c.tcp_succeeded = result.getTcpSucceeded();
      break;
    case proto::CheckStatus::Result::COMMAND_EXIT_CODE:
      expect(CheckType::kCommand);
      c.command_exit_code = result.getCommandExitCode();
      break;
  }
  return c;
}

void Put(proto::TaskInfo::Builder b, const TaskInfo& t) {
  b.setTaskId(T(t.task_id));
  b.setName(T(t.name));
  b.setAgentId(T(t.agent_id));
  PUT_RESOURCES(b, Resources, t.resources);
  Put(b.initCommand(), t.command);
  PutLabels(b.initLabels(t.labels.size()), t.labels);
  b.setKillGracePeriodMillis(t.kill_grace_period_ms);
  auto c = b.initContainer();
  c.setRootfs(T(t.container.rootfs));
  auto volumes = c.initVolumes(t.container.volumes.size());
  for (unsigned i = 0; i < t.container.volumes.size(); ++i) {
    volumes[i].setHostPath(T(t.container.volumes[i].host_path));
    volumes[i].setContainerPath(T(t.container.volumes[i].container_path));
    volumes[i].setReadOnly(t.container.volumes[i].read_only);
  }
  c.setHostname(T(t.container.hostname));
  c.setNetworkIsolated(t.container.network_isolated);
  c.setCpuHardLimit(t.container.cpu_hard_limit);
  if (t.health_check) {
    auto h = b.initHealthCheck();
    Put(h.initCheck(), t.health_check->check);
    h.setConsecutiveFailures(t.health_check->consecutive_failures);
    h.setGracePeriodSeconds(t.health_check->grace_period_seconds);
  }
  if (t.check) Put(b.initCheck(), *t.check);
}
TaskInfo Get(proto::TaskInfo::Reader b) {
  TaskInfo t;
  t.task_id = S(b.getTaskId());
  t.name = S(b.getName());
  t.agent_id = S(b.getAgentId());
  t.resources = GetResources(b.getResources());
  t.command = Get(b.getCommand());
  t.labels = GetLabels(b.getLabels());
  t.kill_grace_period_ms = b.getKillGracePeriodMillis();
  auto c = b.getContainer();
  t.container.rootfs = S(c.getRootfs());
  for (auto v : c.getVolumes()) {
    t.container.volumes.push_back({S(v.getHostPath()), S(v.getContainerPath()), v.getReadOnly()});
  }
  t.container.hostname = S(c.getHostname());
  t.container.network_isolated = c.getNetworkIsolated();
  t.container.cpu_hard_limit = c.getCpuHardLimit();
  if (b.hasHealthCheck()) {
    auto h = b.getHealthCheck();
    HealthCheck health;
    health.check = Get(h.getCheck());
    health.consecutive_failures = h.getConsecutiveFailures();
    health.grace_period_seconds = h.getGracePeriodSeconds();
    t.health_check = std::move(health);
  }
  if (b.hasCheck()) t.check = Get(b.getCheck());
  return t;
}

// Every Put/Get overload, declared up front so the list templates find them.
void Put(proto::TaskStatus::Builder b, const TaskStatus& s);
TaskStatus Get(proto::TaskStatus::Reader b);
void Put(proto::Operation::Builder b, const Operation& op);
Operation Get(proto::Operation::Reader b);
void Put(proto::Offer::Builder b, const Offer& o);
Offer Get(proto::Offer::Reader b);
void Put(proto::Task::Builder b, const Task& t);
Task Get(proto::Task::Reader b);
void Put(proto::ExecutorInfo::Builder b, const ExecutorInfo& e);
ExecutorInfo Get(proto::ExecutorInfo::Reader b);
void Put(proto::FrameworkInfo::Builder b, const FrameworkInfo& f);
FrameworkInfo Get(proto::FrameworkInfo::Reader b);

template <typename ListBuilder, typename V>
void PutList(ListBuilder list, const std::vector<V>& values) {
  for (unsigned i = 0; i < values.size(); ++i) Put(list[i], values[i]);
}
template <typename V, typename ListReader>
std::vector<V> GetList(ListReader list) {
  std::vector<V> out;
  out.reserve(list.size());
  for (auto item : list) out.push_back(Get(item));
  return out;
}

void Put(proto::ExecutorInfo::Builder b, const ExecutorInfo& e) {
  b.setExecutorId(T(e.executor_id));
  b.setFrameworkId(T(e.framework_id));
  PUT_RESOURCES(b, Resources, e.resources);
  b.setGroup(e.group);
  b.setIdleTimeout(e.idle_timeout_seconds);
}
ExecutorInfo Get(proto::ExecutorInfo::Reader b) {
  ExecutorInfo e;
  e.executor_id = S(b.getExecutorId());
  e.framework_id = S(b.getFrameworkId());
  e.resources = GetResources(b.getResources());
  e.group = b.getGroup();
  e.idle_timeout_seconds = b.getIdleTimeout();
  return e;
}

void Put(proto::TaskStatus::Builder b, const TaskStatus& s) {
  b.setTaskId(T(s.task_id));
  b.setState(static_cast<proto::TaskState>(s.state));
  b.setReason(static_cast<proto::Reason>(s.reason));
  b.setSource(static_cast<proto::Source>(s.source));
  b.setMessage(T(s.message));
  b.setAgentId(T(s.agent_id));
  b.setExecutorId(T(s.executor_id));
  b.setTimestamp(s.timestamp);
  b.setUuid(T(s.uuid));
  b.setExitStatus(s.exit_status);
  if (s.healthy) {
    b.getHealthy().setValue(*s.healthy);
  } else {
    b.getHealthy().setUnknown();
  }
  if (s.check_status) Put(b.initCheckStatus(), *s.check_status);
}
TaskStatus Get(proto::TaskStatus::Reader b) {
  TaskStatus s;
  s.task_id = S(b.getTaskId());
  s.state =
      CheckedEnum<TaskState>(static_cast<uint16_t>(b.getState()), kTaskStateCount, "task state");
  s.reason = CheckedEnum<Reason>(static_cast<uint16_t>(b.getReason()), kReasonCount, "reason");
  s.source = CheckedEnum<Source>(static_cast<uint16_t>(b.getSource()), 3, "source");
  s.message = S(b.getMessage());
  s.agent_id = S(b.getAgentId());
  s.executor_id = S(b.getExecutorId());
  s.timestamp = b.getTimestamp();
  s.uuid = S(b.getUuid());
  s.exit_status = b.getExitStatus();
  if (b.getHealthy().isValue()) s.healthy = b.getHealthy().getValue();
  if (b.hasCheckStatus()) s.check_status = Get(b.getCheckStatus());
  return s;
}

void Put(proto::FrameworkInfo::Builder b, const FrameworkInfo& f) {
  b.setId(T(f.id));
  b.setName(T(f.name));
  b.setUser(T(f.user));
  b.setPrincipal(T(f.principal));
  b.setHostname(T(f.hostname));
  SetTexts(b.initRoles(f.roles.size()), f.roles);
  b.setFailoverTimeoutSeconds(f.failover_timeout_seconds);
  b.setCheckpoint(f.checkpoint);
  b.setPartitionAware(f.partition_aware);
}
FrameworkInfo Get(proto::FrameworkInfo::Reader b) {
  FrameworkInfo f;
  f.id = S(b.getId());
  f.name = S(b.getName());
  f.user = S(b.getUser());
  f.principal = S(b.getPrincipal());
  f.hostname = S(b.getHostname());
  f.roles = GetTexts(b.getRoles());
  f.failover_timeout_seconds = b.getFailoverTimeoutSeconds();
  f.checkpoint = b.getCheckpoint();
  f.partition_aware = b.getPartitionAware();
  return f;
}

void Put(proto::AgentInfo::Builder b, const AgentInfo& a) {
  b.setId(T(a.id));
  b.setHostname(T(a.hostname));
  b.setAddress(T(a.address));
  b.setHttpAddress(T(a.http_address));
  PUT_RESOURCES(b, Resources, a.resources);
  PutLabels(b.initAttributes(a.attributes.size()), a.attributes);
}
AgentInfo Get(proto::AgentInfo::Reader b) {
  AgentInfo a;
  a.id = S(b.getId());
  a.hostname = S(b.getHostname());
  a.address = S(b.getAddress());
  a.http_address = S(b.getHttpAddress());
  a.resources = GetResources(b.getResources());
  a.attributes = GetLabels(b.getAttributes());
  return a;
}

void Put(proto::Task::Builder b, const Task& t) {
  Put(b.initInfo(), t.info);
  b.setFrameworkId(T(t.framework_id));
  b.setExecutorId(T(t.executor_id));
  b.setState(static_cast<proto::TaskState>(t.state));
  PutList(b.initStatuses(t.statuses.size()), t.statuses);
  b.setRole(T(t.role));
}
Task Get(proto::Task::Reader b) {
  Task t;
  t.info = Get(b.getInfo());
  t.framework_id = S(b.getFrameworkId());
  t.executor_id = S(b.getExecutorId());
  t.state =
      CheckedEnum<TaskState>(static_cast<uint16_t>(b.getState()), kTaskStateCount, "task state");
  t.statuses = GetList<TaskStatus>(b.getStatuses());
  t.role = S(b.getRole());
  return t;
}

void Put(proto::Offer::Builder b, const Offer& o) {
  b.setId(T(o.id));
  b.setFrameworkId(T(o.framework_id));
  b.setAgentId(T(o.agent_id));
  b.setHostname(T(o.hostname));
  PUT_RESOURCES(b, Resources, o.resources);
  b.setAgentHttpAddress(T(o.agent_http_address));
  b.setRole(T(o.role));
  PutLabels(b.initAttributes(o.attributes.size()), o.attributes);
}
Offer Get(proto::Offer::Reader b) {
  Offer o;
  o.id = S(b.getId());
  o.framework_id = S(b.getFrameworkId());
  o.agent_id = S(b.getAgentId());
  o.hostname = S(b.getHostname());
  o.resources = GetResources(b.getResources());
  o.agent_http_address = S(b.getAgentHttpAddress());
  o.role = S(b.getRole());
  o.attributes = GetLabels(b.getAttributes());
  return o;
}

void Put(proto::Operation::Builder b, const Operation& op) {
  switch (op.type) {
    case Operation::Type::kLaunch:
      PutList(b.initLaunch(op.tasks.size()), op.tasks);
      break;
    case Operation::Type::kLaunchGroup: {
      auto g = b.initLaunchGroup();
      Put(g.initExecutor(), op.executor);
      PutList(g.initTasks(op.tasks.size()), op.tasks);
      break;
    }
    case Operation::Type::kReserve:
      PUT_RESOURCES(b, Reserve, op.resources);
      break;
    case Operation::Type::kUnreserve:
      PUT_RESOURCES(b, Unreserve, op.resources);
      break;
    case Operation::Type::kCreate:
      PUT_RESOURCES(b, Create, op.resources);
      break;
    case Operation::Type::kDestroy:
      PUT_RESOURCES(b, Destroy, op.resources);
      break;
  }
}
Operation Get(proto::Operation::Reader b) {
  Operation op;
  switch (b.which()) {
    case proto::Operation::LAUNCH:
      op.type = Operation::Type::kLaunch;
      op.tasks = GetList<TaskInfo>(b.getLaunch());
      break;
    case proto::Operation::LAUNCH_GROUP:
      op.type = Operation::Type::kLaunchGroup;
      op.executor = Get(b.getLaunchGroup().getExecutor());
      op.tasks = GetList<TaskInfo>(b.getLaunchGroup().getTasks());
      break;
    case proto::Operation::RESERVE:
      op.type = Operation::Type::kReserve;
      op.resources = GetResources(b.getReserve());
      break;
    case proto::Operation::UNRESERVE:
      op.type = Operation::Type::kUnreserve;
      op.resources = GetResources(b.getUnreserve());
      break;
    case proto::Operation::CREATE:
      op.type = Operation::Type::kCreate;
      op.resources = GetResources(b.getCreate());
      break;
    case proto::Operation::DESTROY:
      op.type = Operation::Type::kDestroy;
      op.resources = GetResources(b.getDestroy());
      break;
    default:
      throw std::runtime_error("unknown operation type");
  }
  return op;
}

capnp::Data::Reader D(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}
std::string FromData(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

// ---------- channels ----------

void Put(proto::Call::Builder b, const SchedulerCall& c) {
  b.setFrameworkId(T(c.framework_id));
  std::visit(
      Overloaded{
          [&](const call::Subscribe& m) { Put(b.initSubscribe(), m.info); },
          [&](const call::Accept& m) {
            auto a = b.initAccept();
            SetTexts(a.initOfferIds(m.offer_ids.size()), m.offer_ids);
            PutList(a.initOperations(m.operations.size()), m.operations);
            a.setRefuseSeconds(m.refuse_seconds);
          },
          [&](const call::Decline& m) {
            auto d = b.initDecline();
            SetTexts(d.initOfferIds(m.offer_ids.size()), m.offer_ids);
            d.setDeclineRefuseSeconds(m.refuse_seconds);
          },
          [&](const call::Revive& m) { SetTexts(b.initRevive(m.roles.size()), m.roles); },
          [&](const call::Suppress& m) { SetTexts(b.initSuppress(m.roles.size()), m.roles); },
          [&](const call::Kill& m) {
            auto k = b.initKill();
            k.setTaskId(T(m.task_id));
            k.setAgentId(T(m.agent_id));
          },
          [&](const call::Acknowledge& m) {
            auto a = b.initAcknowledge();
            a.setAckAgentId(T(m.agent_id));
            a.setAckTaskId(T(m.task_id));
            a.setUuid(T(m.uuid));
          },
          [&](const call::Reconcile& m) {
            auto list = b.initReconcile(m.tasks.size());
            for (unsigned i = 0; i < m.tasks.size(); ++i) {
              list[i].setTaskId(T(m.tasks[i].first));
              list[i].setAgentId(T(m.tasks[i].second));
            }
          },
          [&](const call::Teardown&) { b.setTeardown(); },
          [&](const call::Message& m) {
            auto g = b.initMessage();
            g.setMsgAgentId(T(m.agent_id));
            g.setExecutorId(T(m.executor_id));
            g.setData(D(m.data));
          },
      },
      c.call);
}
SchedulerCall Get(proto::Call::Reader b) {
  SchedulerCall c;
  c.framework_id = S(b.getFrameworkId());
  switch (b.which()) {
    case proto::Call::SUBSCRIBE:
      c.call = call::Subscribe{Get(b.getSubscribe())};
      break;
    case proto::Call::ACCEPT: {
      auto a = b.getAccept();
      c.call = call::Accept{GetTexts(a.getOfferIds()), GetList<Operation>(a.getOperations()),
                            a.getRefuseSeconds()};
      break;
    }
    case proto::Call::DECLINE: {
      auto d = b.getDecline();
      c.call = call::Decline{GetTexts(d.getOfferIds()), d.getDeclineRefuseSeconds()};
      break;
    }
    case proto::Call::REVIVE:
      c.call = call::Revive{GetTexts(b.getRevive())};
      break;
    case proto::Call::SUPPRESS:
      c.call = call::Suppress{GetTexts(b.getSuppress())};
      break;
    case proto::Call::KILL:
      c.call = call::Kill{S(b.getKill().getTaskId()), S(b.getKill().getAgentId())};
      break;
    case proto::Call::ACKNOWLEDGE: {
      auto a = b.getAcknowledge();
      c.call = call::Acknowledge{S(a.getAckAgentId()), S(a.getAckTaskId()), S(a.getUuid())};
      break;
    }
    case proto::Call::RECONCILE: {
      call::Reconcile r;
      for (auto t : b.getReconcile()) r.tasks.emplace_back(S(t.getTaskId()), S(t.getAgentId()));
      c.call = std::move(r);
      break;
    }
    case proto::Call::TEARDOWN:
      c.call = call::Teardown{};
      break;
    case proto::Call::MESSAGE: {
      auto m = b.getMessage();
      c.call = call::Message{S(m.getMsgAgentId()), S(m.getExecutorId()), FromData(m.getData())};
      break;
    }
    default:
      throw std::runtime_error("unknown scheduler call");
  }
  return c;
}

void Put(proto::Event::Builder b, const SchedulerEvent& e) {
  std::visit(Overloaded{
                 [&](const event::Subscribed& m) {
                   auto s = b.initSubscribed();
                   s.setFrameworkId(T(m.framework_id));
                   s.setHeartbeatIntervalSeconds(m.heartbeat_interval_seconds);
                   s.setMasterId(T(m.master_id));
                 },
                 [&](const event::Offers& m) { PutList(b.initOffers(m.offers.size()), m.offers); },
                 [&](const event::Rescind& m) { b.setRescind(T(m.offer_id)); },
                 [&](const event::Update& m) { Put(b.initUpdate(), m.status); },
                 [&](const event::Message& m) {
                   auto g = b.initMessage();
                   g.setAgentId(T(m.agent_id));
                   g.setExecutorId(T(m.executor_id));
                   g.setData(D(m.data));
                 },
                 [&](const event::Failure& m) {
                   auto f = b.initFailure();
                   f.setFailureAgentId(T(m.agent_id));
                   f.setFailureExecutorId(T(m.executor_id));
                   f.setStatus(m.status);
                 },
                 [&](const event::Error& m) {
                   auto e = b.initError();
                   e.setErrorMessage(T(m.message));
                   e.setTerminal(m.terminal);
                 },
                 [&](const event::Heartbeat&) { b.setHeartbeat(); },
             },
             e);
}
SchedulerEvent Get(proto::Event::Reader b) {
  switch (b.which()) {
    case proto::Event::SUBSCRIBED: {
      auto s = b.getSubscribed();
      return event::Subscribed{S(s.getFrameworkId()), s.getHeartbeatIntervalSeconds(),
                               S(s.getMasterId())};
    }
    case proto::Event::OFFERS:
      return event::Offers{GetList<Offer>(b.getOffers())};
    case proto::Event::RESCIND:
      return event::Rescind{S(b.getRescind())};
    case proto::Event::UPDATE:
      return event::Update{Get(b.getUpdate())};
    case proto::Event::MESSAGE: {
      auto m = b.getMessage();
      return event::Message{S(m.getAgentId()), S(m.getExecutorId()), FromData(m.getData())};
    }
    case proto::Event::FAILURE: {
      auto f = b.getFailure();
      return event::Failure{S(f.getFailureAgentId()), S(f.getFailureExecutorId()), f.getStatus()};
    }
    case proto::Event::ERROR:
      return event::Error{S(b.getError().getErrorMessage()), b.getError().getTerminal()};
    case proto::Event::HEARTBEAT:
      return event::Heartbeat{};
    default:
      break;
  }
  throw std::runtime_error("unknown scheduler event");
}

void Put(proto::AgentMessage::Builder b, const AgentMessage& msg) {
  std::visit(
      Overloaded{
          [&](const agentmsg::Register& m) {
            auto r = b.initRegister();
            Put(r.initInfo(), m.info);
            PutList(r.initTasks(m.tasks.size()), m.tasks);
            PutList(r.initFrameworks(m.frameworks.size()), m.frameworks);
            r.setEpoch(m.epoch);
            PutList(r.initExecutors(m.executors.size()), m.executors);
          },
          [&](const agentmsg::Registered& m) {
            auto r = b.initRegistered();
            r.setAgentId(T(m.agent_id));
            r.setMasterId(T(m.master_id));
            r.setRegisteredEpoch(m.epoch);
          },
          [&](const agentmsg::Ping& m) { b.setPing(T(m.master_id)); },
          [&](const agentmsg::Pong&) { b.setPong(); },
          [&](const agentmsg::RunTask& m) {
            auto r = b.initRunTask();
            Put(r.initFramework(), m.framework);
            Put(r.initExecutor(), m.executor);
            PutList(r.initTasks(m.tasks.size()), m.tasks);
            r.setRunRole(T(m.role));
          },
          [&](const agentmsg::KillTask& m) {
            auto k = b.initKillTask();
            k.setKillFrameworkId(T(m.framework_id));
            k.setKillTaskId(T(m.task_id));
          },
          [&](const agentmsg::StatusUpdate& m) {
            auto u = b.initStatusUpdate();
            u.setUpdateFrameworkId(T(m.framework_id));
            Put(u.initStatus(), m.status);
          },
          [&](const agentmsg::StatusUpdateAck& m) {
            auto a = b.initStatusUpdateAck();
            a.setAckFrameworkId(T(m.framework_id));
            a.setAckTaskId(T(m.task_id));
            a.setUuid(T(m.uuid));
          },
          [&](const agentmsg::ShutdownFramework& m) { b.setShutdownFramework(T(m.framework_id)); },
          [&](const agentmsg::Shutdown& m) { b.setShutdown(T(m.reason)); },
          [&](const agentmsg::ReconcileTasks& m) {
            auto r = b.initReconcileTasks();
            r.setReconcileFrameworkId(T(m.framework_id));
            SetTexts(r.initTaskIds(m.task_ids.size()), m.task_ids);
          },
          [&](const agentmsg::UsageReport& m) {
            auto u = b.initUsage();
            u.setCpuSeconds(m.cpu_seconds);
            u.setMemoryBytes(m.memory_bytes);
            u.setProcesses(m.processes);
            u.setContainers(m.containers);
          },
      },
      msg);
}
AgentMessage Get(proto::AgentMessage::Reader b) {
  switch (b.which()) {
    case proto::AgentMessage::REGISTER: {
      auto r = b.getRegister();
      return agentmsg::Register{Get(r.getInfo()), GetList<Task>(r.getTasks()),
                                GetList<FrameworkInfo>(r.getFrameworks()), r.getEpoch(),
                                GetList<ExecutorInfo>(r.getExecutors())};
    }
    case proto::AgentMessage::REGISTERED:
      return agentmsg::Registered{S(b.getRegistered().getAgentId()),
                                  S(b.getRegistered().getMasterId()),
                                  b.getRegistered().getRegisteredEpoch()};
    case proto::AgentMessage::PING:
      return agentmsg::Ping{S(b.getPing())};
    case proto::AgentMessage::PONG:
      return agentmsg::Pong{};
    case proto::AgentMessage::RUN_TASK: {
      auto r = b.getRunTask();
      return agentmsg::RunTask{Get(r.getFramework()), Get(r.getExecutor()),
                               GetList<TaskInfo>(r.getTasks()), S(r.getRunRole())};
    }
    case proto::AgentMessage::KILL_TASK:
      return agentmsg::KillTask{S(b.getKillTask().getKillFrameworkId()),
                                S(b.getKillTask().getKillTaskId())};
    case proto::AgentMessage::STATUS_UPDATE:
      return agentmsg::StatusUpdate{S(b.getStatusUpdate().getUpdateFrameworkId()),
                                    Get(b.getStatusUpdate().getStatus())};
    case proto::AgentMessage::STATUS_UPDATE_ACK: {
      auto a = b.getStatusUpdateAck();
      return agentmsg::StatusUpdateAck{S(a.getAckFrameworkId()), S(a.getAckTaskId()),
                                       S(a.getUuid())};
    }
    case proto::AgentMessage::SHUTDOWN_FRAMEWORK:
      return agentmsg::ShutdownFramework{S(b.getShutdownFramework())};
    case proto::AgentMessage::SHUTDOWN:
      return agentmsg::Shutdown{S(b.getShutdown())};
    case proto::AgentMessage::RECONCILE_TASKS:
      return agentmsg::ReconcileTasks{S(b.getReconcileTasks().getReconcileFrameworkId()),
                                      GetTexts(b.getReconcileTasks().getTaskIds())};
    case proto::AgentMessage::USAGE: {
      auto u = b.getUsage();
      return agentmsg::UsageReport{u.getCpuSeconds(), u.getMemoryBytes(), u.getProcesses(),
                                   u.getContainers()};
    }
    default:
      break;
  }
  throw std::runtime_error("unknown agent message");
}

void Put(proto::ExecutorMessage::Builder b, const ExecutorMessage& msg) {
  std::visit(Overloaded{
                 [&](const execmsg::Subscribe& m) {
                   auto s = b.initSubscribe();
                   s.setFrameworkId(T(m.framework_id));
                   s.setExecutorId(T(m.executor_id));
                   s.setPid(m.pid);
                   PutList(s.initUnacknowledged(m.unacknowledged.size()), m.unacknowledged);
                   PutList(s.initLaunched(m.launched.size()), m.launched);
                   s.setSecret(T(m.secret));
                 },
                 [&](const execmsg::Launch& m) { PutList(b.initLaunch(m.tasks.size()), m.tasks); },
                 [&](const execmsg::Kill& m) {
                   auto k = b.initKill();
                   k.setTaskId(T(m.task_id));
                   k.setGracePeriodMillis(m.grace_period_ms);
                 },
                 [&](const execmsg::Shutdown& m) { b.setShutdown(m.grace_period_ms); },
                 [&](const execmsg::Update& m) { Put(b.initUpdate(), m.status); },
                 [&](const execmsg::Ack& m) {
                   auto a = b.initAck();
                   a.setAckTaskId(T(m.task_id));
                   a.setUuid(T(m.uuid));
                 },
             },
             msg);
}
ExecutorMessage Get(proto::ExecutorMessage::Reader b) {
  switch (b.which()) {
    case proto::ExecutorMessage::SUBSCRIBE: {
      auto s = b.getSubscribe();
      return execmsg::Subscribe{S(s.getFrameworkId()),
                                S(s.getExecutorId()),
                                s.getPid(),
                                GetList<TaskStatus>(s.getUnacknowledged()),
                                GetList<TaskInfo>(s.getLaunched()),
                                S(s.getSecret())};
    }
    case proto::ExecutorMessage::LAUNCH:
      return execmsg::Launch{GetList<TaskInfo>(b.getLaunch())};
    case proto::ExecutorMessage::KILL:
      return execmsg::Kill{S(b.getKill().getTaskId()), b.getKill().getGracePeriodMillis()};
    case proto::ExecutorMessage::SHUTDOWN:
      return execmsg::Shutdown{b.getShutdown()};
    case proto::ExecutorMessage::UPDATE:
      return execmsg::Update{Get(b.getUpdate())};
    case proto::ExecutorMessage::ACK:
      return execmsg::Ack{S(b.getAck().getAckTaskId()), S(b.getAck().getUuid())};
    default:
      break;
  }
  throw std::runtime_error("unknown executor message");
}

void Put(proto::AgentRecord::Builder b, const AgentRecord& r) {
  Put(b.initInfo(), r.info);
  b.setState(static_cast<uint8_t>(r.state));
  b.setChangedTime(r.changed_time);
}
AgentRecord Get(proto::AgentRecord::Reader b) {
  AgentRecord r;
  r.info = Get(b.getInfo());
  r.state = CheckedEnum<AgentRecord::State>(b.getState(), 3, "agent state");
  r.changed_time = b.getChangedTime();
  return r;
}

void Put(proto::ExecutorRecord::Builder b, const ExecutorRecord& r) {
  Put(b.initInfo(), r.info);
  Put(b.initFramework(), r.framework);
  b.setContainerId(T(r.container_id));
  b.setPid(r.pid);
  b.setSandbox(T(r.sandbox));
  b.setSecret(T(r.secret));
}
ExecutorRecord Get(proto::ExecutorRecord::Reader b) {
  ExecutorRecord r;
  r.info = Get(b.getInfo());
  r.framework = Get(b.getFramework());
  r.container_id = S(b.getContainerId());
  r.pid = b.getPid();
  r.sandbox = S(b.getSandbox());
  r.secret = S(b.getSecret());
  return r;
}

void Put(proto::TaskRecord::Builder b, const TaskRecord& r) {
  Put(b.initTask(), r.task);
  PutList(b.initPending(r.pending.size()), r.pending);
}
TaskRecord Get(proto::TaskRecord::Reader b) {
  TaskRecord r;
  r.task = Get(b.getTask());
  r.pending = GetList<TaskStatus>(b.getPending());
  return r;
}

// Copies `bytes` into aligned words and reads it with traversal limits.
template <typename Proto, typename Value>
Result<Value> DecodeRoot(std::string_view bytes, const char* what) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return Status::Error(std::string(what) + " record of " + std::to_string(bytes.size()) +
                         " bytes is corrupt (size must be a positive multiple of 8)");
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = bytes.size() / sizeof(capnp::word) * 4 + 1024;
    options.nestingLimit = 32;
    capnp::FlatArrayMessageReader reader(words, options);
    return Value(Get(reader.getRoot<Proto>()));
  } catch (const kj::Exception& e) {
    return Status::Error(std::string(what) + " record is corrupt: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return Status::Error(std::string(what) + " record is invalid: " + e.what());
  }
}

template <typename Proto, typename Value>
std::string EncodeRoot(const Value& value) {
  capnp::MallocMessageBuilder builder;
  Put(builder.initRoot<Proto>(), value);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

}  // namespace

std::string EncodeRecord(const AgentRecord& r) { return EncodeRoot<proto::AgentRecord>(r); }
std::string EncodeRecord(const FrameworkInfo& r) { return EncodeRoot<proto::FrameworkInfo>(r); }
std::string EncodeRecord(const ExecutorRecord& r) { return EncodeRoot<proto::ExecutorRecord>(r); }
std::string EncodeRecord(const TaskRecord& r) { return EncodeRoot<proto::TaskRecord>(r); }
Result<AgentRecord> DecodeAgentRecord(std::string_view bytes) {
  return DecodeRoot<proto::AgentRecord, AgentRecord>(bytes, "agent");
}
Result<FrameworkInfo> DecodeFrameworkRecord(std::string_view bytes) {
  return DecodeRoot<proto::FrameworkInfo, FrameworkInfo>(bytes, "framework");
}
Result<ExecutorRecord> DecodeExecutorRecord(std::string_view bytes) {
  return DecodeRoot<proto::ExecutorRecord, ExecutorRecord>(bytes, "executor");
}
Result<TaskRecord> DecodeTaskRecord(std::string_view bytes) {
  return DecodeRoot<proto::TaskRecord, TaskRecord>(bytes, "task");
}

std::string Encode(const Message& message) {
  capnp::MallocMessageBuilder builder;
  auto envelope = builder.initRoot<proto::Envelope>();
  envelope.setVersion(kProtocolVersion);
  std::visit(Overloaded{
                 [&](const SchedulerCall& m) { Put(envelope.initCall(), m); },
                 [&](const SchedulerEvent& m) { Put(envelope.initEvent(), m); },
                 [&](const AgentMessage& m) { Put(envelope.initAgent(), m); },
                 [&](const ExecutorMessage& m) { Put(envelope.initExecutor(), m); },
                 [&](const Keepalive&) { envelope.setKeepalive(); },
                 [&](const ProtocolError& m) { envelope.setError(T(m.message)); },
             },
             message);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string EncodeRefusal(const std::string& error) {
  return Encode(Message(ProtocolError{"invalid frame: " + error}));
}

Result<Message> Decode(std::string_view frame) {
  if (frame.size() > kMaxFrameBytes) {
    return Status::Error("frame of " + std::to_string(frame.size()) + " bytes exceeds the " +
                         std::to_string(kMaxFrameBytes) + "-byte limit");
  }
  if (frame.empty() || frame.size() % sizeof(capnp::word) != 0) {
    return Status::Error("frame of " + std::to_string(frame.size()) +
                         " bytes is not a Cap'n Proto message (size must be a positive "
                         "multiple of 8)");
  }
  // ZeroMQ frames carry no alignment guarantee: copy into word-aligned memory.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), frame.data(), frame.size());
  try {
    capnp::ReaderOptions options;
    // Each word read once, as a well-formed message does: no far pointers
    // aliasing the same text into many strings.
    options.traversalLimitInWords = frame.size() / sizeof(capnp::word) + 1024;
    options.nestingLimit = 32;
    capnp::FlatArrayMessageReader reader(words, options);
    auto envelope = reader.getRoot<proto::Envelope>();
    if (envelope.getVersion() != kProtocolVersion) {
      return Status::Error("protocol version " + std::to_string(envelope.getVersion()) +
                           " is not supported (this build speaks version " +
                           std::to_string(kProtocolVersion) + ")");
    }
    switch (envelope.which()) {
      case proto::Envelope::CALL:
        return Message(Get(envelope.getCall()));
      case proto::Envelope::EVENT:
        return Message(Get(envelope.getEvent()));
      case proto::Envelope::AGENT:
        return Message(Get(envelope.getAgent()));
      case proto::Envelope::EXECUTOR:
        return Message(Get(envelope.getExecutor()));
      case proto::Envelope::KEEPALIVE:
        return Message(Keepalive{});
      case proto::Envelope::ERROR:
        return Message(ProtocolError{S(envelope.getError())});
      default:
        return Status::Error("unknown envelope kind " +
                             std::to_string(static_cast<int>(envelope.which())));
    }
  } catch (const kj::Exception& e) {
    return Status::Error(std::string("malformed frame: ") + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return Status::Error(std::string("invalid message: ") + e.what());
  }
}

}  // namespace stoa

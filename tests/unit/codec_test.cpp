#include "protocols/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <random>

#include "common/duration.hpp"
#include "protocols/envelope.capnp.h"

namespace stoa {
namespace {

TaskInfo SampleTask() {
  TaskInfo task;
  task.task_id = "web-1";
  task.name = "web";
  task.agent_id = "agent-1";
  task.resources = *Resources::Parse("cpus:0.5;mem:128;ports:[31000-31001]");
  task.command.value = "echo hello";
  task.command.environment = {{"A", "1"}};
  task.labels = {{"tier", "front"}};
  task.kill_grace_period_ms = 1500;
  return task;
}

template <typename T>
T RoundTrip(const Message& message) {
  Result<Message> decoded = Decode(Encode(message));
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error());
  return std::get<T>(*decoded);
}

TEST(Codec, SchedulerCallsRoundTrip) {
  SchedulerCall subscribe;
  subscribe.framework_id = "fw-1";
  FrameworkInfo info;
  info.id = "fw-1";
  info.name = "batch";
  info.roles = {"analytics", "*"};
  info.failover_timeout_seconds = 120;
  info.partition_aware = true;
  subscribe.call = call::Subscribe{info};
  auto decoded = RoundTrip<SchedulerCall>(Message(subscribe));
  EXPECT_EQ(decoded.framework_id, "fw-1");
  auto& got = std::get<call::Subscribe>(decoded.call).info;
  EXPECT_EQ(got.name, "batch");
  EXPECT_EQ(got.roles, (std::vector<std::string>{"analytics", "*"}));
  EXPECT_DOUBLE_EQ(got.failover_timeout_seconds, 120);
  EXPECT_TRUE(got.partition_aware);

  SchedulerCall accept;
  accept.framework_id = "fw-1";
  Operation launch;
  launch.type = Operation::Type::kLaunchGroup;
  launch.executor.executor_id = "exec-1";
  launch.tasks = {SampleTask(), SampleTask()};
  launch.tasks[1].task_id = "web-2";
  accept.call = call::Accept{{"offer-1", "offer-2"}, {launch}, 30};
  auto a = std::get<call::Accept>(RoundTrip<SchedulerCall>(Message(accept)).call);
  EXPECT_EQ(a.offer_ids, (std::vector<OfferId>{"offer-1", "offer-2"}));
  EXPECT_DOUBLE_EQ(a.refuse_seconds, 30);
  ASSERT_EQ(a.operations.size(), 1u);
  EXPECT_EQ(a.operations[0].type, Operation::Type::kLaunchGroup);
  EXPECT_EQ(a.operations[0].executor.executor_id, "exec-1");
  ASSERT_EQ(a.operations[0].tasks.size(), 2u);
  const TaskInfo& t = a.operations[0].tasks[0];
  EXPECT_EQ(t.task_id, "web-1");
  EXPECT_EQ(t.resources, SampleTask().resources);
  EXPECT_EQ(t.command, SampleTask().command);
  EXPECT_EQ(t.labels, SampleTask().labels);
  EXPECT_EQ(t.kill_grace_period_ms, 1500);

  SchedulerCall reconcile;
  reconcile.call = call::Reconcile{{{"t1", "a1"}, {"t2", ""}}};
  auto r = std::get<call::Reconcile>(RoundTrip<SchedulerCall>(Message(reconcile)).call);
  ASSERT_EQ(r.tasks.size(), 2u);
  EXPECT_EQ(r.tasks[0].first, "t1");
  EXPECT_EQ(r.tasks[0].second, "a1");
}

// Every reason crosses the wire by its ordinal, the disk limit (disk/du) with
// Mesos's spelling.
TEST(Codec, EveryReasonRoundTrips) {
  for (int i = 0; i < kReasonCount; ++i) {
    TaskStatus status;
    status.task_id = "t1";
    status.uuid = "u-1";
    status.reason = static_cast<Reason>(i);
    auto update = std::get<event::Update>(
        RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Update{status}))));
    EXPECT_EQ(update.status.reason, status.reason) << ToString(status.reason);
  }
  EXPECT_STREQ(ToString(Reason::kContainerLimitationDisk), "REASON_CONTAINER_LIMITATION_DISK");
}

TEST(Codec, EventsAndAgentMessagesRoundTrip) {
  TaskStatus status;
  status.task_id = "t1";
  status.state = TaskState::kFailed;
  status.reason = Reason::kMemoryLimit;
  status.source = Source::kAgent;
  status.message = "memory limit 64 MiB exceeded";
  status.uuid = "u-1";
  status.exit_status = 137;
  status.timestamp = 1234.5;
  auto update = std::get<event::Update>(
      RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Update{status}))));
  EXPECT_EQ(update.status.state, TaskState::kFailed);
  EXPECT_EQ(update.status.reason, Reason::kMemoryLimit);
  EXPECT_EQ(update.status.source, Source::kAgent);
  EXPECT_EQ(update.status.message, status.message);
  EXPECT_EQ(update.status.uuid, "u-1");
  EXPECT_EQ(update.status.exit_status, 137);
  EXPECT_DOUBLE_EQ(update.status.timestamp, 1234.5);

  Offer offer;
  offer.id = "o1";
  offer.agent_id = "a1";
  offer.resources = *Resources::Parse("cpus:4;mem:2048;disk(web):100;ports:[31000-32000]");
  offer.attributes = {{"rack", "r1"}, {"zone", "a"}};
  auto offers = std::get<event::Offers>(
      RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Offers{{offer}}))));
  ASSERT_EQ(offers.offers.size(), 1u);
  EXPECT_EQ(offers.offers[0].resources, offer.resources);
  EXPECT_EQ(offers.offers[0].attributes, offer.attributes);

  agentmsg::Register reg;
  reg.info.hostname = "node-1";
  reg.info.resources = offer.resources;
  Task task;
  task.info = SampleTask();
  task.framework_id = "fw";
  task.state = TaskState::kRunning;
  task.statuses = {status};
  reg.tasks = {task};
  auto got = std::get<agentmsg::Register>(RoundTrip<AgentMessage>(Message(AgentMessage(reg))));
  EXPECT_EQ(got.info.hostname, "node-1");
  ASSERT_EQ(got.tasks.size(), 1u);
  EXPECT_EQ(got.tasks[0].state, TaskState::kRunning);
  EXPECT_EQ(got.tasks[0].statuses[0].uuid, "u-1");

  auto ack = std::get<execmsg::Ack>(
      RoundTrip<ExecutorMessage>(Message(ExecutorMessage(execmsg::Ack{"t1", "u-1"}))));
  EXPECT_EQ(ack.uuid, "u-1");
}

TEST(Codec, RefusesMalformedFramesWithoutCrashing) {
  EXPECT_FALSE(Decode("").ok());
  EXPECT_NE(Decode("abc").error().find("multiple of 8"), std::string::npos);

  std::mt19937 random(42);
  int refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string frame((random() % 64 + 1) * 8, '\0');
    for (auto& c : frame) c = static_cast<char>(random());
    if (!Decode(frame).ok()) ++refused;
  }
  EXPECT_GT(refused, 1900);  // random bytes almost never form a valid envelope

  // Every truncation of a valid frame is refused or decodes; none crashes.
  std::string valid = Encode(Message(SchedulerEvent(event::Update{TaskStatus{}})));
  for (size_t cut = 8; cut < valid.size(); cut += 8) {
    (void)Decode(valid.substr(0, cut));
  }
  // Flipped bytes: still no crash.
  for (size_t i = 0; i < valid.size(); ++i) {
    std::string flipped = valid;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    (void)Decode(flipped);
  }
}

TEST(Codec, RefusesOtherProtocolVersions) {
  std::string frame = Encode(Message(Keepalive{}));
  // The version is the first field of the root struct: word 2 of a one-segment message.
  frame[16] = 7;
  Result<Message> decoded = Decode(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("protocol version 7"), std::string::npos) << decoded.error();
}

TEST(Codec, RefusesOutOfRangeEnums) {
  TaskStatus status;
  status.state = static_cast<TaskState>(200);
  Result<Message> decoded = Decode(Encode(Message(SchedulerEvent(event::Update{status}))));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("task state"), std::string::npos) << decoded.error();
}

TEST(Codec, EpochsRolesAndTerminalErrorsRoundTrip) {
  agentmsg::Register reg;
  reg.epoch = 1'700'000'000'000'000'123ull;
  ExecutorInfo executor;
  executor.executor_id = "ex1";
  executor.group = true;
  executor.resources = *Resources::Parse("cpus:0.5;mem:64");
  reg.executors = {executor};
  auto got = std::get<agentmsg::Register>(RoundTrip<AgentMessage>(Message(AgentMessage(reg))));
  EXPECT_EQ(got.epoch, reg.epoch);
  ASSERT_EQ(got.executors.size(), 1u);
  EXPECT_EQ(got.executors[0].resources, executor.resources);
  EXPECT_TRUE(got.executors[0].group);
  auto registered = std::get<agentmsg::Registered>(
      RoundTrip<AgentMessage>(Message(AgentMessage(agentmsg::Registered{"a1", "m1", 42}))));
  EXPECT_EQ(registered.epoch, 42u);

  auto error = std::get<event::Error>(RoundTrip<SchedulerEvent>(
      Message(SchedulerEvent(event::Error{"framework failed over", true}))));
  EXPECT_EQ(error.message, "framework failed over");
  EXPECT_TRUE(error.terminal);
  EXPECT_FALSE(std::get<event::Error>(
                   RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Error{"no", false}))))
                   .terminal);

  Offer offer;
  offer.id = "o1";
  offer.role = "analytics";
  auto offers = std::get<event::Offers>(
      RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Offers{{offer}}))));
  EXPECT_EQ(offers.offers.at(0).role, "analytics");
  Task task;
  task.role = "web";
  reg.tasks = {task};
  got = std::get<agentmsg::Register>(RoundTrip<AgentMessage>(Message(AgentMessage(reg))));
  EXPECT_EQ(got.tasks.at(0).role, "web");
}

// A client in another language that leaves out the refuse filter gets the
// same 5 s as the C++ SDK, not 0 (which would bounce offers at network speed).
TEST(Codec, OmittedRefuseSecondsDefaultToTheSdkDefault) {
  for (bool decline : {false, true}) {
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<proto::Envelope>();
    envelope.setVersion(kProtocolVersion);
    auto call = envelope.initCall();
    call.setFrameworkId("fw");
    if (decline) {
      call.initDecline().initOfferIds(1).set(0, "o1");
    } else {
      call.initAccept().initOfferIds(1).set(0, "o1");
    }
    kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
    auto bytes = words.asBytes();
    Result<Message> decoded =
        Decode(std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    const auto& body = std::get<SchedulerCall>(*decoded).call;
    double refuse = decline ? std::get<call::Decline>(body).refuse_seconds
                            : std::get<call::Accept>(body).refuse_seconds;
    EXPECT_DOUBLE_EQ(refuse, call::Decline{}.refuse_seconds);
  }
}

// Frames built to cost the receiver: thousands of distinct resource names
// (merged pairwise) are refused with a reason, not decoded for minutes.
TEST(Codec, RefusesFramesWithTooManyResourceEntries) {
  Offer offer;
  offer.id = "o1";
  for (int i = 0; i < 5000; ++i) {
    offer.resources += *Resources::Parse("r" + std::to_string(i) + ":1");
  }
  Result<Message> decoded = Decode(Encode(Message(SchedulerEvent(event::Offers{{offer}}))));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("resource entries"), std::string::npos) << decoded.error();
}

TEST(Duration, TimerSpansNeverOverflow) {
  EXPECT_EQ(TimerSpan(1.5), std::chrono::milliseconds(1500));
  EXPECT_EQ(TimerSpan(-3), std::chrono::nanoseconds(0));
  EXPECT_EQ(TimerSpan(std::nan("")), std::chrono::nanoseconds(0));
  for (double huge :
       {1e12, 1e300, std::numeric_limits<double>::max(), std::numeric_limits<double>::infinity()}) {
    EXPECT_GT(TimerSpan(huge), std::chrono::hours(24 * 365 * 99)) << huge;
  }
}

TEST(Duration, ParsesEveryUnitAndRefusesGarbage) {
  EXPECT_DOUBLE_EQ(*ParseDuration("500ms"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseDuration("10secs"), 10);
  EXPECT_DOUBLE_EQ(*ParseDuration("2mins"), 120);
  EXPECT_DOUBLE_EQ(*ParseDuration("1.5hrs"), 5400);
  EXPECT_DOUBLE_EQ(*ParseDuration("3days"), 259200);
  EXPECT_FALSE(ParseDuration("10").ok());
  EXPECT_FALSE(ParseDuration("secs").ok());
  EXPECT_NE(ParseDuration("5parsecs").error().find("unknown unit"), std::string::npos);
}

TEST(Codec, ContainerSettingsAndUsageReportsRoundTrip) {
  TaskInfo task = SampleTask();
  task.command.user = "nobody";
  task.container.rootfs = "/var/lib/images/debian.tar.gz";
  task.container.volumes = {{"/srv/data", "/mnt/data", true}, {"/srv/logs", "logs", false}};
  task.container.hostname = "web-1";
  task.container.network_isolated = true;
  task.container.cpu_hard_limit = true;
  agentmsg::RunTask run;
  run.framework.id = "framework-1";
  run.executor.executor_id = "web-1";
  run.tasks = {task, SampleTask()};
  run.role = "web";
  auto got = std::get<agentmsg::RunTask>(RoundTrip<AgentMessage>(Message(AgentMessage(run))));
  EXPECT_EQ(got.role, "web");
  ASSERT_EQ(got.tasks.size(), 2u);
  EXPECT_EQ(got.tasks[0].container, task.container);
  EXPECT_EQ(got.tasks[0].command, task.command);
  EXPECT_EQ(got.tasks[1].container, ContainerInfo{});  // none given: the host's, shared network

  agentmsg::UsageReport usage{12.5, 64u << 20, 7, 2};
  auto report =
      std::get<agentmsg::UsageReport>(RoundTrip<AgentMessage>(Message(AgentMessage(usage))));
  EXPECT_DOUBLE_EQ(report.cpu_seconds, 12.5);
  EXPECT_EQ(report.memory_bytes, 64u << 20);
  EXPECT_EQ(report.processes, 7u);
  EXPECT_EQ(report.containers, 2u);
}

// Health checks and checks cross every channel as given (the agent checkpoints
// TaskInfo and TaskStatus through these same codecs), and a task without them
// stays without.
TEST(Codec, HealthChecksAndTheirResultsRoundTrip) {
  TaskInfo task = SampleTask();
  HealthCheck health;
  health.check.type = CheckType::kHttp;
  health.check.port = 31000;
  health.check.path = "/health";
  health.check.scheme = "https";
  health.check.delay_seconds = 1.5;
  health.check.interval_seconds = 2;
  health.check.timeout_seconds = 0.5;
  health.consecutive_failures = 4;
  health.grace_period_seconds = 30;
  task.health_check = health;
  CheckInfo check;
  check.type = CheckType::kCommand;
  check.command = "test -e ready";
  check.delay_seconds = 0;
  task.check = check;
  agentmsg::RunTask run;
  run.tasks = {task, SampleTask()};
  auto got = std::get<agentmsg::RunTask>(RoundTrip<AgentMessage>(Message(AgentMessage(run))));
  ASSERT_EQ(got.tasks.size(), 2u);
  EXPECT_EQ(got.tasks[0].health_check, health);
  EXPECT_EQ(got.tasks[0].check, check);
  EXPECT_FALSE(got.tasks[1].health_check.has_value());
  EXPECT_FALSE(got.tasks[1].check.has_value());

  std::vector<CheckStatus> results = {
      {CheckType::kHttp, 503, std::nullopt, std::nullopt},
      {CheckType::kHttp, std::nullopt, std::nullopt, std::nullopt},
      {CheckType::kTcp, std::nullopt, false, std::nullopt},
      {CheckType::kCommand, std::nullopt, std::nullopt, 0},
  };
  for (std::optional<bool> healthy :
       {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)}) {
    for (const CheckStatus& result : results) {
      TaskStatus status;
      status.task_id = "web-1";
      status.state = TaskState::kRunning;
      status.reason = Reason::kTaskHealthCheckStatusUpdated;
      status.uuid = "u-1";
      status.healthy = healthy;
      status.check_status = result;
      // Through the agent's checkpoint record, and on to the framework.
      TaskRecord record;
      record.task.info = task;
      record.task.statuses = {status};
      record.pending = {status};
      Result<TaskRecord> decoded = DecodeTaskRecord(EncodeRecord(record));
      ASSERT_TRUE(decoded.ok()) << decoded.error();
      EXPECT_EQ(decoded->task.info.health_check, health);
      EXPECT_EQ(decoded->task.statuses.at(0).healthy, healthy);
      EXPECT_EQ(decoded->pending.at(0).check_status, result);
      auto update = std::get<event::Update>(
          RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Update{status}))));
      EXPECT_EQ(update.status.healthy, healthy);
      EXPECT_EQ(update.status.check_status, result);
      EXPECT_EQ(update.status.reason, Reason::kTaskHealthCheckStatusUpdated);
    }
  }
  TaskStatus plain;
  auto update = std::get<event::Update>(
      RoundTrip<SchedulerEvent>(Message(SchedulerEvent(event::Update{plain}))));
  EXPECT_FALSE(update.status.healthy.has_value());
  EXPECT_FALSE(update.status.check_status.has_value());
  EXPECT_STREQ(ToString(Reason::kTaskHealthCheckStatusUpdated),
               "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED");
  EXPECT_STREQ(ToString(Reason::kTaskCheckStatusUpdated), "REASON_TASK_CHECK_STATUS_UPDATED");
}

// A check status whose result is not of its type, or a check type out of
// range, is refused with a reason.
TEST(Codec, RefusesMalformedChecks) {
  TaskStatus status;
  status.check_status = CheckStatus{CheckType::kTcp, std::nullopt, true, std::nullopt};
  std::string frame = Encode(Message(SchedulerEvent(event::Update{status})));
  ASSERT_TRUE(Decode(frame).ok());
  {
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<proto::Envelope>();
    envelope.setVersion(kProtocolVersion);
    auto check = envelope.initEvent().initUpdate().initCheckStatus();
    check.setType(proto::CheckType::TCP);
    check.getResult().setHttpStatusCode(200);
    kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
    auto bytes = words.asBytes();
    Result<Message> decoded =
        Decode(std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().find("of type TCP carries a HTTP result"), std::string::npos)
        << decoded.error();
  }
  TaskInfo task = SampleTask();
  task.check = CheckInfo{};
  task.check->type = static_cast<CheckType>(9);
  agentmsg::RunTask run;
  run.tasks = {task};
  Result<Message> decoded = Decode(Encode(Message(AgentMessage(run))));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("check type"), std::string::npos) << decoded.error();
}

}  // namespace
}  // namespace stoa

// Autoscaling: the HPA rule with its tolerance, bounds and cooldown; CPU use
// from cumulative readings; a round that reads the agents' statistics and
// scales the app through a deployment with its reason in an event.
#include <gtest/gtest.h>

#include "frameworks/service/app_json.hpp"
#include "frameworks/service/autoscale_round.hpp"
#include "tests/unit/service_core_fixture.hpp"

namespace stoa::service {
namespace {

AutoscalePolicy Policy(int min, int max, double target_cpu, double cooldown = 60) {
  AutoscalePolicy policy;
  policy.min_instances = min;
  policy.max_instances = max;
  policy.target_cpu_percent = target_cpu;
  policy.cooldown_seconds = cooldown;
  return policy;
}

TEST(DecideScale, FollowsTheHpaRuleWithinTheBounds) {
  auto up = DecideScale(Policy(1, 5, 50), 1, 100.0, 1e9);
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->instances, 2);
  EXPECT_NE(up->reason.find("average CPU use 100%"), std::string::npos) << up->reason;
  EXPECT_EQ(DecideScale(Policy(1, 5, 50), 2, 190.0, 1e9)->instances, 5) << "capped at max";
  EXPECT_EQ(DecideScale(Policy(1, 5, 50), 4, 5.0, 1e9)->instances, 1) << "down to what is used";
  EXPECT_FALSE(DecideScale(Policy(1, 5, 50), 2, 54.0, 1e9)) << "within 10% of the target";
  EXPECT_FALSE(DecideScale(Policy(1, 5, 50), 2, std::nullopt, 1e9)) << "no figure, no change";
  EXPECT_FALSE(DecideScale(Policy(1, 5, 50, 60), 2, 100.0, 30)) << "in the cooldown";
  EXPECT_FALSE(DecideScale(Policy(1, 5, 50), 1, 0.0, 1e9)) << "already at min";
  EXPECT_EQ(DecideScale(Policy(2, 5, 50, 60), 1, std::nullopt, 0)->instances, 2)
      << "out of bounds goes back at once";
}

TEST(CpuSampler, GivesThePercentOfTheCpusAskedForBetweenTwoReadings) {
  CpuSampler sampler;
  sampler.Add("t", 10, 100);
  EXPECT_FALSE(sampler.Percent("t", 0.5)) << "one reading is no rate";
  sampler.Add("t", 12, 104);  // 0.5 cpu-seconds per second
  ASSERT_TRUE(sampler.Percent("t", 0.5));
  EXPECT_DOUBLE_EQ(*sampler.Percent("t", 0.5), 100);
  sampler.Add("t", 12, 104);  // the same reading again changes nothing
  EXPECT_DOUBLE_EQ(*sampler.Percent("t", 0.25), 200);
  sampler.Retain({});
  EXPECT_FALSE(sampler.Percent("t", 0.5));
}

TEST(AutoscalePolicyJson, IsValidatedWithPaths) {
  ParsedApp bad = ParseApp(nlohmann::json::parse(R"({"id": "/a", "cmd": "x",
    "autoscale": {"minInstances": 3, "maxInstances": 2, "targetRequestsPerSecond": 10,
                  "targetCpuUtilization": 50}})"));
  EXPECT_FALSE(bad.app.has_value());
  std::string summary = bad.errors.Summary();
  EXPECT_NE(summary.find("/autoscale/maxInstances"), std::string::npos) << summary;
  EXPECT_NE(summary.find("/autoscale/targetCpuUtilization: give one target"), std::string::npos)
      << summary;
  ParsedApp good = ParseApp(nlohmann::json::parse(R"({"id": "/a", "cmd": "x",
    "autoscale": {"minInstances": 1, "maxInstances": 4, "targetCpuUtilization": 50,
                  "cooldownSeconds": 5}})"));
  ASSERT_TRUE(good.app.has_value()) << good.errors.Summary();
  EXPECT_EQ(AppJson(*good.app)["autoscale"]["maxInstances"], 4);
  AppDefinition rescaled = *good.app;
  rescaled.instances = 3;
  rescaled.autoscale->max_instances = 8;
  EXPECT_TRUE(OnlyScaled(*good.app, rescaled)) << "a new policy restarts no task";
}

class AutoscaleRoundTest : public ServiceCoreTest {};

TEST_F(AutoscaleRoundTest, ScalesFromTheAgentsStatisticsAndSaysWhy) {
  core_->Subscribed("framework-1");
  ASSERT_EQ(core_
                ->CreateApp(App(R"({"id": "/burn", "cmd": "burn", "cpus": 0.5, "instances": 1,
    "autoscale": {"minInstances": 1, "maxInstances": 3, "targetCpuUtilization": 50,
                  "cooldownSeconds": 30}})"))
                .refusal,
            Refusal::kNone);
  Offer offer = MakeOffer("a1");
  offer.agent_http_address = "10.0.0.1:5052";
  core_->Offers({offer});
  ASSERT_EQ(actions_->launched.size(), 1u);
  const TaskId task = actions_->launched[0].task_id;
  Status(task, TaskState::kRunning);

  double cpu = 0, at = 100;
  std::vector<std::string> asked;
  StatisticsFetcher fetch = [&](const std::string& agent) -> Result<std::string> {
    asked.push_back(agent);
    return nlohmann::json::array(
               {"junk",
                {{"executor_id", 7}, {"statistics", {{"cpus_user_time_secs", "x"}}}},
                {{"executor_id", "odd.executor-3"}, {"statistics", {{"timestamp", "soon"}}}},
                {{"executor_id", task + ".executor-1"},
                 {"statistics", {{"cpus_user_time_secs", cpu}, {"timestamp", at}}}},
                {{"executor_id", "other.executor-2"},
                 {"statistics", {{"cpus_user_time_secs", 1000.0}, {"timestamp", at}}}}})
        .dump();
  };
  CpuSampler sampler;
  RunAutoscaleRound(*core_, sampler, fetch);  // one reading: no figure yet
  EXPECT_EQ(asked, (std::vector<std::string>{"10.0.0.1:5052"}));
  EXPECT_TRUE(Events("autoscale_event").empty());
  cpu += 5, at += 5;  // a whole cpu used: 200% of the 0.5 asked for
  RunAutoscaleRound(*core_, sampler, fetch);
  ASSERT_EQ(Events("autoscale_event").size(), 1u);
  json event = Events("autoscale_event")[0];
  EXPECT_EQ(event["from"], 1);
  EXPECT_EQ(event["to"], 3) << "ceil(1 x 200 / 50) = 4, capped at 3";
  EXPECT_NE(event["reason"].get<std::string>().find("200%"), std::string::npos) << event;
  auto view = core_->ViewApp(PathId::Parse("/burn"));
  ASSERT_TRUE(view && view->autoscale);
  EXPECT_EQ(view->app.instances, 3);
  EXPECT_EQ(view->autoscale->to, 3);
  EXPECT_DOUBLE_EQ(*view->autoscale->measured, 200);
}

TEST(DecideScale, ARequestRateTargetPerInstance) {
  AutoscalePolicy policy = Policy(1, 10, 0);
  policy.target_rps = 5;
  auto up = DecideScale(policy, 2, 12.5, 1e9);  // 25 requests/s over 2
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->instances, 5);
  EXPECT_NE(up->reason.find("12.5 requests/s per instance, target 5"), std::string::npos)
      << up->reason;
}

TEST_F(AutoscaleRoundTest, ARequestRateTargetReadsTheBalancersRates) {
  core_->Subscribed("framework-1");
  ASSERT_EQ(core_
                ->CreateApp(App(R"({"id": "/web", "cmd": "serve", "cpus": 0.1, "instances": 2,
    "autoscale": {"minInstances": 1, "maxInstances": 6, "targetRequestsPerSecond": 10,
                  "cooldownSeconds": 0}})"))
                .refusal,
            Refusal::kNone);
  Offer offer = MakeOffer("a1");
  offer.agent_http_address = "10.0.0.1:5052";
  core_->Offers({offer});
  ASSERT_EQ(actions_->launched.size(), 2u);
  for (const auto& task : actions_->launched) Status(task.task_id, TaskState::kRunning);
  StatisticsFetcher no_statistics = [](const std::string&) -> Result<std::string> {
    ADD_FAILURE() << "a request-rate target reads no agent";
    return Status::Error("unused");
  };
  BackendsFetcher backends = [] {
    return Result<std::string>(R"({"backends": [
      {"appId": "/web", "requestRate": 30}, {"appId": "/web", "requestRate": 10},
      {"appId": "/other", "requestRate": 500}, {"appId": 3}, {"requestRate": "x"}, 9]})");
  };
  CpuSampler sampler;
  RunAutoscaleRound(*core_, sampler, no_statistics, backends);
  ASSERT_EQ(Events("autoscale_event").size(), 1u);
  json event = Events("autoscale_event")[0];
  EXPECT_EQ(event["requestsPerSecond"], 20) << "40 requests/s over 2 instances";
  EXPECT_EQ(event["to"], 4);
  // Once the scale is done: without a balancer there is no figure, and nothing changes.
  core_->Offers({MakeOffer("a2")});
  ASSERT_EQ(actions_->launched.size(), 4u);
  for (size_t i = 2; i < 4; ++i) Status(actions_->launched[i].task_id, TaskState::kRunning);
  RunAutoscaleRound(*core_, sampler, no_statistics, nullptr);
  EXPECT_EQ(Events("autoscale_event").size(), 1u);
  auto view = core_->ViewApp(PathId::Parse("/web"));
  ASSERT_TRUE(view && view->autoscale);
  EXPECT_FALSE(view->autoscale->measured.has_value());
}

}  // namespace
}  // namespace stoa::service

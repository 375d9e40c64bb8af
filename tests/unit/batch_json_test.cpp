// Metronome's job and schedule JSON: its documented examples are accepted and
// rendered as Metronome renders them, every invalid field is refused with its
// path, and malformed bodies give errors, never exceptions.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "frameworks/batch/job_json.hpp"

namespace stoa::batch {
namespace {

using nlohmann::json;

// Metronome's v1/examples/job.json with "docker" and "artifacts" removed.
const char* kExampleJob = R"({
  "description": "Example Application",
  "id": "prod.example.app",
  "labels": {
    "location": "olympus",
    "owner": "zeus"
  },
  "schedules": [],
  "run": {
    "cmd": "nuke --dry --master local",
    "cpus": 1.5,
    "mem": 32,
    "disk": 128,
    "env": {
      "MON": "test",
      "CONNECT": "direct"
    },
    "maxLaunchDelay": 3600,
    "networks": [{
      "name": "calico",
      "mode": "container"
    }],
    "placement": {
      "constraints": [
        {
          "attribute": "rack",
          "operator": "EQ",
          "value": "rack-2"
        }
      ]
    },
    "restart": {
      "activeDeadlineSeconds": 120,
      "policy": "NEVER"
    },
    "user": "root",
    "volumes": [
      {
        "containerPath": "/mnt/test",
        "hostPath": "/etc/guest",
        "mode": "RW"
      }
    ]
  }
})";

// Metronome's v1/examples/schedule.json.
const char* kExampleSchedule = R"({
  "id": "everyminute",
  "cron": "* * * * *",
  "concurrencyPolicy": "ALLOW",
  "enabled": true,
  "startingDeadlineSeconds": 60,
  "timezone": "America/Chicago"
})";

// The properties of "run" in Metronome's jobspec.schema.json.
const std::set<std::string> kSchemaRunProperties = {
    "args",           "artifacts", "cmd",       "cpus",   "gpus",
    "disk",           "networks",  "ucr",       "docker", "env",
    "maxLaunchDelay", "mem",       "placement", "user",   "taskKillGracePeriodSeconds",
    "restart",        "volumes",   "secrets"};
const std::set<std::string> kSchemaJobProperties = {"id",     "description", "dependencies",
                                                    "labels", "schedules",   "run"};

json Example() { return json::parse(kExampleJob); }
json Minimal() { return {{"id", "a"}, {"run", {{"cmd", "true"}}}}; }

// The errors of a job body that must be refused.
std::vector<JsonError> JobErrors(const json& body) {
  auto parsed = ParseJobWithSchedules(body);
  EXPECT_FALSE(parsed.ok()) << body.dump();
  return parsed.errors();
}

std::vector<JsonError> ScheduleErrors(const json& body, const ScheduleChecks& checks = {}) {
  auto parsed = ParseScheduleSpec(body, checks);
  EXPECT_FALSE(parsed.ok()) << body.dump();
  return parsed.errors();
}

// Whether an error at `path` contains `text`.
::testing::AssertionResult HasError(const std::vector<JsonError>& errors, const std::string& path,
                                    const std::string& text) {
  for (const JsonError& error : errors) {
    if (error.path != path) continue;
    for (const std::string& message : error.errors) {
      if (message.find(text) != std::string::npos) return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no error at " << path << " containing \"" << text
                                       << "\"; got: " << ErrorSummary(errors);
}

// The minimal job with one run field set.
json WithRun(const std::string& field, const json& value) {
  json body = Minimal();
  body["run"][field] = value;
  return body;
}

TEST(BatchJsonTest, AcceptsMetronomesExampleJob) {
  auto parsed = ParseJobWithSchedules(Example());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const JobSpec& job = parsed->job;
  EXPECT_TRUE(parsed->schedules.empty());
  EXPECT_EQ(job.id, "prod.example.app");
  EXPECT_EQ(job.description, "Example Application");
  EXPECT_EQ(job.labels,
            (std::map<std::string, std::string>{{"location", "olympus"}, {"owner", "zeus"}}));
  EXPECT_EQ(job.run.cmd, "nuke --dry --master local");
  EXPECT_DOUBLE_EQ(job.run.cpus, 1.5);
  EXPECT_DOUBLE_EQ(job.run.mem, 32);
  EXPECT_DOUBLE_EQ(job.run.disk, 128);
  EXPECT_EQ(job.run.env.at("MON"), "test");
  EXPECT_EQ(job.run.max_launch_delay_seconds, 3600);
  EXPECT_EQ(job.run.user, "root");
  EXPECT_EQ(job.run.restart_policy, RestartPolicy::kNever);
  EXPECT_EQ(job.run.active_deadline_seconds, 120);
  // EQ is Metronome's synonym of IS.
  EXPECT_EQ(job.run.constraints, (std::vector<JobConstraint>{{"rack", "IS", "rack-2"}}));
  EXPECT_EQ(job.run.volumes, (std::vector<JobVolume>{{"/mnt/test", "/etc/guest", "RW"}}));
  // The container network is kept as given, and noted: tasks use the host's network.
  EXPECT_EQ(job.run.networks, (std::vector<JobNetwork>{{"calico", "container", {}}}));
  ASSERT_EQ(parsed.notes().size(), 1u);
  EXPECT_EQ(parsed.notes()[0].path, "/run/networks/0");
  EXPECT_NE(parsed.notes()[0].errors.at(0).find("host's network"), std::string::npos);
}

TEST(BatchJsonTest, RendersTheExampleAsMetronomeDoes) {
  auto parsed = ParseJobSpec(Example());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  json rendered = RenderJobSpec(*parsed);
  json expected = json::parse(R"({
    "id": "prod.example.app",
    "description": "Example Application",
    "dependencies": [],
    "labels": {"location": "olympus", "owner": "zeus"},
    "run": {
      "cmd": "nuke --dry --master local",
      "cpus": 1.5, "mem": 32, "disk": 128, "gpus": 0,
      "env": {"MON": "test", "CONNECT": "direct"},
      "placement": {"constraints": [{"attribute": "rack", "operator": "IS", "value": "rack-2"}]},
      "artifacts": [],
      "maxLaunchDelay": 3600,
      "volumes": [{"containerPath": "/mnt/test", "hostPath": "/etc/guest", "mode": "RW"}],
      "restart": {"policy": "NEVER", "activeDeadlineSeconds": 120},
      "secrets": {},
      "networks": [{"name": "calico", "mode": "container"}],
      "user": "root"
    }
  })");
  EXPECT_EQ(rendered, expected) << rendered.dump(2);
  // Whole numbers are rendered without a fraction, as Metronome does.
  EXPECT_TRUE(rendered["run"]["mem"].is_number_integer());
  // The rendering parses back to the same job.
  auto again = ParseJobSpec(rendered);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(*again, *parsed);
  EXPECT_EQ(RenderJobSpec(*again), rendered);
}

TEST(BatchJsonTest, RendersOnlySchemaFieldsWithoutExtensions) {
  for (const json& body : {Example(), Minimal()}) {
    auto parsed = ParseJobSpec(body);
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    json rendered = RenderJobSpec(*parsed);
    for (const auto& [key, value] : rendered.items()) {
      EXPECT_TRUE(kSchemaJobProperties.count(key)) << key;
    }
    for (const auto& [key, value] : rendered["run"].items()) {
      EXPECT_TRUE(kSchemaRunProperties.count(key)) << key;
    }
  }
}

TEST(BatchJsonTest, RendersMetronomesDefaults) {
  auto parsed = ParseJobSpec(Minimal());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  json rendered = RenderJobSpec(*parsed);
  EXPECT_EQ(rendered, json::parse(R"({
    "id": "a", "dependencies": [], "labels": {},
    "run": {"cmd": "true", "cpus": 1, "mem": 128, "disk": 0, "gpus": 0, "env": {},
            "placement": {"constraints": []}, "artifacts": [], "maxLaunchDelay": 3600,
            "volumes": [], "restart": {"policy": "NEVER"}, "secrets": {}, "networks": []}
  })"))
      << rendered.dump(2);
}

TEST(BatchJsonTest, ExtensionsAreRenderedOnlyWhenSet) {
  json body = Minimal();
  body["run"].update({{"completions", 5},
                      {"parallelism", 2},
                      {"backoffLimit", 0},
                      {"indexed", true},
                      {"rootfs", "/var/lib/stoa/images/alpine.tar"}});
  auto parsed = ParseJobSpec(body);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->run.completions, 5);
  EXPECT_EQ(parsed->run.parallelism, 2);
  EXPECT_EQ(parsed->run.backoff_limit, 0);
  EXPECT_TRUE(parsed->run.indexed);
  EXPECT_EQ(parsed->run.rootfs, "/var/lib/stoa/images/alpine.tar");
  json run = RenderJobSpec(*parsed)["run"];
  EXPECT_EQ(run["completions"], 5);
  EXPECT_EQ(run["parallelism"], 2);
  EXPECT_EQ(run["backoffLimit"], 0);
  EXPECT_EQ(run["indexed"], true);
  EXPECT_EQ(run["rootfs"], "/var/lib/stoa/images/alpine.tar");
  auto again = ParseJobSpec(RenderJobSpec(*parsed));
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(*again, *parsed);

  json plain = RenderJobSpec(*ParseJobSpec(Minimal()))["run"];
  for (const char* name : {"completions", "parallelism", "backoffLimit", "indexed", "rootfs"}) {
    EXPECT_FALSE(plain.contains(name)) << name;
  }
}

TEST(BatchJsonTest, OptionalFieldsRoundTrip) {
  json body = Minimal();
  body["run"].erase("cmd");
  body["run"].update({{"args", {"/bin/echo", "hi"}},
                      {"taskKillGracePeriodSeconds", 10},
                      {"restart", {{"policy", "ON_FAILURE"}}},
                      {"placement",
                       {{"constraints",
                         {{{"attribute", "hostname"}, {"operator", "LIKE"}, {"value", "a.*"}},
                          {{"attribute", "rack"}, {"operator", "UNLIKE"}, {"value", "r[12]"}}}}}},
                      {"networks", {{{"mode", "host"}}}}});
  auto parsed = ParseJobSpec(body);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->run.args, (std::vector<std::string>{"/bin/echo", "hi"}));
  EXPECT_EQ(parsed->run.task_kill_grace_period_seconds, 10);
  EXPECT_EQ(parsed->run.restart_policy, RestartPolicy::kOnFailure);
  EXPECT_TRUE(parsed.notes().empty());  // a host network is what Stoa's tasks use
  json rendered = RenderJobSpec(*parsed);
  EXPECT_FALSE(rendered["run"].contains("cmd"));
  EXPECT_EQ(rendered["run"]["networks"], json::parse(R"([{"mode": "host"}])"));
  EXPECT_EQ(rendered["run"]["restart"], json::parse(R"({"policy": "ON_FAILURE"})"));
  auto again = ParseJobSpec(rendered);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(*again, *parsed);
}

TEST(BatchJsonTest, DependenciesAreObjectsWithAnId) {
  json body = Minimal();
  body["dependencies"] = json::parse(R"([{"id": "prod.a"}, {"id": "b"}])");
  auto parsed = ParseJobSpec(body);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->dependencies, (std::vector<std::string>{"prod.a", "b"}));
  EXPECT_EQ(RenderJobSpec(*parsed)["dependencies"], body["dependencies"]);

  body["dependencies"] = json::parse(R"(["prod.a"])");
  EXPECT_TRUE(HasError(JobErrors(body), "/dependencies/0", "Expected object, was string"));
  body["dependencies"] = json::parse(R"([{"id": "a"}, {"id": "a"}])");
  EXPECT_TRUE(HasError(JobErrors(body), "/dependencies", "has double entries: 'a'"));
  body["dependencies"] = json::parse(R"([{"id": "A"}])");
  EXPECT_TRUE(HasError(JobErrors(body), "/dependencies/0/id", "not a valid job id"));
  body["dependencies"] = json::parse(R"([{}])");
  EXPECT_TRUE(HasError(JobErrors(body), "/dependencies/0/id", "Property id missing."));
}

TEST(BatchJsonTest, EmbeddedSchedules) {
  json body = Minimal();
  body["schedules"] = json::array({json::parse(kExampleSchedule)});
  auto parsed = ParseJobWithSchedules(body);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ASSERT_EQ(parsed->schedules.size(), 1u);
  EXPECT_EQ(parsed->schedules[0].id, "everyminute");
  // PUT /v1/jobs/{id}: checked, then dropped.
  ASSERT_TRUE(ParseJobSpec(body).ok());
  EXPECT_FALSE(RenderJobSpec(*ParseJobSpec(body)).contains("schedules"));

  // The job schema's path type: one character and dots are fine here.
  body["schedules"][0]["id"] = "a.b";
  EXPECT_TRUE(ParseJobWithSchedules(body).ok());

  body["schedules"][0]["id"] = "A";
  EXPECT_TRUE(HasError(JobErrors(body), "/schedules/0/id", "not a valid schedule id"));
  body["schedules"][0]["id"] = "a";
  body["schedules"][0]["concurrencyPolicy"] = "SOMETIMES";
  EXPECT_TRUE(HasError(JobErrors(body), "/schedules/0/concurrencyPolicy",
                       "is not a valid concurrency policy"));
  EXPECT_FALSE(ParseJobSpec(body).ok());  // checked for PUT as well

  body["schedules"] = json::array({json::parse(kExampleSchedule), json::parse(kExampleSchedule)});
  EXPECT_TRUE(HasError(JobErrors(body), "/schedules", "a job has one at most"));

  body["schedules"] = json::array({json::parse(kExampleSchedule)});
  body["dependencies"] = json::parse(R"([{"id": "b"}])");
  EXPECT_TRUE(HasError(JobErrors(body), "/",
                       "Jobs may not have both dependencies and schedules specified"));

  body = Minimal();
  body["schedules"] = json::object();
  EXPECT_TRUE(HasError(JobErrors(body), "/schedules", "Expected array, was object"));
}

TEST(BatchJsonTest, RefusesInvalidIds) {
  for (const char* id : {"Prod", "a.", ".a", "-a", "a-", "a..b", "a_b", "a/b", ""}) {
    json body = Minimal();
    body["id"] = id;
    EXPECT_TRUE(HasError(JobErrors(body), "/id", "is not a valid job id")) << id;
  }
  for (const char* id : {"a", "a-a", "a--a", "a1.b-2.c", "0"}) {
    json body = Minimal();
    body["id"] = id;
    EXPECT_TRUE(ParseJobSpec(body).ok()) << id;
  }
  json body = Minimal();
  body["id"] = 5;
  EXPECT_TRUE(HasError(JobErrors(body), "/id", "Wrong type. Expected string, was number."));
  body.erase("id");
  EXPECT_TRUE(HasError(JobErrors(body), "/id", "Property id missing."));
  body = Minimal();
  body.erase("run");
  EXPECT_TRUE(HasError(JobErrors(body), "/run", "Property run missing."));
}

TEST(BatchJsonTest, RefusesResourcesBelowMetronomesMinimums) {
  EXPECT_TRUE(HasError(JobErrors(WithRun("cpus", 0.001)), "/run/cpus",
                       "0.001 is smaller than required minimum value of 0.01."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("mem", 16)), "/run/mem",
                       "16 is smaller than required minimum value of 32."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("disk", -1)), "/run/disk",
                       "-1 is smaller than required minimum value of 0."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("gpus", -1)), "/run/gpus",
                       "-1 is smaller than required minimum value of 0."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("gpus", 1.5)), "/run/gpus",
                       "Wrong type. Expected integer, was number."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("maxLaunchDelay", 0)), "/run/maxLaunchDelay",
                       "0 is smaller than required minimum value of 1."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("taskKillGracePeriodSeconds", -1)),
                       "/run/taskKillGracePeriodSeconds", "smaller than required minimum"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("cpus", "1")), "/run/cpus",
                       "Wrong type. Expected number, was string."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("maxLaunchDelay", json::parse("18446744073709551615"))),
                       "/run/maxLaunchDelay", "is too large"));
  // Whole numbers written with a fraction are integers, as in JSON Schema.
  EXPECT_TRUE(ParseJobSpec(WithRun("maxLaunchDelay", 60.0)).ok());
}

TEST(BatchJsonTest, RefusesWhatStoaCannotRun) {
  EXPECT_TRUE(HasError(JobErrors(WithRun("docker", {{"image", "foo/bla:test"}})), "/run/docker",
                       "Stoa runs no container images"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("docker", {{"image", "foo/bla:test"}})), "/run/docker",
                       "run.rootfs"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("ucr", {{"image", {{"id", "alpine"}}}})), "/run/ucr",
                       "Stoa runs no container images"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("artifacts", json::parse(R"([{"uri": "http://x/a"}])"))),
                       "/run/artifacts", "Stoa has no fetcher yet"));
  EXPECT_TRUE(ParseJobSpec(WithRun("artifacts", json::array())).ok());
  EXPECT_TRUE(HasError(JobErrors(WithRun("secrets", {{"s", {{"source", "db"}}}})), "/run/secrets",
                       "Stoa has no secret store yet"));
  EXPECT_TRUE(ParseJobSpec(WithRun("secrets", json::object())).ok());
  EXPECT_TRUE(HasError(JobErrors(WithRun("env", {{"DB", {{"secret", "db"}}}})), "/run/env/DB",
                       "Stoa has no secret store yet"));
  EXPECT_TRUE(
      HasError(JobErrors(WithRun("gpus", 2)), "/run/gpus", "Stoa does not schedule GPUs yet"));
  EXPECT_TRUE(ParseJobSpec(WithRun("gpus", 0)).ok());
  json secret_volume = json::parse(R"([{"containerPath": "/s", "secret": "db"}])");
  EXPECT_TRUE(HasError(JobErrors(WithRun("volumes", secret_volume)), "/run/volumes/0/secret",
                       "Stoa has no secret store yet"));
}

TEST(BatchJsonTest, RequiresSomethingToRun) {
  json body = Minimal();
  body["run"].erase("cmd");
  EXPECT_TRUE(HasError(JobErrors(body), "/run", "Cmd or args must be specified."));
  body["run"]["args"] = json::array();
  EXPECT_TRUE(HasError(JobErrors(body), "/run", "Cmd or args must be specified."));
  EXPECT_TRUE(
      HasError(JobErrors(WithRun("args", {"echo"})), "/run", "Give either cmd or args, not both."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("cmd", "")), "/run/cmd",
                       "'' does not match minimum length of 1."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("args", {"echo", 1})), "/run/args/1",
                       "Expected string, was number"));
}

TEST(BatchJsonTest, RefusesInvalidRestart) {
  EXPECT_TRUE(
      HasError(JobErrors(WithRun("restart", {{"policy", "ALWAYS"}})), "/run/restart/policy",
               "'ALWAYS' is not a valid restart policy. Allowed values: NEVER, ON_FAILURE"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("restart", {{"activeDeadlineSeconds", 10}})),
                       "/run/restart/policy", "Property policy missing."));
  EXPECT_TRUE(
      HasError(JobErrors(WithRun("restart", {{"policy", "NEVER"}, {"activeDeadlineSeconds", -1}})),
               "/run/restart/activeDeadlineSeconds", "smaller than required minimum value of 0"));
  EXPECT_TRUE(HasError(
      JobErrors(WithRun("restart", {{"policy", "NEVER"}, {"activeDeadlineSeconds", "1h"}})),
      "/run/restart/activeDeadlineSeconds", "Expected integer, was string"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("restart", {{"policy", "NEVER"}, {"limit", 3}})),
                       "/run/restart", "found properties 'limit'"));
}

TEST(BatchJsonTest, RefusesInvalidConstraints) {
  auto constraint = [](const json& c) {
    return WithRun("placement", {{"constraints", json::array({c})}});
  };
  const std::string at = "/run/placement/constraints/0";
  EXPECT_TRUE(HasError(
      JobErrors(constraint({{"attribute", "rack"}, {"operator", "GT"}, {"value", "1"}})),
      at + "/operator", "'GT' is not a valid operator. Allowed values: IS, EQ, LIKE, UNLIKE"));
  EXPECT_TRUE(HasError(
      JobErrors(constraint({{"attribute", "rack"}, {"operator", "LIKE"}, {"value", "r[1"}})),
      at + "/value", "'r[1' is not a valid regular expression"));
  EXPECT_TRUE(HasError(
      JobErrors(constraint({{"attribute", "rack"}, {"operator", "UNLIKE"}, {"value", "(a"}})),
      at + "/value", "is not a valid regular expression"));
  EXPECT_TRUE(HasError(
      JobErrors(constraint(
          {{"attribute", "rack"}, {"operator", "LIKE"}, {"value", std::string(2000, 'a')}})),
      at + "/value", "longer than 1000 characters"));
  EXPECT_TRUE(HasError(JobErrors(constraint({{"attribute", "rack"}, {"operator", "IS"}})),
                       at + "/value", "Property value missing"));
  EXPECT_TRUE(HasError(JobErrors(constraint({{"operator", "IS"}, {"value", "x"}})),
                       at + "/attribute", "Property attribute missing."));
  EXPECT_TRUE(HasError(
      JobErrors(constraint({{"attribute", "r"}, {"operator", "IS"}, {"value", "x"}, {"x", 1}})), at,
      "Additional properties are not allowed, but found properties 'x'."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("placement", {{"constraints", "rack:IS:1"}})),
                       "/run/placement/constraints", "Expected array, was string"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("placement", {{"rules", json::array()}})),
                       "/run/placement", "found properties 'rules'"));
  EXPECT_TRUE(HasError(JobErrors(constraint("rack")), at, "Expected object, was string"));
}

TEST(BatchJsonTest, RefusesInvalidVolumes) {
  auto volume = [](const json& v) { return WithRun("volumes", json::array({v})); };
  const std::string at = "/run/volumes/0";
  EXPECT_TRUE(
      HasError(JobErrors(volume({{"containerPath", "/a"}, {"hostPath", "/b"}, {"mode", "RX"}})),
               at + "/mode", "'RX' is not a valid mode. Allowed values: RO, RW"));
  EXPECT_TRUE(HasError(JobErrors(volume({{"containerPath", "/a"}, {"mode", "RO"}})),
                       at + "/hostPath", "Property hostPath missing."));
  EXPECT_TRUE(
      HasError(JobErrors(volume({{"containerPath", ""}, {"hostPath", "/b"}, {"mode", "RO"}})),
               at + "/containerPath", "minimum length of 1"));
  EXPECT_TRUE(HasError(
      JobErrors(volume({{"containerPath", "/a"}, {"hostPath", "/b"}, {"mode", "RO"}, {"x", 1}})),
      at, "found properties 'x'"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("volumes", {{"containerPath", "/a"}})), "/run/volumes",
                       "Expected array, was object"));
}

TEST(BatchJsonTest, RefusesInvalidNetworks) {
  auto networks = [](const char* text) { return WithRun("networks", json::parse(text)); };
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"mode": "host", "name": "x"}])")),
                       "/run/networks/0/name", "must be empty for host network"));
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"mode": "host", "labels": {"a": "b"}}])")),
                       "/run/networks/0/labels", "must be empty for host network"));
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"mode": "container/bridge", "name": "x"}])")),
                       "/run/networks/0/name", "must be empty for container/bridge networks"));
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"mode": "container"}])")), "/run/networks/0/name",
                       "must not be empty for container networks"));
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"mode": "overlay"}])")), "/run/networks/0/mode",
                       "'overlay' is not a valid network mode"));
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"name": "x"}])")), "/run/networks/0/mode",
                       "Property mode missing."));
  EXPECT_TRUE(HasError(
      JobErrors(networks(R"([{"mode": "container", "name": "a"}, {"mode": "host"}])")),
      "/run/networks", "You may not mix host, container, or container/bridge networking."));
  EXPECT_TRUE(HasError(JobErrors(networks(R"([{"mode": "host"}, {"mode": "host"}])")),
                       "/run/networks", "Only one host or container/bridge network"));
  EXPECT_TRUE(HasError(
      JobErrors(
          networks(R"([{"mode": "container", "name": "a"}, {"mode": "container", "name": "a"}])")),
      "/run/networks", "network names must be unique"));
  auto two = ParseJobSpec(networks(R"([{"mode": "container", "name": "a", "labels": {"k": "v"}},
                   {"mode": "container", "name": "b"}])"));
  ASSERT_TRUE(two.ok()) << two.error();
  EXPECT_EQ(two.notes().size(), 2u);
  EXPECT_EQ(RenderJobSpec(*two)["run"]["networks"][0]["labels"], json({{"k", "v"}}));
}

TEST(BatchJsonTest, RefusesInvalidEnvAndLabels) {
  EXPECT_TRUE(HasError(JobErrors(WithRun("env", {{"N", 5}})), "/run/env/N",
                       "Wrong type. Expected string, was number."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("env", {"A=b"})), "/run/env",
                       "Wrong type. Expected object, was array."));
  json body = Minimal();
  body["labels"] = {{"owner", true}};
  EXPECT_TRUE(HasError(JobErrors(body), "/labels/owner", "Expected string, was boolean"));
}

TEST(BatchJsonTest, RefusesInvalidExtensions) {
  EXPECT_TRUE(HasError(JobErrors(WithRun("completions", 0)), "/run/completions",
                       "0 is smaller than required minimum value of 1."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("parallelism", 0)), "/run/parallelism",
                       "0 is smaller than required minimum value of 1."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("backoffLimit", -1)), "/run/backoffLimit",
                       "-1 is smaller than required minimum value of 0."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("indexed", "yes")), "/run/indexed",
                       "Wrong type. Expected boolean, was string."));
  EXPECT_TRUE(HasError(JobErrors(WithRun("rootfs", "")), "/run/rootfs", "minimum length of 1"));
  EXPECT_TRUE(HasError(JobErrors(WithRun("completions", 2.5)), "/run/completions",
                       "Expected integer, was number"));
}

TEST(BatchJsonTest, RefusesUnknownFields) {
  EXPECT_TRUE(HasError(JobErrors(WithRun("instances", 3)), "/run",
                       "Additional properties are not allowed, but found properties 'instances'."));
  json body = Minimal();
  body["activeRuns"] = json::array();
  body["history"] = json::object();
  EXPECT_TRUE(HasError(JobErrors(body), "/",
                       "Additional properties are not allowed, but found properties 'activeRuns' "
                       "and 'history'."));
}

TEST(BatchJsonTest, CollectsEveryError) {
  json body = {{"id", "Bad"}, {"run", {{"cpus", 0}, {"mem", 1}, {"docker", {{"image", "x"}}}}}};
  auto errors = JobErrors(body);
  EXPECT_TRUE(HasError(errors, "/id", "not a valid job id"));
  EXPECT_TRUE(HasError(errors, "/run/cpus", "minimum value of 0.01"));
  EXPECT_TRUE(HasError(errors, "/run/mem", "minimum value of 32"));
  EXPECT_TRUE(HasError(errors, "/run/docker", "container images"));
  EXPECT_EQ(errors.size(), 4u);

  // Two problems of one field share its entry.
  auto restart = JobErrors(WithRun("restart", {{"x", 1}}));
  ASSERT_EQ(restart.size(), 2u);
  EXPECT_EQ(restart[0].path, "/run/restart");
  EXPECT_EQ(restart[1].path, "/run/restart/policy");
}

TEST(BatchJsonTest, MalformedBodiesGiveErrorsNotExceptions) {
  EXPECT_TRUE(HasError(JobErrors(json::array()), "/", "Expected object, was array"));
  EXPECT_TRUE(HasError(JobErrors("job"), "/", "Expected object, was string"));
  EXPECT_TRUE(HasError(JobErrors(json()), "/", "Expected object, was null"));
  json body = Minimal();
  body["run"] = json::array({1});
  EXPECT_TRUE(HasError(JobErrors(body), "/run", "Wrong type. Expected object, was array."));
  EXPECT_TRUE(HasError(ScheduleErrors(json::array()), "/", "Expected object, was array"));

  // Each field of the example, and of a schedule, given each wrong type.
  const std::vector<json> wrong = {
      "text", 7, -1.5, true, json::array({1, "a"}), json::object({{"k", json::array()}})};
  json example = Example();
  example["dependencies"] = json::parse(R"([{"id": "b"}])");
  example.erase("schedules");
  std::vector<std::vector<std::string>> paths = {{"id"},           {"description"}, {"labels"},
                                                 {"dependencies"}, {"schedules"},   {"run"}};
  for (const auto& [key, value] : example["run"].items()) paths.push_back({"run", key});
  for (const char* key :
       {"args", "docker", "ucr", "artifacts", "secrets", "gpus", "taskKillGracePeriodSeconds",
        "completions", "parallelism", "backoffLimit", "indexed", "rootfs"}) {
    paths.push_back({"run", key});
  }
  paths.push_back({"run", "placement", "constraints"});
  paths.push_back({"run", "restart", "policy"});
  paths.push_back({"run", "restart", "activeDeadlineSeconds"});
  size_t refused = 0;
  for (const auto& path : paths) {
    for (const json& value : wrong) {
      json body = example;
      json* at = &body;
      for (size_t i = 0; i + 1 < path.size(); ++i) at = &(*at)[path[i]];
      (*at)[path.back()] = value;
      EXPECT_NO_THROW({
        auto parsed = ParseJobWithSchedules(body);
        if (!parsed.ok()) {
          ++refused;
          EXPECT_FALSE(parsed.errors().empty());
          ErrorBody(parsed.errors()).dump();
        } else {
          RenderJobSpec(parsed->job).dump();
        }
      }) << body.dump();
    }
  }
  EXPECT_GT(refused, paths.size() * 4);
  for (const char* key :
       {"id", "cron", "timezone", "startingDeadlineSeconds", "concurrencyPolicy", "enabled"}) {
    for (const json& value : wrong) {
      json schedule = json::parse(kExampleSchedule);
      schedule[key] = value;
      EXPECT_NO_THROW({
        auto parsed = ParseScheduleSpec(schedule);
        if (!parsed.ok()) {
          ++refused;
          EXPECT_FALSE(parsed.errors().empty());
        }
      }) << schedule.dump();
    }
  }
  EXPECT_GT(refused, paths.size() * 4 + size_t{24});  // of the schedule fields too
}

TEST(BatchJsonTest, ErrorBodyIsMetronomes) {
  auto parsed = ParseJobSpec(WithRun("mem", 16));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(ErrorBody(parsed.errors()), json::parse(R"({
    "message": "Object is not valid",
    "details": [{"path": "/run/mem",
                 "errors": ["16 is smaller than required minimum value of 32."]}]
  })"));
  EXPECT_EQ(parsed.error(), "/run/mem: 16 is smaller than required minimum value of 32.");
  EXPECT_FALSE(parsed.status().ok());
  EXPECT_EQ(parsed.status().message(), parsed.error());
}

TEST(BatchJsonTest, AcceptsMetronomesExampleSchedule) {
  auto parsed = ParseScheduleSpec(json::parse(kExampleSchedule));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, (ScheduleSpec{"everyminute", "* * * * *", "America/Chicago", 60,
                                   ConcurrencyPolicy::kAllow, true}));
  EXPECT_EQ(RenderScheduleSpec(*parsed), json::parse(kExampleSchedule));

  // Metronome's defaults; fields it does not know (nextRunAt) are ignored.
  auto minimal = ParseScheduleSpec(json::parse(
      R"({"id": "nightly", "cron": "0 3 * * *", "nextRunAt": "2016-07-15T13:03:00.000+0000"})"));
  ASSERT_TRUE(minimal.ok()) << minimal.error();
  EXPECT_EQ(RenderScheduleSpec(*minimal), json::parse(R"({
    "id": "nightly", "cron": "0 3 * * *", "timezone": "UTC", "startingDeadlineSeconds": 900,
    "concurrencyPolicy": "ALLOW", "enabled": true})"));

  // REPLACE is Stoa's extension.
  json replace = json::parse(kExampleSchedule);
  replace["concurrencyPolicy"] = "REPLACE";
  replace["enabled"] = false;
  auto replaced = ParseScheduleSpec(replace);
  ASSERT_TRUE(replaced.ok()) << replaced.error();
  EXPECT_EQ(replaced->concurrency_policy, ConcurrencyPolicy::kReplace);
  EXPECT_EQ(RenderScheduleSpec(*replaced), replace);
}

TEST(BatchJsonTest, RefusesInvalidSchedules) {
  auto with = [](const char* field, const json& value) {
    json schedule = json::parse(kExampleSchedule);
    schedule[field] = value;
    return schedule;
  };
  // The schedule schema's id: no dots, two characters at least.
  for (const char* id : {"a", "every.minute", "Every", "-ab", "ab-", ""}) {
    EXPECT_TRUE(HasError(ScheduleErrors(with("id", id)), "/id", "is not a valid schedule id"))
        << id;
  }
  EXPECT_TRUE(ParseScheduleSpec(with("id", "a--b")).ok());
  json missing = json::parse(kExampleSchedule);
  missing.erase("cron");
  missing.erase("id");
  auto errors = ScheduleErrors(missing);
  EXPECT_TRUE(HasError(errors, "/cron", "Property cron missing."));
  EXPECT_TRUE(HasError(errors, "/id", "Property id missing."));
  EXPECT_TRUE(HasError(ScheduleErrors(with("cron", "")), "/cron", "minimum length of 1"));
  EXPECT_TRUE(HasError(ScheduleErrors(with("cron", 5)), "/cron", "Expected string, was number"));
  EXPECT_TRUE(HasError(ScheduleErrors(with("timezone", "")), "/timezone", "minimum length"));
  EXPECT_TRUE(HasError(ScheduleErrors(with("startingDeadlineSeconds", 0)),
                       "/startingDeadlineSeconds",
                       "0 is smaller than required minimum value of 1."));
  EXPECT_TRUE(HasError(ScheduleErrors(with("startingDeadlineSeconds", 1.5)),
                       "/startingDeadlineSeconds", "Expected integer, was number"));
  EXPECT_TRUE(HasError(ScheduleErrors(with("concurrencyPolicy", "NEVER")), "/concurrencyPolicy",
                       "'NEVER' is not a valid concurrency policy. Allowed values: ALLOW, FORBID, "
                       "REPLACE"));
  EXPECT_TRUE(HasError(ScheduleErrors(with("enabled", "true")), "/enabled",
                       "Expected boolean, was string"));
}

TEST(BatchJsonTest, ScheduleChecksReportTheCallersErrors) {
  ScheduleChecks checks;
  checks.cron = [](const std::string& cron) {
    return cron == "* * * * *" ? "" : "'" + cron + "' is not a cron expression";
  };
  checks.timezone = [](const std::string& zone) {
    return zone == "Mars/Olympus" ? "no time zone named Mars/Olympus" : "";
  };
  EXPECT_TRUE(ParseScheduleSpec(json::parse(kExampleSchedule), checks).ok());
  json schedule = json::parse(kExampleSchedule);
  schedule["cron"] = "every minute";
  schedule["timezone"] = "Mars/Olympus";
  auto errors = ScheduleErrors(schedule, checks);
  EXPECT_TRUE(HasError(errors, "/cron", "'every minute' is not a cron expression"));
  EXPECT_TRUE(HasError(errors, "/timezone", "no time zone named Mars/Olympus"));

  json job = Minimal();
  job["schedules"] = json::array({schedule});
  auto parsed = ParseJobWithSchedules(job, checks);
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(HasError(parsed.errors(), "/schedules/0/cron", "is not a cron expression"));
}

}  // namespace
}  // namespace stoa::batch

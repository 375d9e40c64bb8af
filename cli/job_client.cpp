#include "cli/job_client.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>

namespace stoa::cli {

using json = nlohmann::json;

const FrameworkApi kBatchApi = {
    "batch framework",
    "--batch",
    "STOA_BATCH",
    kDefaultBatchUrl,
    9000,
    "start one with `stoa up` or `stoa batch --master=HOST:PORT --http_port=9000`",
    DescribeJobRefusal};

std::string JobPath(const std::string& id) { return "/v1/jobs/" + PercentEncode(id); }

std::string RunPath(const std::string& id, const std::string& run_id) {
  return JobPath(id) + "/runs/" + PercentEncode(run_id);
}

std::string DescribeJobRefusal(const HttpReply& reply) {
  std::string text = DescribeRefusal(reply);
  json body = json::parse(reply.body, nullptr, false);
  std::string message = body.is_object() ? body.value("message", "") : "";
  if (reply.status == 409 && message.find("stopCurrentJobRuns") != std::string::npos) {
    text += "\n  pass --stop-runs to stop them and remove the job";
  } else if (reply.status == 409 && message.find("dependency on") != std::string::npos) {
    text += "\n  remove those jobs first, or take this one out of their dependencies";
  } else if (reply.status == 404 && message.rfind("Job '", 0) == 0) {
    text += "\n  `stoa job list` lists the jobs there are";
  } else if (reply.status == 404 && message.rfind("JobRun '", 0) == 0) {
    text += "\n  `stoa job history ID` lists the job's finished runs";
  }
  return text;
}

json RunsNewestFirst(const json& job) {
  json runs = json::array();
  for (const auto& run : job.value("activeRuns", json::array())) runs.push_back(run);
  const json history = job.value("history", json::object());
  const std::pair<const char*, const char*> kinds[] = {{"successfulFinishedRuns", "SUCCESS"},
                                                       {"failedFinishedRuns", "FAILED"}};
  for (const auto& [key, status] : kinds) {
    for (json run : history.value(key, json::array())) {
      run["status"] = status;
      run["tasks"] = run.value("taskDetails", json::array());
      runs.push_back(std::move(run));
    }
  }
  std::stable_sort(runs.begin(), runs.end(), [](const json& a, const json& b) {
    return ParseMetronomeTime(a.value("createdAt", "")) >
           ParseMetronomeTime(b.value("createdAt", ""));
  });
  return runs;
}

double ParseMetronomeTime(const std::string& text) {
  std::tm utc{};
  int millis = 0;
  char zone[8] = {};
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%5s", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &millis, zone) != 8 ||
      (zone[0] != '+' && zone[0] != '-')) {
    return -1;
  }
  int offset = std::atoi(zone + 1);
  double offset_seconds = ((offset / 100) * 3600 + (offset % 100) * 60) * (zone[0] == '-' ? -1 : 1);
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return static_cast<double>(timegm(&utc)) + millis / 1000.0 - offset_seconds;
}

}  // namespace stoa::cli

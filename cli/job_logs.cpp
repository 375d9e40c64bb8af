#include "cli/job_logs.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/http_address.hpp"
#include "common/http_server.hpp"

namespace stoa::cli {
namespace {

using json = nlohmann::json;

constexpr int64_t kChunkBytes = 1 << 20;

bool Failed(const json& task) {
  return task.value("completedAt", json()).is_string() &&
         task.value("status", "") != "TASK_FINISHED";
}

std::string Header(const json& task) {
  std::string text = "==> " + task.value("id", "?") + " (" + task.value("status", "?");
  if (task.contains("exitStatus") && task["exitStatus"].is_number()) {
    text += ", exit " + task["exitStatus"].dump();
  }
  text += ")";
  std::string host = task.value("host", "");
  if (!host.empty()) text += " on " + host;
  return text + " <==";
}

// The agent's message in {"error": ...} (or {"message": ...}), else the body.
std::string AgentRefusal(const HttpReply& reply) {
  json body = json::parse(reply.body, nullptr, false);
  std::string why = reply.body.substr(0, 200);
  if (body.is_object()) why = body.value("error", body.value("message", why));
  return why + " (HTTP " + std::to_string(reply.status) + ")";
}

// Writes the task's file to stdout, in chunks; an error when it cannot be read.
Status CopyTaskFile(const json& task, const std::string& file) {
  std::string link = task.value("sandbox", "");
  if (link.empty()) return Status::Error("no sandbox yet (the task has not started on an agent)");
  size_t slash = link.find('/', link.find("://") == std::string::npos ? 0 : link.find("://") + 3);
  if (slash == std::string::npos) return Status::Error("its sandbox link is not a URL: " + link);
  auto agent = ParseHttpAddress(link.substr(0, slash), 80);
  if (!agent.ok()) return Status::Error("its sandbox link " + link + ": " + agent.error());
  std::string target = link.substr(slash);
  // The link names the task's stdout (path=stdout, or path=tasks/<id>/stdout
  // for a task in a group): its other files are beside it.
  if (size_t path = target.find("path="); path != std::string::npos) {
    size_t end = std::min(target.find('&', path), target.size());
    if (end - path >= 11 && target.compare(end - 6, 6, "stdout") == 0) {
      target.replace(end - 6, 6, file);
    }
  }
  for (int64_t offset = 0;;) {
    auto reply = HttpCall(
        "GET", agent->host, agent->port,
        target + "&offset=" + std::to_string(offset) + "&length=" + std::to_string(kChunkBytes));
    if (!reply.ok()) {
      return Status::Error("the agent at " + agent->Url() + " does not answer (" + reply.error() +
                           ")");
    }
    if (reply->status != 200) return Status::Error(AgentRefusal(*reply));
    json chunk = json::parse(reply->body, nullptr, false);
    if (!chunk.is_object() || !chunk.contains("data") || !chunk["data"].is_string()) {
      return Status::Error("the agent at " + agent->Url() + " answered " + file +
                           " without data: " + reply->body.substr(0, 200));
    }
    const std::string& data = chunk["data"].get_ref<const std::string&>();
    std::fwrite(data.data(), 1, data.size(), stdout);
    if (static_cast<int64_t>(data.size()) < kChunkBytes) {
      if (!data.empty() && data.back() != '\n') std::fputc('\n', stdout);
      return Status::Ok();
    }
    offset += static_cast<int64_t>(data.size());
  }
}

}  // namespace

int PrintRunLogs(const json& run, const LogOptions& options) {
  std::vector<json> tasks;
  for (const auto& task : run.value("tasks", json::array())) {
    if (task.is_object()) tasks.push_back(task);
  }
  if (tasks.empty()) {
    std::fprintf(stderr, "%s: the run %s of %s has no tasks yet\n", options.command.c_str(),
                 run.value("id", "?").c_str(), run.value("jobId", "?").c_str());
    return 1;
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const json& a, const json& b) {
    if (Failed(a) != Failed(b)) return Failed(a);
    return a.value("startedAt", "") < b.value("startedAt", "");
  });
  int code = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks.size() > 1) std::printf("%s%s\n", i == 0 ? "" : "\n", Header(tasks[i]).c_str());
    std::fflush(stdout);
    Status copied = CopyTaskFile(tasks[i], options.file);
    std::fflush(stdout);
    if (!copied.ok()) {
      std::fprintf(stderr, "%s: the %s of task %s cannot be read: %s\n", options.command.c_str(),
                   options.file.c_str(), tasks[i].value("id", "?").c_str(),
                   copied.message().c_str());
      code = 1;
    }
  }
  return code;
}

}  // namespace stoa::cli

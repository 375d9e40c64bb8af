#include "frameworks/batch/api.hpp"

#include <nlohmann/json.hpp>

#include "common/logging.hpp"
#include "frameworks/batch/api_json.hpp"
#include "frameworks/batch/job_json.hpp"
#include "frameworks/sdk/http_json.hpp"

namespace stoa::batch {
namespace {

using json = nlohmann::json;
using sdk::JsonBody;
using sdk::JsonResponse;
using sdk::MessageResponse;

// The id part of a route: Metronome's job, run and schedule ids.
constexpr const char* kId = "([^/]+)";

std::string Path(const std::string& tail) { return "/v1/jobs/" + std::string(kId) + tail; }

ScheduleChecks CronChecks() {
  ScheduleChecks checks;
  checks.cron = [](const std::string& text) {
    auto parsed = CronExpression::Parse(text);
    return parsed.ok() ? std::string() : parsed.error();
  };
  checks.timezone = [](const std::string& name) {
    auto zone = TimeZone::Find(name);
    return zone.ok() ? std::string() : zone.error();
  };
  return checks;
}

HttpResponse Invalid(const std::vector<JsonError>& errors) {
  return JsonResponse(422, ErrorBody(errors));
}

HttpResponse Refused(const Outcome& outcome) {
  if (outcome.status == 422) return Invalid({{outcome.path, {outcome.message}}});
  return MessageResponse(outcome.status, outcome.message);
}

std::optional<Embeds> EmbedsOf(const HttpRequest& request, HttpResponse* error) {
  auto embeds = ParseEmbeds(sdk::ParamValues(request, "embed"));
  if (!embeds.ok()) {
    *error = MessageResponse(400, embeds.error());
    return std::nullopt;
  }
  return *embeds;
}

// The body of a PUT is for the job (or schedule) of its URL, whatever id it
// names, as in Metronome.
std::optional<json> BodyFor(const HttpRequest& request, const std::string& field,
                            const std::string& id, HttpResponse* error) {
  auto body = JsonBody(request, error);
  if (body && body->is_object()) (*body)[field] = id;
  return body;
}

class Routes {
 public:
  Routes(BatchCore* core, const BatchApiInfo* info) : core_(core), info_(info) {}

  HttpResponse ListJobs(const HttpRequest& request) {
    HttpResponse error;
    auto embeds = EmbedsOf(request, &error);
    if (!embeds) return error;
    json jobs = json::array();
    FrameworkId framework = core_->framework_id();
    for (const JobView& job : core_->Jobs()) jobs.push_back(JobJson(job, *embeds, framework));
    return JsonResponse(200, jobs);
  }

  HttpResponse CreateJob(const HttpRequest& request) {
    HttpResponse error;
    auto body = JsonBody(request, &error);
    if (!body) return error;
    auto parsed = ParseJobWithSchedules(*body, CronChecks());
    if (!parsed.ok()) return Invalid(parsed.errors());
    for (const JsonError& note : parsed.notes()) {
      Logger("batch")->warn("job {}: {}: {}", parsed->job.id, note.path, ErrorSummary({note}));
    }
    Outcome outcome = core_->CreateJob(parsed->job, parsed->schedules);
    if (!outcome.ok()) return Refused(outcome);
    return ShowJob(parsed->job.id, 201, Embeds{});
  }

  HttpResponse ShowJob(const std::string& id, int status, const Embeds& embeds) {
    auto job = core_->Job(id);
    if (!job) return MessageResponse(404, "Job '" + id + "' does not exist");
    return JsonResponse(status, JobJson(*job, embeds, core_->framework_id()));
  }

  HttpResponse GetJob(const HttpRequest& request) {
    HttpResponse error;
    auto embeds = EmbedsOf(request, &error);
    if (!embeds) return error;
    return ShowJob(request.matches.at(0), 200, *embeds);
  }

  HttpResponse UpdateJob(const HttpRequest& request, bool with_schedules) {
    const std::string& id = request.matches.at(0);
    HttpResponse error;
    auto body = BodyFor(request, "id", id, &error);
    if (!body) return error;
    Outcome outcome;
    if (with_schedules) {
      auto parsed = ParseJobWithSchedules(*body, CronChecks());
      if (!parsed.ok()) return Invalid(parsed.errors());
      outcome = core_->UpdateJob(parsed->job, parsed->schedules);
    } else {
      auto parsed = ParseJobSpec(*body);
      if (!parsed.ok()) return Invalid(parsed.errors());
      outcome = core_->UpdateJob(*parsed);
    }
    if (!outcome.ok()) return Refused(outcome);
    return ShowJob(id, 200, Embeds{});
  }

  HttpResponse DeleteJob(const HttpRequest& request) {
    const std::string& id = request.matches.at(0);
    HttpResponse error;
    auto stop = sdk::BoolParam(request, "stopCurrentJobRuns", false, &error);
    if (!stop) return error;
    auto job = core_->Job(id);
    if (!job) return MessageResponse(404, "Job '" + id + "' does not exist");
    Outcome outcome = core_->DeleteJob(id, *stop);
    if (!outcome.ok()) return Refused(outcome);
    return JsonResponse(200, JobJson(*job, Embeds{}, core_->framework_id()));
  }

  HttpResponse ListRuns(const HttpRequest& request) {
    const std::string& id = request.matches.at(0);
    auto runs = core_->ActiveRuns(id);
    if (!runs) return MessageResponse(404, "Job '" + id + "' does not exist");
    json list = json::array();
    FrameworkId framework = core_->framework_id();
    for (const JobRun& run : *runs) list.push_back(RunJson(run, framework));
    return JsonResponse(200, list);
  }

  HttpResponse StartRun(const HttpRequest& request) {
    JobRun run;
    Outcome outcome = core_->StartRun(request.matches.at(0), &run);
    if (!outcome.ok()) return Refused(outcome);
    return JsonResponse(201, RunJson(run, core_->framework_id()));
  }

  HttpResponse GetRun(const HttpRequest& request) {
    const std::string& id = request.matches.at(0);
    if (!core_->Job(id)) return MessageResponse(404, "Job '" + id + "' does not exist");
    auto run = core_->Run(id, request.matches.at(1));
    if (!run) return MessageResponse(404, "JobRun '" + request.matches.at(1) + "' does not exist");
    return JsonResponse(200, RunJson(*run, core_->framework_id()));
  }

  HttpResponse StopRun(const HttpRequest& request) {
    const std::string& id = request.matches.at(0);
    auto run = core_->Run(id, request.matches.at(1));
    Outcome outcome = core_->StopRun(id, request.matches.at(1));
    if (!outcome.ok()) return Refused(outcome);
    return JsonResponse(200, RunJson(*run, core_->framework_id()));
  }

  HttpResponse ListSchedules(const HttpRequest& request) {
    const std::string& id = request.matches.at(0);
    auto schedules = core_->Schedules(id);
    if (!schedules) return MessageResponse(404, "Job '" + id + "' does not exist");
    json list = json::array();
    for (const ScheduleView& schedule : *schedules) list.push_back(ScheduleJson(schedule));
    return JsonResponse(200, list);
  }

  HttpResponse GetSchedule(const HttpRequest& request) {
    const std::string& id = request.matches.at(0);
    auto schedules = core_->Schedules(id);
    if (!schedules) return MessageResponse(404, "Job '" + id + "' does not exist");
    for (const ScheduleView& schedule : *schedules) {
      if (schedule.spec.id == request.matches.at(1))
        return JsonResponse(200, ScheduleJson(schedule));
    }
    return MessageResponse(404, "Schedule '" + request.matches.at(1) + "' does not exist");
  }

  HttpResponse PutSchedule(const HttpRequest& request, bool create) {
    const std::string& id = request.matches.at(0);
    HttpResponse error;
    std::optional<json> body =
        create ? JsonBody(request, &error) : BodyFor(request, "id", request.matches.at(1), &error);
    if (!body) return error;
    auto parsed = ParseScheduleSpec(*body, CronChecks());
    if (!parsed.ok()) return Invalid(parsed.errors());
    Outcome outcome = core_->PutSchedule(id, *parsed, create);
    if (!outcome.ok()) return Refused(outcome);
    for (const ScheduleView& schedule :
         core_->Schedules(id).value_or(std::vector<ScheduleView>{})) {
      if (schedule.spec.id == parsed->id)
        return JsonResponse(outcome.status, ScheduleJson(schedule));
    }
    return JsonResponse(outcome.status, RenderScheduleSpec(*parsed));
  }

  HttpResponse DeleteSchedule(const HttpRequest& request) {
    Outcome outcome = core_->DeleteSchedule(request.matches.at(0), request.matches.at(1));
    if (!outcome.ok()) return Refused(outcome);
    HttpResponse response;  // Metronome answers with no body
    response.body.clear();
    return response;
  }

  HttpResponse Queue(const HttpRequest&) { return JsonResponse(200, QueueJson(core_->Queue())); }

  HttpResponse Leader(const HttpRequest&) {
    std::string leader = info_->leader ? info_->leader() : "";
    if (leader.empty()) return MessageResponse(404, "There is no leader");
    return JsonResponse(200, {{"leader", leader}});
  }

  HttpResponse Info(const HttpRequest&) {
    return JsonResponse(200, {{"version", info_->version}, {"libVersion", info_->version}});
  }

  HttpResponse MetronomeMetrics(const HttpRequest&) {
    BatchCore::Counters c = core_->counters();
    json counters = json::object();
    auto count = [&](const char* name, int64_t value) { counters[name] = {{"count", value}}; };
    count("stoa.batch.runs.started", c.runs_started);
    count("stoa.batch.runs.succeeded", c.runs_succeeded);
    count("stoa.batch.runs.failed", c.runs_failed);
    count("stoa.batch.tasks.launched", c.tasks_launched);
    count("stoa.batch.tasks.finished", c.tasks_finished);
    count("stoa.batch.tasks.failed", c.tasks_failed);
    count("stoa.batch.schedules.ticks.run", c.ticks_run);
    count("stoa.batch.schedules.ticks.skipped", c.ticks_skipped);
    return JsonResponse(200, {{"version", "4.0.0"},
                              {"counters", counters},
                              {"gauges", json::object()},
                              {"histograms", json::object()},
                              {"meters", json::object()},
                              {"timers", json::object()}});
  }

  HttpResponse Prometheus(const HttpRequest&) {
    BatchCore::Counters c = core_->counters();
    size_t jobs = 0, active = 0;
    for (const JobView& job : core_->Jobs()) {
      ++jobs;
      active += job.active_runs.size();
    }
    std::string text;
    auto metric = [&](const char* name, const char* type, const char* help,
                      const std::string& rows) {
      text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
              rows;
    };
    auto row = [](const char* name, const std::string& labels, double value) {
      char number[40];
      std::snprintf(number, sizeof(number), "%.17g", value);
      return std::string(name) + labels + " " + number + "\n";
    };
    metric("stoa_batch_jobs", "gauge", "Jobs defined.", row("stoa_batch_jobs", "", jobs));
    metric("stoa_batch_active_runs", "gauge", "Runs under way.",
           row("stoa_batch_active_runs", "", active));
    metric("stoa_batch_runs_total", "counter", "Runs started and how they ended.",
           row("stoa_batch_runs_total", "{result=\"started\"}", c.runs_started) +
               row("stoa_batch_runs_total", "{result=\"succeeded\"}", c.runs_succeeded) +
               row("stoa_batch_runs_total", "{result=\"failed\"}", c.runs_failed));
    metric("stoa_batch_tasks_total", "counter", "Tasks launched and how they ended.",
           row("stoa_batch_tasks_total", "{result=\"launched\"}", c.tasks_launched) +
               row("stoa_batch_tasks_total", "{result=\"finished\"}", c.tasks_finished) +
               row("stoa_batch_tasks_total", "{result=\"failed\"}", c.tasks_failed));
    metric("stoa_batch_schedule_ticks_total", "counter", "Schedules' ticks run or skipped.",
           row("stoa_batch_schedule_ticks_total", "{result=\"run\"}", c.ticks_run) +
               row("stoa_batch_schedule_ticks_total", "{result=\"skipped\"}", c.ticks_skipped));
    metric("stoa_batch_offers_total", "counter", "Offers received and declined.",
           row("stoa_batch_offers_total", "{result=\"received\"}", c.offers_received) +
               row("stoa_batch_offers_total", "{result=\"declined\"}", c.offers_declined));
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = text;
    return response;
  }

 private:
  BatchCore* core_;
  const BatchApiInfo* info_;
};

}  // namespace

void AddBatchApi(HttpServer& server, BatchCore* core, const BatchApiInfo* info) {
  auto routes = std::make_shared<Routes>(core, info);
  using Handler = HttpResponse (Routes::*)(const HttpRequest&);
  auto route = [&](const char* method, const std::string& path, Handler handler) {
    server.Route(method, path,
                 [routes, handler](const HttpRequest& r) { return ((*routes).*handler)(r); });
  };
  server.Route("GET", "/ping/?", [](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain";
    response.body = "pong";
    return response;
  });
  route("GET", "/info/?", &Routes::Info);
  route("GET", "/leader/?", &Routes::Leader);
  route("GET", "/v1/metrics/?", &Routes::MetronomeMetrics);
  route("GET", "/metrics/?", &Routes::Prometheus);
  route("GET", "/v1/queue/?", &Routes::Queue);
  route("GET", "/v1/jobs/?", &Routes::ListJobs);
  route("POST", "/v1/jobs/?", &Routes::CreateJob);
  route("POST", "/v0/scheduled-jobs/?", &Routes::CreateJob);
  server.Route("PUT", "/v0/scheduled-jobs/" + std::string(kId),
               [routes](const HttpRequest& r) { return routes->UpdateJob(r, true); });
  route("POST", Path("/runs/" + std::string(kId) + "/actions/stop/?"), &Routes::StopRun);
  route("GET", Path("/runs/" + std::string(kId) + "/?"), &Routes::GetRun);
  route("GET", Path("/runs/?"), &Routes::ListRuns);
  route("POST", Path("/runs/?"), &Routes::StartRun);
  route("GET", Path("/schedules/" + std::string(kId) + "/?"), &Routes::GetSchedule);
  server.Route("PUT", Path("/schedules/" + std::string(kId) + "/?"),
               [routes](const HttpRequest& r) { return routes->PutSchedule(r, false); });
  route("DELETE", Path("/schedules/" + std::string(kId) + "/?"), &Routes::DeleteSchedule);
  route("GET", Path("/schedules/?"), &Routes::ListSchedules);
  server.Route("POST", Path("/schedules/?"),
               [routes](const HttpRequest& r) { return routes->PutSchedule(r, true); });
  route("GET", Path("/?"), &Routes::GetJob);
  server.Route("PUT", Path("/?"),
               [routes](const HttpRequest& r) { return routes->UpdateJob(r, false); });
  route("DELETE", Path("/?"), &Routes::DeleteJob);
}

}  // namespace stoa::batch

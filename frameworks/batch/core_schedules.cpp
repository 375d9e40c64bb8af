// Schedules: their API, and their ticks. Each tick is handled once: the tick
// and the id of its run are written before the run starts, so a leader that
// takes over after a crash in between starts that very run, and one that
// takes over later runs what it missed while within the starting deadline.
#include <cmath>

#include "common/logging.hpp"
#include "frameworks/batch/core.hpp"

namespace stoa::batch {

std::optional<CronSchedule> ParseCronSchedule(const ScheduleSpec& spec, Outcome* error) {
  auto expression = CronExpression::Parse(spec.cron);
  if (!expression.ok()) {
    *error = {422, expression.error(), "/cron"};
    return std::nullopt;
  }
  auto zone = TimeZone::Find(spec.timezone);
  if (!zone.ok()) {
    *error = {422, zone.error(), "/timezone"};
    return std::nullopt;
  }
  return CronSchedule{std::move(*expression), std::move(*zone)};
}

std::optional<double> BatchCore::NextRunAt(const JobState& job,
                                           const std::string& schedule_id) const {
  auto schedule = job.schedules.find(schedule_id);
  auto cron = job.crons.find(schedule_id);
  if (schedule == job.schedules.end() || !schedule->second.enabled || cron == job.crons.end()) {
    return std::nullopt;
  }
  double after = clock_();
  if (auto tick = job.ticks.find(schedule_id); tick != job.ticks.end()) {
    after = std::max(after, tick->second.tick);
  }
  auto next =
      NextTick(cron->second.expression, cron->second.zone, static_cast<int64_t>(std::floor(after)));
  if (!next) return std::nullopt;
  return static_cast<double>(*next);
}

bool BatchCore::StartTick(JobState& job, const ScheduleSpec& schedule, const TickRecord& record) {
  auto log = Logger("batch");
  const std::string& job_id = job.spec.id;
  if (!job.runs.empty() && schedule.concurrency_policy == ConcurrencyPolicy::kForbid) {
    log->info("job {}: schedule {}'s tick at {} skipped: a run is active (FORBID)", job_id,
              schedule.id, record.tick);
    ++counters_.ticks_skipped;
  } else {
    if (schedule.concurrency_policy == ConcurrencyPolicy::kReplace) {
      std::vector<std::string> replaced;
      for (const auto& [run_id, run] : job.runs) replaced.push_back(run_id);
      for (const std::string& run_id : replaced) {
        Finish(job, job.runs.at(run_id), RunStatus::kFailed,
               "replaced by the run of schedule " + schedule.id + " (REPLACE)");
      }
    }
    if (!StartRunLocked(job, schedule.id, record.run_id, nullptr).ok()) return false;
    ++counters_.ticks_run;
  }
  // Done with: its run is never started again, whatever becomes of it.
  TickRecord done{record.tick, ""};
  if (!Persist(store_->PutTick(job_id, schedule.id, done)).ok()) return false;
  job.ticks[schedule.id] = done;
  return true;
}

void BatchCore::RunSchedules(double now) {
  auto log = Logger("batch");
  for (auto& [job_id, job] : jobs_) {
    for (const auto& [schedule_id, schedule] : job.schedules) {
      auto cron = job.crons.find(schedule_id);
      if (!schedule.enabled || cron == job.crons.end()) continue;
      auto deadline = static_cast<double>(schedule.starting_deadline_seconds);
      TickRecord last = job.ticks[schedule_id];
      if (!last.run_id.empty()) {
        // A tick written whose run may not have started: the last leader
        // stopped in between. Started once if it did not.
        bool started = job.runs.count(last.run_id) > 0;
        for (const auto* kept : {&job.history.successful, &job.history.failed}) {
          for (const RunSummary& summary : *kept) started = started || summary.id == last.run_id;
        }
        if (!started && now - last.tick <= deadline) {
          log->info("job {}: starting run {} of schedule {}'s tick at {} (written, not started)",
                    job_id, last.run_id, schedule_id, last.tick);
          if (!StartTick(job, schedule, last)) return;
        } else {
          if (!started) ++counters_.ticks_skipped;
          TickRecord done{last.tick, ""};
          if (!Persist(store_->PutTick(job_id, schedule_id, done)).ok()) return;
          job.ticks[schedule_id] = done;
        }
        last = job.ticks[schedule_id];
      }
      auto next = NextTick(cron->second.expression, cron->second.zone,
                           static_cast<int64_t>(std::floor(last.tick)));
      // Ticks too old to start are skipped in one step, not one by one.
      if (next && static_cast<double>(*next) < now - deadline) {
        auto late = static_cast<int64_t>(std::floor(now - deadline)) - 1;
        log->warn(
            "job {}: schedule {}'s ticks from {} are past their startingDeadlineSeconds "
            "of {} s: skipped",
            job_id, schedule_id, *next, schedule.starting_deadline_seconds);
        ++counters_.ticks_skipped;
        // Handled up to there, so that the skip is neither counted nor logged again.
        TickRecord skipped{static_cast<double>(late), ""};
        if (!Persist(store_->PutTick(job_id, schedule_id, skipped)).ok()) return;
        job.ticks[schedule_id] = skipped;
        next = NextTick(cron->second.expression, cron->second.zone, late);
      }
      while (next && static_cast<double>(*next) <= now) {
        // The tick and its run's id are written before the run starts.
        TickRecord record{static_cast<double>(*next), NewRunId(job)};
        if (!Persist(store_->PutTick(job_id, schedule_id, record)).ok()) return;
        job.ticks[schedule_id] = record;
        if (!StartTick(job, schedule, record)) return;
        next = NextTick(cron->second.expression, cron->second.zone, *next);
      }
    }
  }
}

std::optional<std::vector<ScheduleView>> BatchCore::Schedules(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return std::nullopt;
  return ViewOf(found->second).schedules;
}

Outcome BatchCore::PutSchedule(const std::string& job_id, const ScheduleSpec& spec, bool create) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return {404, "Job '" + job_id + "' does not exist"};
  JobState& job = found->second;
  bool exists = job.schedules.count(spec.id) > 0;
  if (create && exists) return {409, "A schedule with id " + spec.id + " already exists"};
  // As Metronome: one schedule per job.
  if (create && !job.schedules.empty()) return {409, "Only one schedule supported at the moment"};
  if (!create && !exists) return {404, "Schedule '" + spec.id + "' does not exist"};
  Outcome error;
  auto cron = ParseCronSchedule(spec, &error);
  if (!cron) return error;
  // Ticks count from now: a new, changed or enabled schedule does not run what
  // came before it. Written first, so that no schedule is read without it.
  TickRecord from_now{clock_(), ""};
  if (Outcome o = Persist(store_->PutTick(job_id, spec.id, from_now)); !o.ok()) return o;
  if (Outcome o = Persist(store_->PutSchedule(job_id, spec)); !o.ok()) return o;
  job.ticks[spec.id] = from_now;
  job.schedules[spec.id] = spec;
  job.crons.insert_or_assign(spec.id, std::move(*cron));
  return {create ? 201 : 200, ""};
}

Outcome BatchCore::DeleteSchedule(const std::string& job_id, const std::string& schedule_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return {404, "Job '" + job_id + "' does not exist"};
  JobState& job = found->second;
  if (job.schedules.count(schedule_id) == 0) {
    return {404, "Schedule '" + schedule_id + "' does not exist"};
  }
  if (Outcome o = Persist(store_->DeleteSchedule(job_id, schedule_id)); !o.ok()) return o;
  job.schedules.erase(schedule_id);
  job.crons.erase(schedule_id);
  job.ticks.erase(schedule_id);
  return {200, ""};
}

}  // namespace stoa::batch

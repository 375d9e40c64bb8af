// `stoa batch`: the batch framework's scheduler process (Metronome's API).
#include "frameworks/batch/batch.hpp"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "common/logging.hpp"

namespace stoa::cli {
namespace {

struct BatchFlags {
  batch::BatchProcessOptions options;
  std::string failover_timeout = "1weeks";
  std::string zk_session_timeout = "10secs";
  std::string decline_offer_duration = "5secs";
  std::string retry_delay = "1secs";
  std::string executor_idle_timeout = "5secs";
  std::string log_level = "info";
};

}  // namespace

void AddBatchCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<BatchFlags>();
  auto& o = flags->options;
  CLI::App* cmd =
      app.add_subcommand("batch", "Run the batch framework: Metronome's REST API for jobs");
  cmd->add_option("--master", o.master, "The master, HOST:PORT or zk://HOST:PORT/PATH")->required();
  cmd->add_option("--ip", o.ip, "Address the HTTP API listens on")->capture_default_str();
  cmd->add_option("--http_port", o.http_port, "Port of the HTTP API (Metronome's /v1)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--work_dir", o.work_dir, "Directory for the state (LevelDB) when not --zk")
      ->capture_default_str();
  cmd->add_option("--zk", o.zk,
                  "zk://HOST:PORT[,HOST:PORT]/PATH: keep the state in ZooKeeper under PATH/state "
                  "and elect a leader among the instances given the same PATH; standbys pass "
                  "API requests on to it (default: one instance, LevelDB under --work_dir)");
  cmd->add_option("--zk_session_timeout", flags->zk_session_timeout,
                  "ZooKeeper session timeout; an instance that loses its session exits")
      ->capture_default_str();
  cmd->add_option("--framework_name", o.framework_name, "Name the framework registers with")
      ->capture_default_str();
  cmd->add_option("--role", o.core.role, "Role the framework's resources come from")
      ->capture_default_str();
  cmd->add_option("--failover_timeout", flags->failover_timeout,
                  "How long the master keeps the framework's tasks while it is away")
      ->capture_default_str();
  cmd->add_option("--hostname", o.hostname, "Hostname to advertise (default: --ip)");
  cmd->add_option("--user", o.core.user, "User tasks without a user run as (default: ours)");
  cmd->add_option("--decline_offer_duration", flags->decline_offer_duration,
                  "How long offers with nothing to run on them are refused")
      ->capture_default_str();
  cmd->add_option("--task_retry_delay", flags->retry_delay,
                  "Delay before a failed task is retried; it doubles with each failure of the "
                  "run, up to the job's maxLaunchDelay")
      ->capture_default_str();
  cmd->add_option("--executor_idle_timeout", flags->executor_idle_timeout,
                  "How long a run's executor on an agent stays with no task, for the run's next "
                  "tasks there (0: one executor for each group of tasks)")
      ->capture_default_str();
  cmd->add_option("--history_count", o.core.history_count,
                  "Finished runs kept per job, of successes and of failures each")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--clock_file", o.clock_file,
                  "For tests: read the time (seconds since the epoch) from this file")
      ->group("");  // not in --help
  cmd->add_option("--log_level", flags->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags, exit_code] {
    auto& o = flags->options;
    o.failover_timeout = DurationFlag("failover_timeout", flags->failover_timeout);
    o.zk_session_timeout = DurationFlag("zk_session_timeout", flags->zk_session_timeout);
    o.core.decline_seconds = DurationFlag("decline_offer_duration", flags->decline_offer_duration);
    o.core.retry_delay_seconds = DurationFlag("task_retry_delay", flags->retry_delay);
    o.core.executor_idle_timeout =
        DurationFlag("executor_idle_timeout", flags->executor_idle_timeout);
    SetLogLevel(flags->log_level);
    BlockTerminationSignals();
    o.core.on_fatal = [](const std::string& why) {
      std::fprintf(stderr,
                   "stoa batch: %s; exiting so that a restart recovers the state and "
                   "reconciles with the master\n",
                   why.c_str());
      std::fflush(stderr);
      _exit(1);
    };
    auto process = batch::BatchProcess::Start(o);
    if (!process.ok()) {
      std::fprintf(stderr, "stoa batch: %s\n", process.error().c_str());
      *exit_code = 1;
      return;
    }
    int sig = WaitForTerminationSignal();
    Logger("batch")->info("stopping on signal {} (tasks keep running; a restart fails over)", sig);
    process->reset();
    *exit_code = 0;
  });
}

}  // namespace stoa::cli

// Launching a container: provisioning (slow work such as an image unpacked,
// done before the launch, off the launch path), then checks, the sandbox and
// its log (opened without following symlinks), the isolators' Prepare in
// order, a tracking cgroup, then the executor through the shared launcher,
// held until every isolator has isolated it.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "agent/containerizer_impl.hpp"
#include "common/safe_fs.hpp"
#include "isolators/launcher.hpp"

extern char** environ;

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;
using isolators::LaunchInfo;

constexpr const char* kLogName = "executor.log";

}  // namespace

isolators::ContainerConfig IsolatorConfig(const ContainerConfig& config) {
  return {config.container_id, config.sandbox, config.user, config.resources, config.container};
}

Status CheckContainerId(const ContainerId& id) {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.') {
    return Status::Error("container id '" + id + "' cannot name a directory");
  }
  return Status::Ok();
}

Status Containerizer::Impl::Provision(const ContainerConfig& config) {
  const ContainerId& id = config.container_id;
  if (Status s = CheckContainerId(id); !s.ok()) return s;
  isolators::ContainerConfig isolator_config = IsolatorConfig(config);
  for (size_t i = 0; i < isolators.size(); ++i) {
    if (Status s = isolators[i]->Provision(isolator_config); !s.ok()) {
      for (size_t j = i + 1; j-- > 0;) isolators[j]->Cleanup(id);  // nothing runs yet
      return Status::Error(names[i] + ": " + s.message());
    }
  }
  return Status::Ok();
}

Result<pid_t> Containerizer::Impl::Launch(const ContainerConfig& config, ExitCallback on_exit) {
  const ContainerId& id = config.container_id;
  if (Status s = CheckContainerId(id); !s.ok()) return s;
  if (access(config.program.c_str(), X_OK) != 0) {
    return Status::Error("program '" + config.program + "' cannot be run: " + ErrnoText(errno) +
                         " (set --executor_path)");
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (containers.count(id) > 0) return Status::Error("container " + id + " already exists");
  }
  auto uses = [&](const char* name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  if ((!config.container.rootfs.empty() || !config.container.volumes.empty()) &&
      !uses("filesystem/linux")) {
    return Status::Error(
        "the task asks for a root filesystem or volumes, but this agent runs "
        "without the filesystem/linux isolator (see --isolation)");
  }
  if (config.container.network_isolated && !uses("namespaces/net")) {
    return Status::Error(
        "the task asks for network isolation, but this agent runs without the "
        "namespaces/net isolator (see --isolation)");
  }
  std::vector<std::pair<std::string, std::string>> environment = config.environment;
  // Opened once, not through a symlink; the log and the owner go through it.
  Result<UniqueFd> sandbox = OpenDirectory(config.sandbox);
  if (!sandbox.ok()) return Status::Error("the sandbox: " + sandbox.error());
  Result<UniqueFd> log_file =
      OpenBeneath(sandbox->get(), kLogName, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
  if (!log_file.ok()) {
    return Status::Error("the executor's log in sandbox '" + config.sandbox +
                         "': " + log_file.error());
  }
  Result<struct stat> log_stat = StatFd(log_file->get(), kLogName);
  if (!log_stat.ok()) return log_stat.status();
  if (!S_ISREG(log_stat->st_mode) || log_stat->st_nlink != 1) {
    return Status::Error("the executor's log '" + config.sandbox + "/" + kLogName +
                         "' is not a plain file of the sandbox's own");
  }
  if (!config.user.empty()) {
    Result<isolators::UserIdentity> user = isolators::LookUpUser(config.user);
    if (!user.ok()) return user.status();
    if (geteuid() != 0 && user->uid != geteuid()) {
      return Status::Error("cannot run tasks as user '" + config.user +
                           "': the agent does not run as root");
    }
    if (fchown(sandbox->get(), user->uid, user->gid) != 0) {
      return Status::Error("cannot give sandbox '" + config.sandbox + "' to user '" + config.user +
                           "': " + ErrnoText(errno));
    }
    environment.emplace_back("STOA_TASK_USER", config.user);
  }
  std::error_code error;
  fs::create_directories(RuntimePath(id), error);
  if (error) {
    return Status::Error("cannot create '" + RuntimePath(id) + "': " + error.message());
  }
  WriteRecord(id, 0, false);  // a crash from here on leaves an orphan Recover finds

  // Prepare, in order.
  isolators::ContainerConfig isolator_config = IsolatorConfig(config);
  LaunchInfo launch;
  size_t prepared = 0;
  auto fail = [&](const std::string& message) -> Result<pid_t> {
    CleanupResources(id, prepared);
    return Status::Error(message);
  };
  for (; prepared < isolators.size(); ++prepared) {
    Result<LaunchInfo> info = isolators[prepared]->Prepare(isolator_config);
    if (!info.ok()) {
      ++prepared;  // it may have made something before failing
      return fail(names[prepared - 1] + ": " + info.error());
    }
    launch.clone_flags |= info->clone_flags;
    launch.mounts.insert(launch.mounts.end(), info->mounts.begin(), info->mounts.end());
    if (!info->hostname.empty()) launch.hostname = info->hostname;
    launch.loopback_up = launch.loopback_up || info->loopback_up;
    for (auto& variable : info->environment) environment.push_back(variable);
  }
  if (tracking) {
    if (Status s = isolators::cgroups::Create(*tracking, options.cgroups_root, id, ""); !s.ok()) {
      return fail(s.message());
    }
  }

  // The executor: cloned into the isolators' namespaces, held until they
  // have isolated it, then its mounts, hostname and loopback, and exec.
  isolators::ProcessPlan plan;
  plan.program = config.program;
  plan.arguments = {config.program};
  plan.arguments.insert(plan.arguments.end(), config.arguments.begin(), config.arguments.end());
  for (char** e = environ; *e != nullptr; ++e) plan.environment.emplace_back(*e);
  for (const auto& [key, value] : environment) plan.environment.push_back(key + "=" + value);
  plan.clone_flags = launch.clone_flags;
  plan.hold = true;
  plan.mounts = std::move(launch.mounts);
  plan.hostname = launch.hostname;
  plan.loopback_up = launch.loopback_up;
  plan.working_directory_fd = sandbox->get();
  plan.stdout_fd = log_file->get();
  plan.stderr_fd = log_file->get();
  plan.new_session = true;  // the container's processes are the executor's session
  Result<isolators::ChildProcess> child = isolators::Launch(std::move(plan));
  if (!child.ok()) return fail("cannot start the container's first process: " + child.error());
  pid_t pid = child->pid();
  auto abandon = [&](const std::string& message) {
    child->Abandon();
    if (tracking) isolators::cgroups::KillAll(*tracking, TrackingPath(id));
    return fail(message);
  };

  // Isolate, then let the child go on.
  if (tracking) {
    if (Status s = isolators::cgroups::Assign(TrackingPath(id), pid); !s.ok()) {
      return abandon(s.message());
    }
  }
  for (size_t i = 0; i < isolators.size(); ++i) {
    if (Status s = isolators[i]->Isolate(id, pid); !s.ok()) {
      return abandon(names[i] + ": " + s.message());
    }
  }
  if (Status s = child->Release(); !s.ok()) {
    if (tracking) isolators::cgroups::KillAll(*tracking, TrackingPath(id));
    return fail(s.message());
  }
  UniqueFd pidfd = child->TakePidfd();

  WriteRecord(id, pid, (launch.clone_flags & CLONE_NEWPID) != 0);
  {
    std::lock_guard<std::mutex> lock(mutex);
    Container& container = containers[id];
    container.config = config;
    container.pid = pid;
    container.pidfd = pidfd.Release();
    container.pid_namespace = (launch.clone_flags & CLONE_NEWPID) != 0;
    container.on_exit = std::move(on_exit);
    for (size_t i = 0; i < isolators.size(); ++i) {
      if (auto watch = isolators[i]->Watch(id)) container.watches.emplace_back(i, *watch);
    }
    ended.erase(id);
  }
  Wake();
  return pid;
}
}  // namespace stoa::agent

#include "agent/sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/safe_fs.hpp"

namespace stoa::agent {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kMaxReadBytes = 16 << 20;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool IsIdPart(const std::string& id) {
  return !id.empty() && id.find('/') == std::string::npos && IsPlainRelativePath(id);
}

// The ids of a sandbox path relative to <work_dir>/frameworks, and the rest.
struct SandboxName {
  FrameworkId framework_id;
  ExecutorId executor_id;
  ContainerId container_id;
  std::string rest;  // the path inside the sandbox; may be empty
};

std::optional<SandboxName> ParseSandboxPath(const std::string& relative) {
  std::vector<std::string> parts = SplitPath(relative);
  if (parts.size() < 5 || parts[1] != "executors" || parts[3] != "runs") return std::nullopt;
  SandboxName name{parts[0], parts[2], parts[4], ""};
  if (!IsIdPart(name.framework_id) || !IsIdPart(name.executor_id) || !IsIdPart(name.container_id)) {
    return std::nullopt;
  }
  for (size_t i = 5; i < parts.size(); ++i) name.rest += (i > 5 ? "/" : "") + parts[i];
  return name;
}

// The most recently created run of an executor (creation time: tasks cannot
// change it), or empty.
std::string NewestRun(int runs_fd) {
  int listing = dup(runs_fd);
  if (listing < 0) return "";
  DIR* dir = fdopendir(listing);
  if (dir == nullptr) {
    close(listing);
    return "";
  }
  std::string newest;
  struct statx_timestamp newest_time {};
  while (struct dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct statx st {};
    if (statx(runs_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_BTIME | STATX_MTIME,
              &st) != 0 ||
        !S_ISDIR(st.stx_mode)) {
      continue;
    }
    struct statx_timestamp time = (st.stx_mask & STATX_BTIME) ? st.stx_btime : st.stx_mtime;
    if (newest.empty() || time.tv_sec > newest_time.tv_sec ||
        (time.tv_sec == newest_time.tv_sec && time.tv_nsec > newest_time.tv_nsec)) {
      newest = name;
      newest_time = time;
    }
  }
  closedir(dir);
  return newest;
}

Result<int64_t> NumberParam(const HttpRequest& request, const char* name, int64_t fallback) {
  auto it = request.params.find(name);
  if (it == request.params.end()) return fallback;
  try {
    size_t used = 0;
    int64_t value = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument(name);
    return value;
  } catch (const std::exception&) {
    return Status::Error(std::string(name) + " '" + it->second + "' is not a whole number");
  }
}

}  // namespace

std::string SandboxPath(const std::string& work_dir, const FrameworkId& framework_id,
                        const ExecutorId& executor_id, const ContainerId& container_id) {
  return work_dir + "/frameworks/" + framework_id + "/executors/" + executor_id + "/runs/" +
         container_id;
}

// ---- /files/read ----

SandboxFiles::SandboxFiles(std::string work_dir)
    : frameworks_dir_(std::move(work_dir) + "/frameworks") {}

HttpResponse SandboxFiles::Read(const HttpRequest& request) const {
  auto param = [&](const char* name) {
    auto it = request.params.find(name);
    return it == request.params.end() ? std::string() : it->second;
  };
  SandboxName name{param("framework_id"), param("executor_id"), param("container_id"),
                   param("path")};
  if (name.framework_id.empty() && name.executor_id.empty() && name.container_id.empty()) {
    // The older form: an absolute path, accepted only where it names one sandbox.
    if (name.rest.empty()) {
      return JsonError(400,
                       "name the file: ?framework_id=...&executor_id=...&path=<file in the "
                       "sandbox> (container_id: a run; default the newest), or ?path=<absolute "
                       "path of a file inside a sandbox>");
    }
    std::string prefix = frameworks_dir_ + "/";
    std::optional<SandboxName> parsed;
    if (name.rest.rfind(prefix, 0) == 0) parsed = ParseSandboxPath(name.rest.substr(prefix.size()));
    if (!parsed || parsed->rest.empty()) {
      return JsonError(403, "'" + name.rest + "' is not a file inside a sandbox (" + prefix +
                                "<framework>/executors/<executor>/runs/<container>/...)");
    }
    name = *parsed;
  } else if (!IsIdPart(name.framework_id) || !IsIdPart(name.executor_id) ||
             (!name.container_id.empty() && !IsIdPart(name.container_id))) {
    return JsonError(400,
                     "framework_id and executor_id (and container_id if given) must be ids: "
                     "not empty, no '/', not '.' or '..'");
  }
  if (!IsPlainRelativePath(name.rest)) {
    return JsonError(
        403, "path '" + name.rest + "' must be relative to the sandbox, without '.' or '..' parts");
  }
  Result<int64_t> offset = NumberParam(request, "offset", 0);
  Result<int64_t> length = NumberParam(request, "length", 1 << 20);
  if (!offset.ok()) return JsonError(400, offset.error());
  if (!length.ok()) return JsonError(400, length.error());

  std::string which = "framework " + name.framework_id + " executor " + name.executor_id;
  UniqueFd frameworks(open(frameworks_dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!frameworks.valid()) return JsonError(404, "no sandbox of " + which + " on this agent");
  std::string runs = name.framework_id + "/executors/" + name.executor_id + "/runs";
  if (name.container_id.empty()) {
    UniqueFd runs_fd(OpenBeneathErrno(frameworks.get(), runs, O_RDONLY | O_DIRECTORY));
    if (runs_fd.valid()) name.container_id = NewestRun(runs_fd.get());
    if (name.container_id.empty()) return JsonError(404, "no sandbox of " + which);
  }
  which += " container " + name.container_id;
  int sandbox =
      OpenBeneathErrno(frameworks.get(), runs + "/" + name.container_id, O_PATH | O_DIRECTORY);
  if (sandbox < 0) {
    if (sandbox == -ENOENT || sandbox == -ENOTDIR) {
      return JsonError(404, "no sandbox of " + which);
    }
    return JsonError(
        403, "the sandbox of " + which + " cannot be opened safely: " + ErrnoText(-sandbox));
  }
  UniqueFd sandbox_fd(sandbox);
  // O_PATH first: a device node or FIFO is looked at, never opened.
  int found = OpenBeneathErrno(sandbox_fd.get(), name.rest, O_PATH);
  if (found < 0) {
    if (found == -ELOOP || found == -EXDEV) {
      return JsonError(403, "'" + name.rest + "' in the sandbox of " + which +
                                " is, or passes through, a symbolic link: refused");
    }
    if (found == -ENOENT || found == -ENOTDIR) {
      return JsonError(404, "'" + name.rest + "' does not exist in the sandbox of " + which);
    }
    return JsonError(403, "'" + name.rest + "' cannot be opened: " + ErrnoText(-found));
  }
  UniqueFd path_fd(found);
  struct stat st {};
  // (O_PATH|O_NOFOLLOW yields the link itself when the last part is one.)
  if (fstat(path_fd.get(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return JsonError(
        403, "'" + name.rest + "' in the sandbox of " + which + " is a symbolic link: refused");
  }
  if (fstat(path_fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return JsonError(403, "'" + name.rest + "' in the sandbox of " + which +
                              " is not a regular file (a directory, FIFO, socket or device)");
  }
  // Reopen that very inode (not the name) for reading.
  std::string self = "/proc/self/fd/" + std::to_string(path_fd.get());
  UniqueFd file(open(self.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!file.valid() || fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return JsonError(500, "'" + name.rest + "' cannot be read: " + ErrnoText(errno));
  }
  int64_t size = static_cast<int64_t>(st.st_size);
  HttpResponse response;
  if (*offset < 0) {  // the size only, as Mesos does with offset=-1
    response.body = json{{"data", ""}, {"offset", size}}.dump();
    return response;
  }
  int64_t count = std::max<int64_t>(0, std::min<int64_t>(*length, size - *offset));
  count = std::min<int64_t>(count, kMaxReadBytes);
  std::string data(static_cast<size_t>(count), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t got = pread(file.get(), data.data() + done, data.size() - done,
                        static_cast<off_t>(*offset) + static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<size_t>(got);
  }
  data.resize(done);
  response.body = json{{"data", data}, {"offset", *offset}}.dump(-1, ' ', false,
                                                                 json::error_handler_t::replace);
  return response;
}

// ---- garbage collection ----

SandboxGc::SandboxGc(std::string work_dir, SandboxGcPolicy policy)
    : work_dir_(std::move(work_dir)), frameworks_dir_(work_dir_ + "/frameworks"), policy_(policy) {}

double SandboxGc::MaxAge(double disk_usage) const {
  return policy_.delay * std::max(0.0, 1.0 - policy_.disk_headroom - disk_usage);
}

Status SandboxGc::Schedule(const std::string& sandbox, double ended_at) {
  std::string prefix = frameworks_dir_ + "/";
  std::optional<SandboxName> name;
  if (sandbox.rfind(prefix, 0) == 0) name = ParseSandboxPath(sandbox.substr(prefix.size()));
  if (!name || !name->rest.empty()) {
    return Status::Error("'" + sandbox + "' is not a sandbox of this agent");
  }
  auto [it, added] = by_path_.emplace(sandbox, ended_at);
  if (!added) return Status::Ok();  // already scheduled: keep the earlier time
  by_time_.emplace(ended_at, sandbox);
  return Status::Ok();
}

void SandboxGc::ScheduleLeftovers(const std::set<std::string>& live) {
  std::error_code error;
  auto directories = [&](const fs::path& path) {
    std::vector<fs::path> found;
    for (fs::directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
      if (it->symlink_status(error).type() == fs::file_type::directory) found.push_back(it->path());
    }
    return found;
  };
  for (const auto& framework : directories(frameworks_dir_)) {
    for (const auto& executor : directories(framework / "executors")) {
      for (const auto& run : directories(executor / "runs")) {
        std::string path = run.string();
        struct stat st {};
        if (live.count(path) > 0 || by_path_.count(path) > 0 || lstat(path.c_str(), &st) != 0) {
          continue;
        }
        double modified = static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
        Schedule(path, modified);
      }
    }
  }
}

SandboxGc::Collection SandboxGc::Collect(double now, double disk_usage,
                                         const std::set<std::string>& live) {
  double max_age = MaxAge(disk_usage);
  Collection collection;
  std::vector<std::pair<double, std::string>> retry;
  while (!by_time_.empty() && by_time_.begin()->first + max_age <= now) {
    auto [ended_at, sandbox] = *by_time_.begin();
    by_time_.erase(by_time_.begin());
    by_path_.erase(sandbox);
    if (live.count(sandbox) > 0) {  // in use again: not ours to remove
      failures_.erase(sandbox);
      continue;
    }
    Status removed = Remove(sandbox);
    if (removed.ok()) {
      failures_.erase(sandbox);
      collection.removed.push_back(sandbox);
      continue;
    }
    collection.failed.emplace_back(sandbox, removed.message());
    if (++failures_[sandbox] >= kRemovalAttempts) {
      failures_.erase(sandbox);
      collection.given_up.push_back(sandbox);
    } else {
      retry.emplace_back(ended_at, sandbox);  // due again, at the next Collect
    }
  }
  for (auto& [ended_at, sandbox] : retry) {
    by_path_.emplace(sandbox, ended_at);
    by_time_.emplace(ended_at, std::move(sandbox));
  }
  return collection;
}

Status SandboxGc::Remove(const std::string& sandbox) {
  std::optional<SandboxName> name = ParseSandboxPath(sandbox.substr(frameworks_dir_.size() + 1));
  if (!name) return Status::Error("'" + sandbox + "' is not a sandbox");
  UniqueFd frameworks(open(frameworks_dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!frameworks.valid()) return Status::Ok();
  // Every level down to runs/ is the agent's; a symlink among them is refused.
  std::vector<std::string> levels = {
      name->framework_id, name->framework_id + "/executors",
      name->framework_id + "/executors/" + name->executor_id,
      name->framework_id + "/executors/" + name->executor_id + "/runs"};
  UniqueFd runs(OpenBeneathErrno(frameworks.get(), levels.back(), O_RDONLY | O_DIRECTORY));
  if (!runs.valid()) return Status::Ok();  // already gone
  Status removed = RemoveTreeAt(runs.get(), name->container_id);
  if (!removed.ok()) return removed;
  // Empty parents go too (one chain per executor id would pile up otherwise).
  for (size_t i = levels.size(); i-- > 0;) {
    UniqueFd parent(i == 0
                        ? dup(frameworks.get())
                        : OpenBeneathErrno(frameworks.get(), levels[i - 1], O_PATH | O_DIRECTORY));
    std::string child = levels[i].substr(levels[i].rfind('/') + 1);
    if (!parent.valid() || unlinkat(parent.get(), child.c_str(), AT_REMOVEDIR) != 0) break;
  }
  return Status::Ok();
}

double SandboxGc::DiskUsage(const std::string& path) {
  struct statvfs disk {};
  if (statvfs(path.c_str(), &disk) != 0) return 0;
  double used = static_cast<double>(disk.f_blocks - disk.f_bfree);
  double available = static_cast<double>(disk.f_bavail);
  return used + available > 0 ? used / (used + available) : 0;
}

}  // namespace stoa::agent

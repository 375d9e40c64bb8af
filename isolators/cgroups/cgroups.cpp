#include "isolators/cgroups/cgroups.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace stoa::isolators::cgroups {
namespace {

namespace fs = std::filesystem;

struct MountEntry {
  std::string root;
  std::string mount_point;
  std::string type;
  std::string options;  // super options
};

// /proc/self/mountinfo: "id parent major:minor root mount_point options [tags] - type source
// super".
std::vector<MountEntry> Mounts() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device;
    MountEntry entry;
    fields >> id >> parent >> device >> entry.root >> entry.mount_point;
    std::string word;
    while (fields >> word && word != "-") {
    }
    std::string source;
    fields >> entry.type >> source >> entry.options;
    if (entry.type == "cgroup" || entry.type == "cgroup2") mounts.push_back(std::move(entry));
  }
  return mounts;
}

bool HasItem(const std::string& list, const std::string& item, char separator) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(separator, start);
    if (end == std::string::npos) end = list.size();
    if (list.compare(start, end - start, item) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<Hierarchy> FindHierarchy(const std::string& controller) {
  std::vector<MountEntry> mounts = Mounts();
  for (const auto& m : mounts) {
    if (m.type != "cgroup2" || m.root != "/") continue;
    Result<std::string> controllers = Read(m.mount_point, "cgroup.controllers");
    if (controllers.ok() && HasItem(Trim(*controllers), controller, ' ')) {
      return Hierarchy{m.mount_point, 2};
    }
  }
  for (const auto& m : mounts) {
    if (m.type == "cgroup" && m.root == "/" && HasItem(m.options, controller, ',')) {
      return Hierarchy{m.mount_point, 1};
    }
  }
  return Status::Error(
      "the '" + controller +
      "' cgroup controller is not available: no cgroup2 mount lists it in "
      "cgroup.controllers and no cgroup v1 mount has it (see /proc/self/mountinfo)");
}

std::optional<Hierarchy> FindUnifiedHierarchy() {
  for (const auto& m : Mounts()) {
    if (m.type == "cgroup2" && m.root == "/" && access(m.mount_point.c_str(), W_OK) == 0) {
      return Hierarchy{m.mount_point, 2};
    }
  }
  return std::nullopt;
}

std::string ContainerPath(const Hierarchy& hierarchy, const std::string& root,
                          const std::string& container_id) {
  return hierarchy.mount_point + "/" + root + "/" + container_id;
}

Status Create(const Hierarchy& hierarchy, const std::string& root, const std::string& container_id,
              const std::string& controller) {
  std::vector<std::string> levels = {hierarchy.mount_point};
  std::string path = hierarchy.mount_point;
  for (const auto& part : fs::path(root)) {
    if (part.empty() || part == "/") continue;
    // Two appends, not `"/" + part`: g++ 12 at -O3 warns falsely (-Wrestrict)
    // about the temporary that operator+ builds.
    path += '/';
    path += part.native();
    levels.push_back(path);
  }
  levels.push_back(path + "/" + container_id);
  for (size_t i = 0; i < levels.size(); ++i) {
    if (i > 0 && mkdir(levels[i].c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Error("cannot create cgroup '" + levels[i] + "': " + ErrnoText(errno));
    }
    // v2: a controller must be enabled in every parent's subtree_control.
    if (hierarchy.version == 2 && !controller.empty() && i + 1 < levels.size()) {
      Result<std::string> enabled = Read(levels[i], "cgroup.subtree_control");
      if (enabled.ok() && HasItem(Trim(*enabled), controller, ' ')) continue;
      if (Status s = Write(levels[i], "cgroup.subtree_control", "+" + controller); !s.ok()) {
        return Status::Error("cannot enable the '" + controller + "' controller for '" +
                             levels[i + 1] + "': " + s.message());
      }
    }
  }
  return Status::Ok();
}

Status Remove(const std::string& path) {
  // A cgroup whose last process just exited may briefly refuse (EBUSY).
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (rmdir(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * (attempt + 1)));
  }
  return Status::Error("cannot remove cgroup '" + path + "': " + ErrnoText(errno));
}

std::vector<std::string> List(const Hierarchy& hierarchy, const std::string& root) {
  std::vector<std::string> ids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(hierarchy.mount_point + "/" + root, error)) {
    if (entry.is_directory(error)) ids.push_back(entry.path().filename().string());
  }
  return ids;
}

Status RemoveOrphans(const Hierarchy& hierarchy, const std::string& root,
                     const std::vector<std::string>& orphans, const std::set<std::string>& keep) {
  for (const auto& id : orphans) {
    if (Status s = Remove(ContainerPath(hierarchy, root, id)); !s.ok()) return s;
  }
  RemoveStale(hierarchy, root, keep);
  return Status::Ok();
}

std::vector<std::string> RemoveStale(const Hierarchy& hierarchy, const std::string& root,
                                     const std::set<std::string>& keep, double min_age_seconds) {
  std::vector<std::string> removed;
  time_t now = time(nullptr);
  for (const auto& id : List(hierarchy, root)) {
    if (keep.count(id) > 0) continue;
    std::string path = ContainerPath(hierarchy, root, id);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || static_cast<double>(now - st.st_mtime) < min_age_seconds) {
      continue;
    }
    if (!Processes(path).empty()) continue;
    if (rmdir(path.c_str()) == 0) removed.push_back(id);
  }
  return removed;
}

Status Write(const std::string& path, const std::string& file, const std::string& value) {
  std::string full = path + "/" + file;
  int fd = open(full.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open '" + full + "': " + ErrnoText(errno));
  ssize_t written;
  do {
    written = write(fd, value.data(), value.size());
  } while (written < 0 && errno == EINTR);
  int error = errno;
  close(fd);
  if (written != static_cast<ssize_t>(value.size())) {
    return Status::Error("cannot write '" + value + "' to '" + full + "': " + ErrnoText(error));
  }
  return Status::Ok();
}

Result<std::string> Read(const std::string& path, const std::string& file) {
  std::string full = path + "/" + file;
  int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open '" + full + "': " + ErrnoText(errno));
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int error = errno;
      close(fd);
      return Status::Error("cannot read '" + full + "': " + ErrnoText(error));
    }
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return text;
}

Result<std::optional<uint64_t>> ReadNumber(const std::string& path, const std::string& file) {
  Result<std::string> text = Read(path, file);
  if (!text.ok()) return text.status();
  std::string value = Trim(*text);
  if (value.rfind("max", 0) == 0) return std::optional<uint64_t>();
  char* end = nullptr;
  errno = 0;
  unsigned long long number = std::strtoull(value.c_str(), &end, 10);
  if (end == value.c_str() || errno != 0) {
    return Status::Error("'" + path + "/" + file + "' holds '" + value + "', not a number");
  }
  return std::optional<uint64_t>(number);
}

Result<std::map<std::string, uint64_t>> ReadKeyed(const std::string& path,
                                                  const std::string& file) {
  Result<std::string> text = Read(path, file);
  if (!text.ok()) return text.status();
  std::map<std::string, uint64_t> values;
  std::istringstream lines(*text);
  std::string key;
  uint64_t value = 0;
  while (lines >> key >> value) values[key] = value;
  return values;
}

Status Assign(const std::string& path, pid_t pid) {
  return Write(path, "cgroup.procs", std::to_string(pid));
}

std::vector<pid_t> Processes(const std::string& path) {
  std::vector<pid_t> pids;
  Result<std::string> text = Read(path, "cgroup.procs");
  if (!text.ok()) return pids;
  std::istringstream lines(*text);
  pid_t pid = 0;
  while (lines >> pid) pids.push_back(pid);
  return pids;
}

Status KillAll(const Hierarchy& hierarchy, const std::string& path, double timeout_seconds) {
  if (!Exists(path)) return Status::Ok();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(timeout_seconds));
  bool kernel_kill = hierarchy.version == 2 && Exists(path + "/cgroup.kill");
  std::string freeze_file, frozen, thawed;
  if (hierarchy.version == 2) {
    freeze_file = "cgroup.freeze", frozen = "1", thawed = "0";
  } else if (Exists(path + "/freezer.state")) {
    freeze_file = "freezer.state", frozen = "FROZEN", thawed = "THAWED";
  }
  auto pause = std::chrono::microseconds(200);
  while (true) {
    std::vector<pid_t> pids = Processes(path);
    if (pids.empty()) return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(std::to_string(pids.size()) + " process(es) of cgroup '" + path +
                           "' are still alive after " + std::to_string(timeout_seconds) +
                           "s of SIGKILL (first: pid " + std::to_string(pids.front()) + ")");
    }
    if (kernel_kill) {
      if (Status s = Write(path, "cgroup.kill", "1"); !s.ok()) kernel_kill = false;
    }
    if (!kernel_kill) {
      // Frozen processes cannot fork between the listing and the kill.
      bool froze = !freeze_file.empty() && Write(path, freeze_file, frozen).ok();
      for (pid_t pid : Processes(path)) kill(pid, SIGKILL);
      if (froze) Write(path, freeze_file, thawed);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

}  // namespace stoa::isolators::cgroups

#include "tests/test_util.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace stoa::testing {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TempDir::TempDir() {
  std::string pattern = "/tmp/stoa-test-XXXXXX";
  char* made = mkdtemp(pattern.data());
  path_ = made != nullptr ? made : "/tmp/stoa-test";
}

TempDir::~TempDir() {
  KillProcessesUnder(path_);
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

CgroupRoot::CgroupRoot() {
  static int counter = 0;
  name_ = "stoa-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

CgroupRoot::~CgroupRoot() {
  std::error_code error;
  for (const auto& mount : fs::directory_iterator("/sys/fs/cgroup", error)) {
    fs::path root = mount.path() / name_;
    if (!fs::is_directory(root, error)) continue;
    // Deepest first: a cgroup can only be removed once it has no children.
    std::vector<fs::path> cgroups;
    for (const auto& entry : fs::recursive_directory_iterator(root, error)) {
      if (entry.is_directory(error)) cgroups.push_back(entry.path());
    }
    std::sort(cgroups.begin(), cgroups.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    cgroups.push_back(root);
    for (const auto& cgroup : cgroups) {
      // Killed processes take a moment to leave their cgroup: up to 10 s each.
      for (int attempt = 0; attempt < 500; ++attempt) {
        std::ifstream procs(cgroup / "cgroup.procs");
        pid_t pid;
        while (procs >> pid) kill(pid, SIGKILL);
        if (rmdir(cgroup.c_str()) == 0 || errno == ENOENT) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

std::string BinDir() { return fs::read_symlink("/proc/self/exe").parent_path().string(); }

void KillProcessesUnder(const std::string& dir) {
  std::error_code error;
  std::string prefix = fs::weakly_canonical(dir, error).string();
  if (prefix.empty()) return;
  for (int round = 0; round < 3; ++round) {
    for (const auto& entry : fs::directory_iterator("/proc", error)) {
      std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = std::atoi(name.c_str());
      if (pid == getpid()) continue;
      std::error_code link_error;
      std::string cwd = fs::read_symlink(entry.path() / "cwd", link_error).string();
      if (!link_error && cwd.rfind(prefix, 0) == 0) kill(pid, SIGKILL);
    }
  }
}

Process::Process(std::vector<std::string> args, std::string output_path)
    : output_path_(std::move(output_path)) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(output_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    // Nothing else of the test's: a daemon that outlives its test must not
    // hold the test's files (a build lock `flock` passed down, sockets).
    close_range(3, ~0U, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

Process::~Process() {
  if (running()) {
    Kill(SIGKILL);
    Wait();
  }
}

void Process::Kill(int signal) {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, signal);
}

bool Process::running() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([this] { return !running(); }, timeout);
  return exit_code_;
}

std::string Process::Output() const {
  std::ifstream in(output_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace stoa::testing

namespace stoa::testing {

constexpr const char* kZkServerScript = "/usr/share/zookeeper/bin/zkServer.sh";

ZooKeeperServer::ZooKeeperServer(std::string dir) : dir_(std::move(dir)) {
  if (access(kZkServerScript, X_OK) != 0) {
    error_ = std::string(kZkServerScript) + " is missing: install the 'zookeeper' package";
    return;
  }
  fs::create_directories(dir_ + "/data");
  port_ = FreePort();
  std::string config = dir_ + "/zoo.cfg";
  {
    std::ofstream out(config);
    out << "tickTime=500\n"
        << "initLimit=10\nsyncLimit=5\n"
        << "dataDir=" << dir_ << "/data\n"
        << "clientPort=" << port_ << "\n"
        << "clientPortAddress=127.0.0.1\n"
        << "admin.enableServer=false\n"
        << "4lw.commands.whitelist=srvr,ruok\n"
        << "minSessionTimeout=1000\nmaxSessionTimeout=30000\n"
        // Tests crash the server process, never the host: what it wrote is in
        // the page cache either way, so its log need not be fsynced.
        << "forceSync=no\n";
  }
  Start();
}

bool ZooKeeperServer::Start() {
  setenv("SERVER_JVMFLAGS", "-Xmx256m", 1);
  setenv("ZOO_LOG_DIR", dir_.c_str(), 1);
  setenv("ZOO_LOG4J_PROP", "WARN,CONSOLE", 1);
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"/bin/bash", kZkServerScript, "start-foreground", dir_ + "/zoo.cfg"},
      dir_ + "/zookeeper.out");
  if (!WaitFor([this] { return Ready() || !process_->running(); }, std::chrono::seconds(60)) ||
      !Ready()) {
    error_ = "ZooKeeper did not become ready on port " + std::to_string(port_) + ": " +
             process_->Output();
    return false;
  }
  error_.clear();
  return true;
}

void ZooKeeperServer::Stop() {
  if (!process_) return;
  process_->Kill(SIGKILL);
  process_->Wait();
  process_.reset();
}

ZooKeeperServer::~ZooKeeperServer() { Stop(); }

bool ZooKeeperServer::Ready() const {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  bool ready = false;
  timeval timeout{2, 0};  // a server still starting may accept and not answer
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    if (write(fd, "srvr", 4) == 4) {
      std::string reply;
      char buffer[512];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0)
        reply.append(buffer, static_cast<size_t>(n));
      ready = reply.find("Mode:") != std::string::npos;
    }
  }
  close(fd);
  return ready;
}

}  // namespace stoa::testing

// Helpers shared by the cluster and system tests: temporary directories, free
// ports, waiting on a condition with a deadline, and child processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace stoa::testing {

// A fresh directory under /tmp, removed (with whatever runs in it) at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A cgroups root of its own for the agents a test starts (pass name() as
// --cgroups_root); at scope exit every cgroup under it, in every hierarchy, is
// emptied and removed, even those of agents the test killed.
class CgroupRoot {
 public:
  CgroupRoot();
  ~CgroupRoot();
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// The whole of a file; empty when it cannot be read.
std::string ReadFile(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The directory holding the build's binaries (where this test binary is).
std::string BinDir();

// SIGKILLs every process whose working directory is under `dir` (executors and
// tasks that tests leave behind on purpose).
void KillProcessesUnder(const std::string& dir);

// A child process with its output in a file.
class Process {
 public:
  Process(std::vector<std::string> args, std::string output_path);
  ~Process();  // SIGKILLs and reaps if still running
  pid_t pid() const { return pid_; }
  void Kill(int signal);
  // Waits for exit; returns the exit code (128+signal when killed), or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool running();
  std::string Output() const;  // what it printed so far

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string output_path_;
};

}  // namespace stoa::testing

namespace stoa::testing {

// A real ZooKeeper server (Debian's `zookeeper` package) on a free loopback
// port with its data in `dir`; ready when `srvr` answers with a Mode line.
class ZooKeeperServer {
 public:
  explicit ZooKeeperServer(std::string dir);
  ~ZooKeeperServer();
  // Empty when the server is up; otherwise why it is not (for GTEST_SKIP/FAIL).
  const std::string& error() const { return error_; }
  std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // Kills the server (as a crash would) and starts it again on the same port
  // and data: sessions survive if clients reconnect within their timeout.
  void Stop();
  bool Start();  // false (and error() says why) if it did not become ready

 private:
  bool Ready() const;
  std::string dir_;
  int port_ = 0;
  std::string error_;
  std::unique_ptr<Process> process_;
};

}  // namespace stoa::testing

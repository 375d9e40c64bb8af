// The probes of HTTP(S) and TCP checks, and the threads they run on so that
// the executor's loop never waits for one. Each probe targets 127.0.0.1 (the
// task shares the executor's network) and ends by its timeout, or within
// about a second once cancelled. COMMAND probes are processes the executor
// launches and reaps itself; JudgeCommand reads their wait status.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/safe_fs.hpp"
#include "executors/health_checker.hpp"
#include "protocols/messages.hpp"

namespace stoa::executors {

// GET scheme://127.0.0.1:port/path through libcurl, without a proxy, without
// following redirects and (for https) without verifying the certificate, as
// Mesos's checks do. Passed: a 2xx or 3xx answer within the timeout.
ProbeResult ProbeHttp(const CheckInfo& check, const std::atomic<bool>& cancelled);
// A TCP connection to 127.0.0.1:port within the timeout.
ProbeResult ProbeTcp(const CheckInfo& check, const std::atomic<bool>& cancelled);
// A check command's wait status (waitpid's): passed when it exited with 0.
ProbeResult JudgeCommand(int wait_status);
// A check command that could not be started.
ProbeResult CommandNotStarted(const std::string& why);

// Runs probes on threads of their own and hands their results back to the
// loop, which polls fd() (readable while results wait).
class ProbeThreads {
 public:
  using Probe = std::function<ProbeResult(const std::atomic<bool>& cancelled)>;
  ProbeThreads();
  ~ProbeThreads();  // cancels the probes still running and joins their threads
  ProbeThreads(const ProbeThreads&) = delete;
  ProbeThreads& operator=(const ProbeThreads&) = delete;

  int fd() const { return wake_.get(); }
  // Runs `probe` on a new thread; its result comes back with `id`.
  void Start(uint64_t id, Probe probe);
  // The results that came in since the last call; their threads are joined.
  std::vector<std::pair<uint64_t, ProbeResult>> TakeFinished();
  size_t running() const;

 private:
  std::atomic<bool> cancelled_{false};
  UniqueFd wake_;
  mutable std::mutex mutex_;
  std::map<uint64_t, std::thread> threads_;
  std::vector<std::pair<uint64_t, ProbeResult>> finished_;
};

}  // namespace stoa::executors

#include "executors/probes.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "common/duration.hpp"
#include "common/status.hpp"

namespace stoa::executors {
namespace {

constexpr char kHost[] = "127.0.0.1";

// Whether a probe of `timeout_seconds` started at `started` has run out of time.
double SecondsLeft(double started, double timeout_seconds) {
  return started + timeout_seconds - MonotonicSeconds();
}

size_t DiscardBody(char*, size_t size, size_t count, void*) { return size * count; }

int AbortWhenCancelled(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

std::string Url(const CheckInfo& check) {
  std::string path = check.path.empty() ? "/" : check.path;
  if (path.front() != '/') path = "/" + path;
  return check.scheme + "://" + kHost + ":" + std::to_string(check.port) + path;
}

}  // namespace

ProbeResult ProbeHttp(const CheckInfo& check, const std::atomic<bool>& cancelled) {
  ProbeResult result;
  result.status.type = CheckType::kHttp;
  std::string url = Url(check);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    result.message = "GET " + url + " could not be made: libcurl failed to initialise";
    return result;
  }
  char error[CURL_ERROR_SIZE] = {0};
  long timeout_ms = std::max(1L, std::lround(check.timeout_seconds * 1000));
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // other threads: no SIGALRM
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // the task is here, not behind a proxy
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);  // as Mesos's checks (curl -k)
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "stoa-executor health check");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, AbortWhenCancelled);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&cancelled));
  CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    result.status.http_status_code = static_cast<int32_t>(status);
    result.passed = status >= 200 && status < 400;
    result.message = "GET " + url + " answered " + std::to_string(status);
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    result.message =
        "GET " + url + " had no answer within " + FormatDuration(check.timeout_seconds);
  } else {
    result.message =
        "GET " + url + " failed: " + (error[0] != '\0' ? error : curl_easy_strerror(code));
  }
  curl_easy_cleanup(curl);
  return result;
}

ProbeResult ProbeTcp(const CheckInfo& check, const std::atomic<bool>& cancelled) {
  ProbeResult result;
  result.status.type = CheckType::kTcp;
  result.status.tcp_succeeded = false;
  std::string target = std::string(kHost) + ":" + std::to_string(check.port);
  double started = MonotonicSeconds();
  UniqueFd socket_fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket_fd.valid()) {
    result.message = "cannot make a socket to connect to " + target + ": " + ErrnoText(errno);
    return result;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(check.port));
  inet_pton(AF_INET, kHost, &address.sin_addr);
  int error = 0;
  if (connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    error = errno;
  }
  // Waited for in slices, so that a cancel is seen within a tenth of a second.
  while (error == EINPROGRESS || error == EINTR) {
    double left = SecondsLeft(started, check.timeout_seconds);
    if (left <= 0 || cancelled.load()) {
      result.message =
          "no connection to " + target + " within " + FormatDuration(check.timeout_seconds);
      return result;
    }
    pollfd writable{socket_fd.get(), POLLOUT, 0};
    int ready = poll(&writable, 1, static_cast<int>(std::ceil(std::min(left, 0.1) * 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      error = errno;
      break;
    }
    if (ready == 0) continue;
    socklen_t length = sizeof(error);
    if (getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  }
  if (error != 0) {
    result.message = "cannot connect to " + target + ": " + ErrnoText(error);
    return result;
  }
  result.passed = true;
  result.status.tcp_succeeded = true;
  result.message = "connected to " + target;
  return result;
}

ProbeResult JudgeCommand(int wait_status) {
  ProbeResult result;
  result.status.type = CheckType::kCommand;
  if (WIFEXITED(wait_status)) {
    int code = WEXITSTATUS(wait_status);
    result.status.command_exit_code = code;
    result.passed = code == 0;
    result.message = "command exited with status " + std::to_string(code);
  } else if (WIFSIGNALED(wait_status)) {
    const char* name = sigabbrev_np(WTERMSIG(wait_status));
    result.message = "command was terminated by " +
                     (name != nullptr ? "SIG" + std::string(name)
                                      : "signal " + std::to_string(WTERMSIG(wait_status)));
  } else {
    result.message = "command ended with wait status " + std::to_string(wait_status);
  }
  return result;
}

ProbeResult CommandNotStarted(const std::string& why) {
  ProbeResult result;
  result.status.type = CheckType::kCommand;
  result.message = "command could not be started: " + why;
  return result;
}

ProbeThreads::ProbeThreads() : wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  // Once per process, on the thread that makes the first checker (the
  // executor's main thread), before any probe thread uses libcurl.
  static const CURLcode initialised = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)initialised;
}

ProbeThreads::~ProbeThreads() {
  cancelled_ = true;
  std::map<uint64_t, std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& [id, thread] : threads) thread.join();
}

void ProbeThreads::Start(uint64_t id, Probe probe) {
  std::lock_guard<std::mutex> lock(mutex_);
  threads_[id] = std::thread([this, id, probe = std::move(probe)] {
    ProbeResult result = probe(cancelled_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_.emplace_back(id, std::move(result));
    }
    uint64_t one = 1;
    ssize_t ignored = write(wake_.get(), &one, sizeof(one));
    (void)ignored;
  });
}

std::vector<std::pair<uint64_t, ProbeResult>> ProbeThreads::TakeFinished() {
  uint64_t count;
  ssize_t ignored = read(wake_.get(), &count, sizeof(count));
  (void)ignored;
  std::vector<std::pair<uint64_t, ProbeResult>> finished;
  std::vector<std::thread> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished.swap(finished_);
    for (const auto& [id, result] : finished) {
      auto thread = threads_.find(id);
      if (thread == threads_.end()) continue;
      ended.push_back(std::move(thread->second));
      threads_.erase(thread);
    }
  }
  // Each has handed its result over and is about to return.
  for (auto& thread : ended) thread.join();
  return finished;
}

size_t ProbeThreads::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_.size();
}

}  // namespace stoa::executors

// The fixture of the tests that run the real stoa-executor (built next to
// them) against a fake agent over ipc://: start it, answer its Subscribe,
// read its updates and acknowledge them.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/transport.hpp"
#include "executors/executor.hpp"
#include "protocols/codec.hpp"

namespace stoa::executor_test {

using Clock = std::chrono::steady_clock;

// Generous: the machine runs other builds while the tests run.
inline constexpr auto kWait = std::chrono::seconds(15);

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits until `path` holds `expected`, or the deadline passes.
inline bool WaitForFileContent(const std::filesystem::path& path, const std::string& expected) {
  auto deadline = Clock::now() + kWait;
  while (Clock::now() < deadline) {
    if (ReadFile(path) == expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits until `path` contains `text`, or the deadline passes.
inline bool WaitForFileContaining(const std::filesystem::path& path, const std::string& text) {
  auto deadline = Clock::now() + kWait;
  while (Clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// ---- the real executor against a fake agent ----

// Plays the agent: a ROUTER bound where the executor connects.
class FakeAgent {
 public:
  struct Received {
    std::string identity;
    ExecutorMessage message;
  };

  explicit FakeAgent(const std::string& address) : endpoint_("fake-agent") {
    Status bound = endpoint_.Bind(address);
    EXPECT_TRUE(bound.ok()) << bound.ToString();
    // Raw frames: Next() checks that each one decodes.
    endpoint_.Start([this](const FrameOrigin& origin, std::string_view frame, FrameTicket) {
      std::lock_guard<std::mutex> lock(mutex_);
      frames_.emplace_back(origin.id, std::string(frame));
      arrived_.notify_all();
      return Status::Ok();
    });
  }

  // The next message from the executor, or nullopt when none came by `deadline`.
  std::optional<Received> Next(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!arrived_.wait_until(lock, deadline, [&] { return !frames_.empty(); })) {
      return std::nullopt;
    }
    auto [identity, frame] = std::move(frames_.front());
    frames_.pop_front();
    lock.unlock();
    Result<Message> decoded = Decode(frame);
    if (!decoded.ok()) {
      ADD_FAILURE() << "the executor sent a frame that does not decode: " << decoded.error();
      return std::nullopt;
    }
    auto* message = std::get_if<ExecutorMessage>(&*decoded);
    if (message == nullptr) {
      ADD_FAILURE() << "the executor sent a message outside the executor channel";
      return std::nullopt;
    }
    identity_ = identity;
    return Received{identity, std::move(*message)};
  }

  // REQUIRES: a message came from the executor (its identity is known).
  void Send(ExecutorMessage message) { SendRaw(Encode(Message(std::move(message)))); }
  void SendRaw(std::string frame) { endpoint_.SendToPeer(identity_, std::move(frame)); }

 private:
  ZmqEndpoint endpoint_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<std::pair<std::string, std::string>> frames_;
  std::string identity_;
};

inline TaskInfo ShellTask(const TaskId& id, const std::string& command) {
  TaskInfo task;
  task.task_id = id;
  task.name = id;
  task.agent_id = "agent-1";
  task.command.value = command;
  task.command.shell = true;
  return task;
}

class Executor : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/stoa-executor-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr) << "mkdtemp: " << strerror(errno);
    dir_ = pattern;
    sandbox_ = dir_ / "sandbox";
    std::filesystem::create_directory(sandbox_);
    log_ = dir_ / "executor.log";
    agent_ = std::make_unique<FakeAgent>("ipc://" + (dir_ / "agent.sock").string());
    binary_ = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "stoa-executor";
    ASSERT_TRUE(std::filesystem::exists(binary_))
        << binary_ << " is missing: build the stoa-executor target";
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    agent_.reset();
    if (HasFailure()) std::cerr << "---- executor log ----\n" << ReadFile(log_) << "----\n";
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::vector<std::string> Environment(bool group) const {
    const char* path = getenv("PATH");
    return {
        std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"),
        "STOA_AGENT_ENDPOINT=ipc://" + (dir_ / "agent.sock").string(),
        "STOA_FRAMEWORK_ID=fw-1",
        "STOA_EXECUTOR_ID=exec-1",
        "STOA_SANDBOX=" + sandbox_.string(),
        "STOA_AGENT_ID=agent-1",
        std::string("STOA_EXECUTOR_GROUP=") + (group ? "1" : "0"),
        "STOA_EXECUTOR_SECRET=s3cret",
    };
  }

  void StartExecutor(bool group = false) { StartWithEnvironment(Environment(group)); }

  void StartWithEnvironment(std::vector<std::string> environment) {
    std::string binary = binary_.string();
    std::vector<char*> argv = {binary.data(), nullptr};
    std::vector<char*> envp;
    for (auto& variable : environment) envp.push_back(variable.data());
    envp.push_back(nullptr);
    int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(log_fd, 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0) << "fork: " << strerror(errno);
    if (pid_ == 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(log_fd);
  }

  // The executor's wait status once it exits, or nullopt if it is still running then.
  std::optional<int> WaitForExit(Clock::duration timeout = kWait) {
    if (pid_ <= 0) return std::nullopt;
    auto deadline = Clock::now() + timeout;
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    std::optional<int> result;
    while (true) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        result = status;
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      if (pidfd >= 0) {
        pollfd exited{pidfd, POLLIN, 0};
        poll(&exited, 1, static_cast<int>(left.count()));
      } else {
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
      }
    }
    if (pidfd >= 0) close(pidfd);
    return result;
  }

  void ExpectExitStatus(int code) {
    std::optional<int> status = WaitForExit();
    ASSERT_TRUE(status.has_value()) << "stoa-executor is still running";
    ASSERT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
    EXPECT_EQ(WEXITSTATUS(*status), code);
  }

  std::optional<execmsg::Subscribe> NextSubscribe() {
    auto deadline = Clock::now() + kWait;
    while (auto received = agent_->Next(deadline)) {
      if (auto* subscribe = std::get_if<execmsg::Subscribe>(&received->message)) {
        identity_ = received->identity;
        return *subscribe;
      }
      ADD_FAILURE() << "expected a Subscribe, got message #" << received->message.index();
    }
    return std::nullopt;
  }

  // The next update not seen before; re-sent updates and Subscribes are skipped
  // (re-sent ones that were acknowledged are acknowledged again, as the agent does).
  std::optional<TaskStatus> NextUpdate(bool ack = true) {
    auto deadline = Clock::now() + kWait;
    while (auto received = agent_->Next(deadline)) {
      auto* update = std::get_if<execmsg::Update>(&received->message);
      if (update == nullptr) continue;
      const TaskStatus& status = update->status;
      if (!seen_.insert(status.uuid).second) {
        if (acked_.count(status.uuid) > 0) Ack(status);
        continue;
      }
      if (ack) Ack(status);
      return status;
    }
    return std::nullopt;
  }

  // Updates until every task in `task_ids` is terminal, acknowledging each.
  std::map<TaskId, std::vector<TaskStatus>> UpdatesUntilTerminal(std::set<TaskId> task_ids) {
    std::map<TaskId, std::vector<TaskStatus>> updates;
    while (!task_ids.empty()) {
      std::optional<TaskStatus> status = NextUpdate();
      if (!status) {
        ADD_FAILURE() << "no update came for " << task_ids.size() << " task(s)";
        break;
      }
      if (IsTerminal(status->state)) task_ids.erase(status->task_id);
      updates[status->task_id].push_back(*status);
    }
    return updates;
  }

  void Ack(const TaskStatus& status) {
    acked_.insert(status.uuid);
    agent_->Send(execmsg::Ack{status.task_id, status.uuid});
  }

  // Waits for the executor's Subscribe and answers it with a Launch.
  void SubscribeAndLaunch(std::vector<TaskInfo> tasks) {
    std::optional<execmsg::Subscribe> subscribe = NextSubscribe();
    ASSERT_TRUE(subscribe.has_value()) << "no Subscribe from stoa-executor";
    EXPECT_EQ(subscribe->secret, "s3cret");
    agent_->Send(execmsg::Launch{std::move(tasks)});
  }

  // The states of `updates`, e.g. {kStarting, kRunning, kFinished}.
  static std::vector<TaskState> States(const std::vector<TaskStatus>& updates) {
    std::vector<TaskState> states;
    for (const auto& status : updates) states.push_back(status.state);
    return states;
  }

  std::filesystem::path dir_;
  std::filesystem::path sandbox_;
  std::filesystem::path log_;
  std::filesystem::path binary_;
  std::unique_ptr<FakeAgent> agent_;
  pid_t pid_ = -1;
  std::string identity_;
  std::set<std::string> seen_;
  std::set<std::string> acked_;
};

}  // namespace stoa::executor_test

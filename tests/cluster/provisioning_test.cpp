// Provisioning off the launcher (A16), through the whole cluster: a root
// filesystem tarball is unpacked before its container is launched and away
// from other launches, once however many containers need it; a task killed
// meanwhile ends and leaves no container; a resize asked for meanwhile is not
// lost. The unpack is held up for real: `tar` on the agent's PATH is a wrapper
// that, for a tarball with a gate (a FIFO), reads the gate to its end before
// it runs the real tar. The test sees the unpack start (the wrapper opens the
// gate) and decides when it goes on. Needs root (filesystem/linux).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/safe_fs.hpp"
#include "tests/cluster/cluster_fixture.hpp"

namespace stoa {
namespace {

namespace fs = std::filesystem;
using cluster::ClusterTest;
using cluster::Command;
using cluster::Recorder;
using json = nlohmann::json;
using stoa::testing::ReadFile;
using stoa::testing::WaitFor;

constexpr const char* kIsolation =
    "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
    "namespaces/ipc,filesystem/linux";

// The FIFO the tar wrapper reads to its end before it unpacks one tarball.
class Gate {
 public:
  explicit Gate(std::string path) : path_(std::move(path)) {
    EXPECT_EQ(mkfifo(path_.c_str(), 0600), 0) << path_;
    node_ = UniqueFd(open(path_.c_str(), O_PATH | O_CLOEXEC));
  }
  ~Gate() { Release(); }

  // Waits until the wrapper waits on the gate (the unpack has started) and
  // keeps the gate shut from then on.
  bool WaitForUnpack() {
    return WaitFor([&] {
      writer_ = UniqueFd(open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
      return writer_.valid();  // ENXIO while no one reads it
    });
  }

  // Lets the unpacks waiting on the gate go on, and later ones pass at once.
  void Release() {
    if (released_) return;
    released_ = true;
    std::string plain = path_ + ".open";
    std::ofstream(plain).put('\n');
    fs::rename(plain, path_);  // the wrapper waits only on a FIFO
    writer_.Reset();
    std::string node = "/proc/self/fd/" + std::to_string(node_.get());
    while (UniqueFd(open(node.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)).valid()) {
      // a reader still holds it: each open and close gives it its end of file
    }
  }

 private:
  std::string path_;
  UniqueFd node_;    // the FIFO itself, reachable after its name is replaced
  UniqueFd writer_;  // held while the gate is shut
  bool released_ = false;
};

class ProvisioningClusterTest : public ClusterTest {
 protected:
  ProvisioningClusterTest() { agent_count_ = 1; }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: cgroups, namespaces and mounts";
    for (const char* controller : {"cpu", "memory", "pids"}) {
      auto found = isolators::cgroups::FindHierarchy(controller);
      if (!found.ok()) GTEST_SKIP() << found.error();
    }
    if (!fs::exists("/bin/busybox")) {
      GTEST_SKIP() << "needs /bin/busybox (Debian's busybox-static; scripts/install-deps.sh)";
    }
    const char* path = std::getenv("PATH");
    old_path_ = path != nullptr ? path : "/usr/bin:/bin";
    std::string real_tar;
    for (const char* candidate : {"/usr/bin/tar", "/bin/tar"}) {
      if (access(candidate, X_OK) == 0) real_tar = candidate;
    }
    if (real_tar.empty()) GTEST_SKIP() << "needs tar";
    MakeTarballs(real_tar);
    std::string wrappers = dir_.path() + "/wrappers";
    fs::create_directories(wrappers);
    std::ofstream(wrappers + "/tar") << "#!/bin/sh\n"
                                        "tarball=\n"
                                        "previous=\n"
                                        "for arg in \"$@\"; do\n"
                                        "  [ \"$previous\" = --file ] && tarball=$arg\n"
                                        "  previous=$arg\n"
                                        "done\n"
                                        "echo \"$tarball\" >> '"
                                     << runs_ << "'\n"
                                     << "gate=\"$tarball.gate\"\n"
                                        "if [ -p \"$gate\" ]; then read line < \"$gate\"; fi\n"
                                        "exec '"
                                     << real_tar << "' \"$@\"\n";
    fs::permissions(wrappers + "/tar", fs::perms::owner_all);
    setenv("PATH", (wrappers + ":" + old_path_).c_str(), 1);  // the agent runs tar from here
    ClusterTest::SetUp();
  }

  void TearDown() override {
    gates_.clear();  // no unpack left waiting: the agent's provisioners can stop
    ClusterTest::TearDown();
    if (!old_path_.empty()) setenv("PATH", old_path_.c_str(), 1);
  }

  void AdjustAgent(int, agent::AgentOptions& options) override {
    options.isolation = kIsolation;
    options.image_cache_dir = cache_;
  }

  // Tarballs of a busybox root: slow.tar (with a gate) and fast.tar.
  void MakeTarballs(const std::string& real_tar) {
    std::string root = dir_.path() + "/busybox-root";
    fs::create_directories(root + "/bin");
    fs::copy_file("/bin/busybox", root + "/bin/busybox");
    for (const char* applet : {"sh", "echo", "sleep", "cat", "test"}) {
      fs::create_symlink("busybox", root + "/bin/" + applet);
    }
    for (const std::string& name : {slow_, fast_}) {
      std::string command = "'" + real_tar + "' -cf '" + name + "' -C '" + root + "' .";
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
    gates_.push_back(std::make_unique<Gate>(slow_ + ".gate"));
  }
  Gate& slow_gate() { return *gates_.front(); }

  // The tarballs tar was run on, one line each.
  std::vector<std::string> Unpacks() {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(runs_));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  size_t CachedImages() {
    size_t images = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(cache_, error)) {
      images +=
          entry.is_directory() && entry.path().filename().string().find('.') == std::string::npos;
    }
    return images;
  }

  // Launches `tasks` on an offer not used yet (reviving for one if need be).
  void LaunchOnNextOffer(Recorder& recorder, sdk::SchedulerDriver& driver,
                         std::vector<TaskInfo> tasks) {
    if (recorder.offers().size() <= used_offers_) driver.Revive();
    ASSERT_TRUE(WaitFor([&] { return recorder.offers().size() > used_offers_; }));
    used_offers_ = recorder.offers().size();
    driver.Launch(recorder.offers().back(), std::move(tasks));
  }

  json AgentState() { return json::parse(agents_[0]->StateJson()); }

  TaskInfo InImage(const std::string& id, const std::string& tarball, const std::string& command) {
    TaskInfo task = Command(id, command);
    task.container.rootfs = tarball;
    return task;
  }

  std::string old_path_;
  std::string runs_ = dir_.path() + "/tar-runs";
  std::string cache_ = dir_.path() + "/images";
  std::string slow_ = dir_.path() + "/slow.tar";
  std::string fast_ = dir_.path() + "/fast.tar";
  std::vector<std::unique_ptr<Gate>> gates_;
  size_t used_offers_ = 0;
};

// A launch without an image, and one whose image is unpacked already, go on
// while another container's image is still being unpacked; two containers of
// that image wait for its one unpack and then both run.
TEST_F(ProvisioningClusterTest, OtherLaunchesGoOnWhileAnImageIsUnpackedOnceForTwoContainers) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnNextOffer(recorder, driver, {InImage("warm", fast_, "echo warm")});
  ASSERT_TRUE(recorder.WaitForState("warm", TaskState::kFinished));

  LaunchOnNextOffer(recorder, driver,
                    {InImage("slow", slow_, "echo slow"), InImage("twin", slow_, "echo twin")});
  ASSERT_TRUE(slow_gate().WaitForUnpack());
  LaunchOnNextOffer(recorder, driver,
                    {Command("plain", "echo plain"), InImage("cached", fast_, "echo cached")});
  EXPECT_TRUE(recorder.WaitForState("plain", TaskState::kFinished));
  EXPECT_TRUE(recorder.WaitForState("cached", TaskState::kFinished));
  // The unpack is still held at its gate: neither container of it has started.
  EXPECT_FALSE(recorder.Find("slow", TaskState::kRunning).has_value());
  EXPECT_FALSE(recorder.Find("twin", TaskState::kRunning).has_value());

  slow_gate().Release();
  EXPECT_TRUE(recorder.WaitForState("slow", TaskState::kFinished));
  EXPECT_TRUE(recorder.WaitForState("twin", TaskState::kFinished));
  EXPECT_EQ(Unpacks(), (std::vector<std::string>{fast_, slow_}));  // each tarball once
  EXPECT_EQ(CachedImages(), 2u);
}

// A task killed while its image is unpacked ends at once (TASK_KILLED); once
// the unpack is done, no container is launched for it and nothing is left.
TEST_F(ProvisioningClusterTest, ATaskKilledWhileItsImageIsUnpackedEndsAndLeavesNoContainer) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  LaunchOnNextOffer(recorder, driver, {InImage("doomed", slow_, "sleep 600")});
  ASSERT_TRUE(slow_gate().WaitForUnpack());
  driver.Kill("doomed");
  ASSERT_TRUE(recorder.WaitForState("doomed", TaskState::kKilled));
  EXPECT_EQ(recorder.Find("doomed", TaskState::kKilled)->reason, Reason::kTaskKilledDuringLaunch);

  slow_gate().Release();
  // The executor is forgotten, no container ran or runs, no cgroup is left.
  ASSERT_TRUE(WaitFor([&] { return AgentState()["frameworks"].empty(); })) << AgentState().dump();
  ASSERT_TRUE(WaitFor([&] { return CachedImages() == 1; }));  // the unpack finished
  auto statistics = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
  ASSERT_TRUE(statistics.ok());
  EXPECT_TRUE(json::parse(*statistics).empty()) << *statistics;
  std::string containers = dir_.path() + "/agent0/containers";
  EXPECT_TRUE(WaitFor([&] { return fs::is_empty(containers); }));
  auto pids = isolators::cgroups::FindHierarchy("pids");
  ASSERT_TRUE(pids.ok()) << pids.error();
  EXPECT_TRUE(isolators::cgroups::List(*pids, cgroups_root_).empty());
  EXPECT_FALSE(recorder.Find("doomed", TaskState::kRunning).has_value());
}

// A second task group for an executor whose container is still provisioned
// resizes it: the resize waits for the launch, it is not lost or applied first.
TEST_F(ProvisioningClusterTest, AResizeAskedForWhileTheContainerIsProvisionedIsApplied) {
  Recorder recorder;
  auto& driver = StartDriver(&recorder);
  ASSERT_TRUE(recorder.WaitForOffers(1));
  Operation group;
  group.type = Operation::Type::kLaunchGroup;
  group.executor.executor_id = "grouped";
  group.executor.group = true;
  group.executor.resources = *Resources::Parse("cpus:0.1;mem:32");
  group.tasks = {InImage("first", slow_, "sleep 60")};
  size_t seen = recorder.offers().size();
  driver.Accept({recorder.offers().back().id}, {group}, /*refuse_seconds=*/0);
  ASSERT_TRUE(slow_gate().WaitForUnpack());
  ASSERT_TRUE(WaitFor([&] { return recorder.offers().size() > seen; }));
  group.tasks = {Command("second", "sleep 60", "cpus:0.5;mem:64")};
  driver.Accept({recorder.offers().back().id}, {group}, 0);
  // The agent has the second task and wants the container at 32 + 64 + 64 MiB.
  auto wanted_mem = [&]() -> double {
    json state = AgentState();
    for (const auto& framework : state["frameworks"]) {
      for (const auto& executor : framework["executors"]) {
        if (executor["id"] == "grouped") return executor["resources"].value("mem", 0.0);
      }
    }
    return 0;
  };
  ASSERT_TRUE(WaitFor([&] { return wanted_mem() == 160; })) << AgentState().dump();

  slow_gate().Release();
  ASSERT_TRUE(recorder.WaitForState("first", TaskState::kRunning));
  ASSERT_TRUE(recorder.WaitForState("second", TaskState::kRunning));
  auto memory_limit = [&]() -> uint64_t {
    auto body = HttpGet("127.0.0.1", agents_[0]->http_port(), "/monitor/statistics");
    if (!body.ok()) return 0;
    json statistics = json::parse(*body);
    if (statistics.size() != 1) return 0;
    return statistics[0]["statistics"].value("mem_limit_bytes", uint64_t{0});
  };
  EXPECT_TRUE(WaitFor([&] { return memory_limit() == (160u << 20); })) << memory_limit();
  driver.Kill("first");
  driver.Kill("second");
  EXPECT_TRUE(recorder.WaitForState("first", TaskState::kKilled));
  EXPECT_TRUE(recorder.WaitForState("second", TaskState::kKilled));
}

}  // namespace
}  // namespace stoa

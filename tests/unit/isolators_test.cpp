// The isolators, through the containerizer, on the real kernel: cgroup limits
// (memory, cpu, pids), namespaces (pid, uts, ipc, net, mount), root
// filesystems and volumes, recovery, and that nothing of a container outlives
// it. Needs root; skipped with the reason otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/containerizer.hpp"
#include "isolators/cgroups/cgroups.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

namespace fs = std::filesystem;
using agent::ContainerConfig;
using agent::Containerizer;
using agent::ContainerizerOptions;
using agent::ContainerTermination;
using stoa::testing::ReadFile;
using stoa::testing::WaitFor;

constexpr const char* kAllIsolators =
    "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,namespaces/mount,namespaces/uts,"
    "namespaces/ipc,namespaces/net,filesystem/linux";

std::string Helper() { return stoa::testing::BinDir() + "/stoa-isolation-helper"; }

// The namespaces (e.g. "pid:[4026532301]") `pid` is in that this process is not.
std::set<std::string> OwnNamespaces(pid_t pid) {
  std::set<std::string> result;
  for (const char* type : {"pid", "mnt", "uts", "ipc", "net"}) {
    std::error_code error;
    std::string theirs =
        fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + type, error).string();
    std::string ours = fs::read_symlink(std::string("/proc/self/ns/") + type, error).string();
    if (!theirs.empty() && theirs != ours) result.insert(theirs);
  }
  return result;
}

// Processes (other than zombies) in any of `namespaces`.
std::vector<pid_t> ProcessesIn(const std::set<std::string>& namespaces) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    for (const char* type : {"pid", "mnt", "uts", "ipc", "net"}) {
      std::error_code link_error;
      std::string ns = fs::read_symlink(entry.path() / "ns" / type, link_error).string();
      if (!link_error && namespaces.count(ns) > 0) {
        found.push_back(std::stoi(name));
        break;
      }
    }
  }
  return found;
}

// Whether `pid` runs (exists and is not a zombie).
bool Alive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// The pid a container's script wrote into `path`, once it did.
pid_t PidFrom(const std::string& path) {
  pid_t pid = 0;
  WaitFor([&] {
    std::string text = ReadFile(path);
    if (text.find('\n') == std::string::npos) return false;
    pid = static_cast<pid_t>(std::stol(text));
    return true;
  });
  return pid;
}

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: cgroups, namespaces and mounts";
    static std::atomic<int> counter{0};
    root_ = "stoa-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    work_dir_ = dir_.path() + "/work";
  }

  void TearDown() override {
    containerizers_.clear();
    for (const auto& hierarchy : Hierarchies()) {
      isolators::cgroups::Remove(hierarchy.mount_point + "/" + root_);
    }
  }

  // Skips the test unless the controllers the isolators need exist.
  bool Requires(const std::vector<std::string>& controllers) {
    for (const auto& controller : controllers) {
      auto found = isolators::cgroups::FindHierarchy(controller);
      if (!found.ok()) {
        missing_ = found.error();
        return false;
      }
    }
    return true;
  }

  std::vector<isolators::cgroups::Hierarchy> Hierarchies() {
    std::vector<isolators::cgroups::Hierarchy> all;
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
      auto found = isolators::cgroups::FindHierarchy(controller);
      if (found.ok()) all.push_back(*found);
    }
    if (auto unified = isolators::cgroups::FindUnifiedHierarchy()) all.push_back(*unified);
    return all;
  }

  Containerizer* Make(const std::string& isolation,
                      std::function<void(ContainerizerOptions&)> adjust = nullptr) {
    ContainerizerOptions options;
    options.work_dir = work_dir_;
    options.isolation = isolation;
    options.cgroups_root = root_;
    if (adjust) adjust(options);
    auto made = Containerizer::Create(options);
    EXPECT_TRUE(made.ok()) << made.error();
    if (!made.ok()) return nullptr;
    containerizers_.push_back(std::move(*made));
    return containerizers_.back().get();
  }

  ContainerConfig Program(const std::string& id, std::vector<std::string> argv,
                          const std::string& resources = "cpus:1;mem:128") {
    ContainerConfig config;
    config.container_id = id;
    config.program = argv.front();
    config.arguments.assign(argv.begin() + 1, argv.end());
    config.sandbox = dir_.path() + "/sandboxes/" + id;
    fs::create_directories(config.sandbox);
    config.resources = *Resources::Parse(resources);
    return config;
  }

  ContainerConfig Shell(const std::string& id, const std::string& script,
                        const std::string& resources = "cpus:1;mem:128") {
    return Program(id, {"/bin/sh", "-c", script}, resources);
  }

  std::string Output(const ContainerConfig& config) {
    return ReadFile(config.sandbox + "/executor.log");
  }

  // Runs `config` to its end and returns how it ended.
  ContainerTermination Run(Containerizer* containerizer, const ContainerConfig& config) {
    auto pid = containerizer->Launch(config, nullptr);
    EXPECT_TRUE(pid.ok()) << pid.error();
    auto termination = containerizer->Wait(config.container_id, 60);
    EXPECT_TRUE(termination.has_value()) << "container " << config.container_id << " never ended";
    return termination.value_or(ContainerTermination{});
  }

  // No cgroup, mount, runtime directory or namespace of the container is left.
  void ExpectNothingLeft(const std::string& id, const std::set<std::string>& namespaces = {}) {
    for (const auto& hierarchy : Hierarchies()) {
      std::string path = isolators::cgroups::ContainerPath(hierarchy, root_, id);
      EXPECT_FALSE(fs::exists(path)) << "cgroup left behind: " << path;
    }
    EXPECT_EQ(ReadFile("/proc/self/mountinfo").find(dir_.path()), std::string::npos)
        << "a mount of container " << id << " is left on the host";
    EXPECT_FALSE(fs::exists(work_dir_ + "/containers/" + id));
    if (!namespaces.empty()) {
      EXPECT_TRUE(ProcessesIn(namespaces).empty()) << "a process is left in its namespaces";
    }
  }

  // A tiny root filesystem: Debian's busybox-static and its applets.
  std::string BusyboxRoot() {
    std::string root = dir_.path() + "/busybox-root";
    if (fs::exists(root)) return root;
    fs::create_directories(root + "/bin");
    fs::create_directories(root + "/etc");
    fs::copy_file("/bin/busybox", root + "/bin/busybox");
    for (const char* applet :
         {"sh", "ls", "cat", "echo", "test", "touch", "grep", "hostname", "id", "sleep"}) {
      fs::create_symlink("busybox", root + "/bin/" + applet);
    }
    std::ofstream(root + "/etc/passwd") << "root:x:0:0:root:/:/bin/sh\n";
    return root;
  }

  stoa::testing::TempDir dir_;
  std::string root_;
  std::string work_dir_;
  std::string missing_;
  std::vector<std::unique_ptr<Containerizer>> containerizers_;
};

TEST_F(IsolationTest, GoingOverTheMemoryLimitEndsTheContainerWithMemoryLimit) {
  if (!Requires({"memory"})) GTEST_SKIP() << missing_;
  Containerizer* containerizer = Make("cgroups/mem,cgroups/pids,namespaces/pid");
  ASSERT_NE(containerizer, nullptr);
  auto config = Program("oom", {Helper(), "allocate", "256"}, "cpus:1;mem:64");
  ContainerTermination termination = Run(containerizer, config);
  ASSERT_TRUE(termination.limitation.has_value()) << termination.Describe();
  EXPECT_EQ(termination.limitation->reason, Reason::kMemoryLimit);
  EXPECT_NE(termination.limitation->message.find("64 MiB"), std::string::npos)
      << termination.limitation->message;
  EXPECT_EQ(Output(config).find("allocated"), std::string::npos) << Output(config);
  ExpectNothingLeft("oom");

  // Within the limit, the same program finishes.
  auto fits = Program("fits", {Helper(), "allocate", "16"}, "cpus:1;mem:64");
  termination = Run(containerizer, fits);
  EXPECT_FALSE(termination.limitation.has_value()) << termination.limitation->message;
  EXPECT_EQ(termination.wait_status, 0) << termination.Describe();
  ExpectNothingLeft("fits");
}

TEST_F(IsolationTest, CpuHardCapHoldsTheContainerAtItsCpus) {
  if (!Requires({"cpu", "cpuacct"})) GTEST_SKIP() << missing_;
  Containerizer* containerizer =
      Make("cgroups/cpu", [](ContainerizerOptions& o) { o.cgroups_enable_cfs = true; });
  ASSERT_NE(containerizer, nullptr);
  // Two busy threads would use two cpus; the container is given half of one.
  auto config = Program("spin", {Helper(), "spin", "2", "60"}, "cpus:0.5;mem:128");
  ASSERT_TRUE(containerizer->Launch(config, nullptr).ok());
  auto cpu_seconds = [&](const isolators::ResourceStatistics& s) {
    return s.cpus_user_seconds.value_or(0) + s.cpus_system_seconds.value_or(0);
  };
  isolators::ResourceStatistics first, last;
  ASSERT_TRUE(WaitFor([&] {
    auto usage = containerizer->Usage("spin");
    if (usage.ok()) first = *usage;
    return usage.ok() && cpu_seconds(first) > 0.05;
  }));
  // Until the container has used another cpu-second, as the cgroup counts it.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto usage = containerizer->Usage("spin");
        if (usage.ok()) last = *usage;
        return usage.ok() && cpu_seconds(last) - cpu_seconds(first) >= 1.0;
      },
      std::chrono::seconds(20)));
  double rate = (cpu_seconds(last) - cpu_seconds(first)) / (last.timestamp - first.timestamp);
  RecordProperty("cpus_used_per_second", std::to_string(rate));
  EXPECT_LE(rate, 0.6) << "cpus used per second, as the cgroup counted them";
  EXPECT_GT(last.cpus_nr_throttled.value_or(0), 0u);
  EXPECT_GT(last.cpus_throttled_seconds.value_or(0), 0);
  EXPECT_DOUBLE_EQ(last.cpus_limit.value_or(0), 0.5);
  ASSERT_TRUE(containerizer->Destroy("spin"));
  ASSERT_TRUE(containerizer->Wait("spin", 30).has_value());
  ExpectNothingLeft("spin");
}

TEST_F(IsolationTest, ForkBombIsContainedByThePidsLimit) {
  if (!Requires({"pids"})) GTEST_SKIP() << missing_;
  constexpr int kLimit = 32;
  Containerizer* containerizer =
      Make("cgroups/pids,cgroups/mem", [](ContainerizerOptions& o) { o.pids_limit = kLimit; });
  ASSERT_NE(containerizer, nullptr);
  auto bomb = Shell("bomb", "b() { b | b & }; b; exec sleep 600");
  ASSERT_TRUE(containerizer->Launch(bomb, nullptr).ok());
  auto hierarchy = isolators::cgroups::FindHierarchy("pids");
  std::string path = isolators::cgroups::ContainerPath(*hierarchy, root_, "bomb");
  // The kernel refused forks at the limit.
  ASSERT_TRUE(WaitFor([&] {
    auto events = isolators::cgroups::ReadKeyed(path, "pids.events");
    return events.ok() && (*events)["max"] > 0;
  })) << Output(bomb);
  for (int i = 0; i < 10; ++i) {
    auto usage = containerizer->Usage("bomb");
    ASSERT_TRUE(usage.ok()) << usage.error();
    EXPECT_LE(usage->processes.value_or(0), static_cast<uint64_t>(kLimit));
    EXPECT_EQ(usage->processes_limit.value_or(0), static_cast<uint64_t>(kLimit));
  }
  // Other containers still run.
  auto other = Shell("other", "echo still here");
  ContainerTermination termination = Run(containerizer, other);
  EXPECT_EQ(termination.wait_status, 0) << termination.Describe();
  EXPECT_EQ(Output(other), "still here\n");
  ExpectNothingLeft("other");
  // Destroying the bomb leaves nothing.
  ASSERT_TRUE(containerizer->Destroy("bomb"));
  auto ended = containerizer->Wait("bomb", 30);
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(ended->destroyed);
  ExpectNothingLeft("bomb");
}

TEST_F(IsolationTest, PidNamespaceShowsOnlyTheContainersProcesses) {
  Containerizer* containerizer = Make("namespaces/pid");
  ASSERT_NE(containerizer, nullptr);
  auto config = Shell("pids", "echo pid=$$; ls /proc | grep -c '^[0-9]'");
  ContainerTermination termination = Run(containerizer, config);
  EXPECT_EQ(termination.wait_status, 0) << termination.Describe() << Output(config);
  std::istringstream lines(Output(config));
  std::string pid_line, count_line;
  std::getline(lines, pid_line);
  std::getline(lines, count_line);
  EXPECT_EQ(pid_line, "pid=1");
  // The shell, ls and grep (and perhaps the subshell of the pipeline).
  EXPECT_LE(std::stoi(count_line), 4) << Output(config);
  ExpectNothingLeft("pids");
}

TEST_F(IsolationTest, UtsNamespaceGivesTheContainerItsOwnHostname) {
  Containerizer* containerizer = Make("namespaces/uts");
  ASSERT_NE(containerizer, nullptr);
  char host[HOST_NAME_MAX + 1] = {0};
  gethostname(host, HOST_NAME_MAX);
  auto named = Shell("named", "uname -n");
  named.container.hostname = "stoa-task-host";
  ASSERT_EQ(Run(containerizer, named).wait_status, 0) << Output(named);
  EXPECT_EQ(Output(named), "stoa-task-host\n");
  // Without a hostname: the container id's first 12 characters.
  auto derived = Shell("0123abcd-4567-89ef-0123-456789abcdef", "uname -n");
  ASSERT_EQ(Run(containerizer, derived).wait_status, 0) << Output(derived);
  EXPECT_EQ(Output(derived), "0123abcd4567\n");
  char after[HOST_NAME_MAX + 1] = {0};
  gethostname(after, HOST_NAME_MAX);
  EXPECT_STREQ(host, after);
  EXPECT_STRNE(host, "stoa-task-host");
}

TEST_F(IsolationTest, IpcAndNetworkNamespacesAreTheContainersOwn) {
  Containerizer* containerizer = Make("namespaces/ipc,namespaces/net");
  ASSERT_NE(containerizer, nullptr);
  auto isolated = Shell("netns", "cat /proc/net/dev; " + Helper() + " loopback; sleep 600");
  isolated.container.network_isolated = true;
  auto pid = containerizer->Launch(isolated, nullptr);
  ASSERT_TRUE(pid.ok()) << pid.error();
  ASSERT_TRUE(WaitFor([&] { return Output(isolated).find("loopback") != std::string::npos; }))
      << Output(isolated);
  std::set<std::string> namespaces = OwnNamespaces(*pid);
  EXPECT_EQ(namespaces.size(), 3u);  // ipc, net, and mnt (for a private /dev/shm)
  std::string devices = Output(isolated);
  EXPECT_NE(devices.find("lo:"), std::string::npos) << devices;
  EXPECT_NE(devices.find("loopback works"), std::string::npos) << devices;
  // None of the host's other interfaces.
  std::istringstream host_devices(ReadFile("/proc/net/dev"));
  std::string line;
  while (std::getline(host_devices, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name =
        line.substr(line.find_first_not_of(' '), colon - line.find_first_not_of(' '));
    if (name != "lo") {
      EXPECT_EQ(devices.find(name + ":"), std::string::npos) << name;
    }
  }
  ASSERT_TRUE(containerizer->Destroy("netns"));
  ASSERT_TRUE(containerizer->Wait("netns", 30).has_value());
  ExpectNothingLeft("netns", namespaces);

  // Without asking for it, a task shares the host's network.
  auto shared = Shell("hostnet", "sleep 600");
  pid = containerizer->Launch(shared, nullptr);
  ASSERT_TRUE(pid.ok()) << pid.error();
  EXPECT_EQ(OwnNamespaces(*pid).size(), 2u);  // ipc and mnt
  ASSERT_TRUE(containerizer->Destroy("hostnet"));
  ASSERT_TRUE(containerizer->Wait("hostnet", 30).has_value());
}

TEST_F(IsolationTest, RootFilesystemHidesTheHostAndShowsTheSandboxAndVolumes) {
  if (!fs::exists("/bin/busybox")) {
    GTEST_SKIP() << "needs /bin/busybox (Debian's busybox-static; scripts/install-deps.sh)";
  }
  Containerizer* containerizer = Make("namespaces/mount,namespaces/pid,filesystem/linux");
  ASSERT_NE(containerizer, nullptr);
  std::string data = dir_.path() + "/data";
  fs::create_directories(data);
  std::ofstream(data + "/greeting") << "hello from the host";
  // The executor pivots each task into STOA_ROOTFS; chroot stands in for it here.
  auto config =
      Shell("rootfs",
            "chroot \"$STOA_ROOTFS\" /bin/sh -c '"
            "test -e /etc/debian_version && echo host-visible || echo host-hidden; "
            "cat /mnt/sandbox/marker; echo; cat /mnt/data/greeting; echo; "
            "touch /mnt/data/new 2>/dev/null && echo data-writable || echo data-read-only; "
            "touch /scratch && echo root-writable; ls /proc | grep -c \"^[0-9]\"'");
  std::ofstream(config.sandbox + "/marker") << "this is the sandbox";
  config.container.rootfs = BusyboxRoot();
  config.container.volumes.push_back({data, "/mnt/data", true});
  ContainerTermination termination = Run(containerizer, config);
  EXPECT_EQ(termination.wait_status, 0) << termination.Describe() << Output(config);
  std::string expected =
      "host-hidden\nthis is the sandbox\nhello from the host\ndata-read-only\nroot-writable\n";
  std::string output = Output(config);
  ASSERT_EQ(output.substr(0, expected.size()), expected) << output;
  // Its /proc is its pid namespace's: the shells, ls and grep.
  EXPECT_LE(std::stoi(output.substr(expected.size())), 4) << output;
  // The writable layer was the container's: the root filesystem is untouched.
  EXPECT_FALSE(fs::exists(BusyboxRoot() + "/scratch"));
  EXPECT_FALSE(fs::exists(data + "/new"));
  ExpectNothingLeft("rootfs");
}

TEST_F(IsolationTest, TarballRootFilesystemIsUnpackedOnceIntoTheCache) {
  if (!fs::exists("/bin/busybox")) {
    GTEST_SKIP() << "needs /bin/busybox (Debian's busybox-static; scripts/install-deps.sh)";
  }
  std::string tarball = dir_.path() + "/root.tar.gz";
  std::string command = "tar -czf " + tarball + " -C " + BusyboxRoot() + " .";
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::string cache = dir_.path() + "/images";
  Containerizer* containerizer = Make("namespaces/mount,filesystem/linux",
                                      [&](ContainerizerOptions& o) { o.image_cache_dir = cache; });
  ASSERT_NE(containerizer, nullptr);
  for (const char* id : {"tar1", "tar2"}) {
    auto config = Shell(id, "chroot \"$STOA_ROOTFS\" /bin/busybox echo from the tarball");
    config.container.rootfs = tarball;
    ContainerTermination termination = Run(containerizer, config);
    EXPECT_EQ(termination.wait_status, 0) << termination.Describe() << Output(config);
    EXPECT_EQ(Output(config), "from the tarball\n");
    ExpectNothingLeft(id);
  }
  size_t unpacked = 0;
  for (const auto& entry : fs::directory_iterator(cache)) unpacked += entry.is_directory() ? 1 : 0;
  EXPECT_EQ(unpacked, 1u);
}

// Unpacked images are evicted once no container uses them, keeping the most
// recently used `image_cache_keep`; an image in use is never removed.
TEST_F(IsolationTest, UnusedUnpackedImagesAreEvictedLeastRecentlyUsedFirst) {
  if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
  std::string cache = dir_.path() + "/images";
  Containerizer* containerizer = Make("namespaces/mount,filesystem/linux", [&](auto& o) {
    o.image_cache_dir = cache;
    o.image_cache_keep = 1;
  });
  ASSERT_NE(containerizer, nullptr);
  std::vector<std::string> tarballs;
  for (const char* name : {"a", "b", "c"}) {
    tarballs.push_back(dir_.path() + "/" + name + ".tar");
    std::string command = "tar -cf " + tarballs.back() + " -C " + BusyboxRoot() + " .";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  auto cached = [&] {
    size_t n = 0;
    for (const auto& entry : fs::directory_iterator(cache)) n += entry.is_directory() ? 1 : 0;
    return n;
  };
  // A long-running container holds image a.
  auto holder =
      Shell("holder", "while [ ! -f \"$STOA_ROOTFS/mnt/sandbox/stop\" ]; do sleep 0.05; done");
  holder.container.rootfs = tarballs[0];
  ASSERT_TRUE(containerizer->Launch(holder, nullptr).ok());
  for (size_t i = 1; i < 3; ++i) {
    auto config = Shell("run" + std::to_string(i), "true");
    config.container.rootfs = tarballs[i];
    EXPECT_EQ(Run(containerizer, config).wait_status, 0) << Output(config);
    EXPECT_EQ(cached(), 2u) << "a (in use) and the most recent unused one";
  }
  std::ofstream(holder.sandbox + "/stop").put('x');
  EXPECT_TRUE(containerizer->Wait("holder", 60).has_value());
  EXPECT_TRUE(stoa::testing::WaitFor([&] { return cached() == 1; }));
}

TEST_F(IsolationTest, NothingOfAFullyIsolatedContainerOutlivesIt) {
  if (!Requires({"cpu", "cpuacct", "memory", "pids"})) GTEST_SKIP() << missing_;
  if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
  Containerizer* containerizer = Make(kAllIsolators);
  ASSERT_NE(containerizer, nullptr);
  auto config = Shell("full", "sleep 600 & sleep 600 & echo started; wait");
  config.container.rootfs = BusyboxRoot();
  config.container.network_isolated = true;
  auto pid = containerizer->Launch(config, nullptr);
  ASSERT_TRUE(pid.ok()) << pid.error();
  ASSERT_TRUE(WaitFor([&] { return Output(config) == "started\n"; })) << Output(config);
  std::set<std::string> namespaces = OwnNamespaces(*pid);
  EXPECT_EQ(namespaces.size(), 5u);  // pid, mnt, uts, ipc, net
  auto usage = containerizer->Usage("full");
  ASSERT_TRUE(usage.ok()) << usage.error();
  EXPECT_EQ(usage->processes.value_or(0), 3u);
  EXPECT_EQ(usage->mem_limit_bytes.value_or(0), 128u << 20);
  EXPECT_GT(usage->mem_usage_bytes.value_or(0), 0u);
  EXPECT_EQ(usage->cpus_limit.value_or(0), 1.0);
  ASSERT_TRUE(containerizer->Destroy("full"));
  auto termination = containerizer->Wait("full", 30);
  ASSERT_TRUE(termination.has_value());
  EXPECT_TRUE(termination->destroyed);
  EXPECT_TRUE(WIFSIGNALED(termination->wait_status)) << termination->Describe();
  ExpectNothingLeft("full", namespaces);
}

TEST_F(IsolationTest, UpdateChangesTheLimitsOfARunningContainer) {
  if (!Requires({"cpu", "memory"})) GTEST_SKIP() << missing_;
  Containerizer* containerizer = Make("cgroups/cpu,cgroups/mem");
  ASSERT_NE(containerizer, nullptr);
  auto config = Shell("grow", "sleep 600", "cpus:0.5;mem:64");
  config.container.cpu_hard_limit = true;  // this task asks for the cap; the agent does not
  ASSERT_TRUE(containerizer->Launch(config, nullptr).ok());
  auto cpu = isolators::cgroups::FindHierarchy("cpu");
  std::string cpu_path = isolators::cgroups::ContainerPath(*cpu, root_, "grow");
  std::string quota_file = cpu->version == 1 ? "cpu.cfs_quota_us" : "cpu.max";
  EXPECT_EQ(ReadFile(cpu_path + "/" + quota_file).substr(0, 5), "50000");
  auto before = containerizer->Usage("grow");
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_EQ(before->mem_limit_bytes.value_or(0), 64u << 20);
  ASSERT_TRUE(containerizer->Update("grow", *Resources::Parse("cpus:2;mem:256")).ok());
  auto after = containerizer->Usage("grow");
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->mem_limit_bytes.value_or(0), 256u << 20);
  EXPECT_EQ(after->cpus_limit.value_or(0), 2.0);
  EXPECT_EQ(ReadFile(cpu_path + "/" + quota_file).substr(0, 6), "200000");
  ASSERT_TRUE(containerizer->Destroy("grow"));
  ASSERT_TRUE(containerizer->Wait("grow", 30).has_value());
  ExpectNothingLeft("grow");
}

// Lowering the memory limit below what the container uses would have the
// kernel OOM-kill it (a task ending in a group is no reason to kill the
// others): the hard limit comes down only once the use fits, as in Mesos.
TEST_F(IsolationTest, TheMemoryLimitIsNotLoweredBelowWhatTheContainerUses) {
  if (!Requires({"memory"})) GTEST_SKIP() << missing_;
  Containerizer* containerizer = Make("cgroups/mem");
  ASSERT_NE(containerizer, nullptr);
  auto config = Program("shrink", {Helper(), "hold", "48"}, "cpus:1;mem:128");
  ASSERT_TRUE(containerizer->Launch(config, nullptr).ok());
  ASSERT_TRUE(WaitFor([&] { return Output(config).find("allocated") != std::string::npos; }))
      << Output(config);
  auto limit = [&] {
    auto usage = containerizer->Usage("shrink");
    EXPECT_TRUE(usage.ok()) << usage.error();
    return usage.ok() ? usage->mem_limit_bytes.value_or(0) : 0;
  };
  ASSERT_TRUE(containerizer->Update("shrink", *Resources::Parse("cpus:1;mem:16")).ok());
  EXPECT_EQ(limit(), 128u << 20) << "kept: the container uses more than 16 MiB";
  ASSERT_TRUE(containerizer->Update("shrink", *Resources::Parse("cpus:1;mem:96")).ok());
  EXPECT_EQ(limit(), 96u << 20) << "lowered: the use fits";
  ASSERT_TRUE(containerizer->Update("shrink", *Resources::Parse("cpus:1;mem:256")).ok());
  EXPECT_EQ(limit(), 256u << 20);
  ASSERT_TRUE(containerizer->Destroy("shrink"));
  auto termination = containerizer->Wait("shrink", 30);
  ASSERT_TRUE(termination.has_value());
  EXPECT_FALSE(termination->limitation.has_value()) << termination->limitation->message;
  ExpectNothingLeft("shrink");

  // Page cache is no reason to wait: the kernel reclaims it under the new limit.
  auto cache = Shell("cache",
                     "dd if=/dev/zero of=data bs=1M count=64 2>/dev/null; echo written; "
                     "sleep 600",
                     "cpus:1;mem:128");
  ASSERT_TRUE(containerizer->Launch(cache, nullptr).ok());
  ASSERT_TRUE(WaitFor([&] { return Output(cache).find("written") != std::string::npos; }));
  auto cached = containerizer->Usage("cache");
  ASSERT_TRUE(cached.ok()) << cached.error();
  EXPECT_GT(cached->mem_usage_bytes.value_or(0), 32u << 20) << "the file is in the page cache";
  ASSERT_TRUE(containerizer->Update("cache", *Resources::Parse("cpus:1;mem:32")).ok());
  auto after = containerizer->Usage("cache");
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->mem_limit_bytes.value_or(0), 32u << 20);
  ASSERT_TRUE(containerizer->Destroy("cache"));
  termination = containerizer->Wait("cache", 30);
  ASSERT_TRUE(termination.has_value());
  EXPECT_FALSE(termination->limitation.has_value()) << termination->limitation->message;
  ExpectNothingLeft("cache");
}

TEST_F(IsolationTest, RecoverReattachesKnownContainersAndDestroysOrphans) {
  if (!Requires({"memory", "pids"})) GTEST_SKIP() << missing_;
  const char* isolation = "cgroups/mem,cgroups/pids,namespaces/pid";
  Containerizer* first = Make(isolation);
  ASSERT_NE(first, nullptr);
  auto known = first->Launch(Shell("known", "sleep 600"), nullptr);
  auto orphan = first->Launch(Shell("orphan", "sleep 600"), nullptr);
  ASSERT_TRUE(known.ok() && orphan.ok());
  std::set<std::string> orphan_namespaces = OwnNamespaces(*orphan);
  containerizers_.clear();  // the agent goes away; its containers keep running
  ASSERT_EQ(kill(*known, 0), 0);
  ASSERT_EQ(kill(*orphan, 0), 0);

  // Empty cgroups an agent that is gone left behind long ago (and one made just now).
  auto pids = isolators::cgroups::FindHierarchy("pids");
  ASSERT_TRUE(isolators::cgroups::Create(*pids, root_, "stale", "").ok());
  ASSERT_TRUE(isolators::cgroups::Create(*pids, root_, "fresh", "").ok());
  std::string stale = isolators::cgroups::ContainerPath(*pids, root_, "stale");
  std::string fresh = isolators::cgroups::ContainerPath(*pids, root_, "fresh");
  struct timespec long_ago[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, stale.c_str(), long_ago, 0), 0);

  Containerizer* second = Make(isolation);
  ASSERT_NE(second, nullptr);
  std::atomic<bool> ended{false};
  agent::KnownContainer entry;
  entry.container_id = "known";
  entry.pid = *known;
  entry.on_exit = [&](const ContainerTermination&) { ended = true; };
  ASSERT_TRUE(second->Recover({entry}).ok());
  // The orphan is gone, with everything it had.
  int status = 0;
  EXPECT_EQ(waitpid(*orphan, &status, 0), *orphan);  // this test process was its parent
  ExpectNothingLeft("orphan", orphan_namespaces);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));  // perhaps a launch of another agent in progress
  isolators::cgroups::Remove(fresh);
  // The known one runs on, under the new containerizer.
  EXPECT_EQ(second->containers(), std::vector<std::string>{"known"});
  EXPECT_TRUE(second->Usage("known").ok());
  ASSERT_TRUE(second->Destroy("known"));
  ASSERT_TRUE(WaitFor([&] { return ended.load(); }));
  ExpectNothingLeft("known");
}

TEST_F(IsolationTest, PosixLaunchesWithoutIsolationAndReportsTheExitStatus) {
  Containerizer* containerizer = Make("posix");
  ASSERT_NE(containerizer, nullptr);
  auto config = Shell("plain", "echo plain; exit 3");
  ContainerTermination termination = Run(containerizer, config);
  EXPECT_TRUE(WIFEXITED(termination.wait_status));
  EXPECT_EQ(WEXITSTATUS(termination.wait_status), 3);
  EXPECT_EQ(termination.Describe(), "exited with status 3");
  EXPECT_EQ(Output(config), "plain\n");
  auto sleeper = Shell("usage", "sleep 600");
  ASSERT_TRUE(containerizer->Launch(sleeper, nullptr).ok());
  auto usage = containerizer->Usage("usage");
  ASSERT_TRUE(usage.ok()) << usage.error();
  EXPECT_GE(usage->processes.value_or(0), 1u);
  // Resident memory from /proc/<pid>/stat's rss field (pages), not its vsize (bytes). A
  // process that has just exec'd can read 0 there until the kernel folds in its per-thread
  // counters, so the figure is read again until it shows.
  EXPECT_TRUE(WaitFor([&] {
    usage = containerizer->Usage("usage");
    return usage.ok() && usage->mem_rss_bytes.value_or(0) > 0;
  })) << "rss stayed 0";
  EXPECT_LT(usage->mem_rss_bytes.value_or(0), uint64_t{256} << 20);
  ASSERT_TRUE(containerizer->Destroy("usage"));
  ASSERT_TRUE(containerizer->Wait("usage", 30).has_value());
}

TEST_F(IsolationTest, AFailedLaunchSaysWhyAndLeavesNothing) {
  if (!Requires({"memory"})) GTEST_SKIP() << missing_;
  Containerizer* containerizer = Make("cgroups/mem,namespaces/pid,filesystem/linux");
  ASSERT_NE(containerizer, nullptr);
  auto missing_program = Program("noexec", {dir_.path() + "/no-such-program"});
  auto launched = containerizer->Launch(missing_program, nullptr);
  ASSERT_FALSE(launched.ok());
  EXPECT_NE(launched.error().find("no-such-program"), std::string::npos) << launched.error();
  ExpectNothingLeft("noexec");
  auto missing_root = Shell("noroot", "true");
  missing_root.container.rootfs = dir_.path() + "/no-such-root";
  launched = containerizer->Launch(missing_root, nullptr);
  ASSERT_FALSE(launched.ok());
  EXPECT_NE(launched.error().find("does not exist"), std::string::npos) << launched.error();
  ExpectNothingLeft("noroot");
  auto network = Shell("nonet", "true");
  network.container.network_isolated = true;
  launched = containerizer->Launch(network, nullptr);
  ASSERT_FALSE(launched.ok());
  EXPECT_NE(launched.error().find("namespaces/net"), std::string::npos) << launched.error();
  auto unknown = Containerizer::Create({work_dir_, "cgroups/gpu", root_, false, 1024, ""});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("unknown isolator 'cgroups/gpu'"), std::string::npos)
      << unknown.error();
}

// posix isolates nothing: it goes only with isolators that confine no
// process, such as disk/du.
TEST_F(IsolationTest, PosixGoesOnlyWithIsolatorsThatConfineNoProcess) {
  EXPECT_NE(Make("posix,disk/du"), nullptr);
  ContainerizerOptions options;
  options.work_dir = work_dir_;
  options.isolation = "posix,namespaces/pid";
  auto mixed = Containerizer::Create(options);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().find("confine no process (disk/du)"), std::string::npos) << mixed.error();
}

// disk/du without --enforce_container_disk_quota: the sandbox's use is
// measured and reported, and the container over its `disk` goes on.
TEST_F(IsolationTest, DiskUseOverTheLimitIsOnlyReportedWhenNotEnforced) {
  Containerizer* containerizer = Make("posix,disk/du", [](ContainerizerOptions& o) {
    o.container_disk_watch_interval = 0.05;
    o.enforce_container_disk_quota = false;
  });
  ASSERT_NE(containerizer, nullptr);
  auto config = Shell("measured",
                      "head -c 3145728 /dev/zero > data; while [ ! -f done ]; do sleep 0.05; done",
                      "cpus:1;mem:128;disk:1");
  ASSERT_TRUE(containerizer->Launch(config, nullptr).ok());
  Result<isolators::ResourceStatistics> usage = Status::Error("not asked yet");
  ASSERT_TRUE(WaitFor([&] {
    usage = containerizer->Usage("measured");
    return usage.ok() && usage->disk_used_bytes.value_or(0) >= (3u << 20);
  })) << (usage.ok() ? "" : usage.error());
  EXPECT_EQ(usage->disk_limit_bytes.value_or(0), 1u << 20);
  std::ofstream(config.sandbox + "/done").put('x');
  auto termination = containerizer->Wait("measured", 30);
  ASSERT_TRUE(termination.has_value());
  EXPECT_EQ(termination->wait_status, 0) << termination->Describe();
  EXPECT_FALSE(termination->limitation.has_value()) << termination->Describe();
}

TEST_F(IsolationTest, PosixDestroyLeavesNoProcessOfTheContainerBehind) {
  Containerizer* containerizer = Make("posix");
  ASSERT_NE(containerizer, nullptr);
  // A task that left the container's session, and its child.
  auto config = Shell("tree",
                      "setsid sh -c 'sleep 600 & echo $! > grandchild; echo $$ > task; wait' & "
                      "wait");
  ASSERT_TRUE(containerizer->Launch(config, nullptr).ok());
  pid_t task = PidFrom(config.sandbox + "/task");
  pid_t grandchild = PidFrom(config.sandbox + "/grandchild");
  ASSERT_TRUE(task > 0 && grandchild > 0) << Output(config);
  ASSERT_TRUE(Alive(task) && Alive(grandchild));
  ASSERT_TRUE(containerizer->Destroy("tree"));
  auto termination = containerizer->Wait("tree", 30);
  ASSERT_TRUE(termination.has_value());
  EXPECT_TRUE(termination->destroyed);
  EXPECT_TRUE(WaitFor([&] { return !Alive(task) && !Alive(grandchild); }, std::chrono::seconds(10)))
      << "left running: task " << Alive(task) << ", grandchild " << Alive(grandchild);
  for (pid_t pid : {task, grandchild}) kill(pid, SIGKILL);
}

TEST_F(IsolationTest, PosixContainerWhoseFirstProcessIsKilledTakesItsSessionAlong) {
  Containerizer* containerizer = Make("posix");
  ASSERT_NE(containerizer, nullptr);
  // A task in the first process's session (as stoa-executor runs them), and its child.
  auto config =
      Shell("crash", "sh -c 'sleep 600 & echo $! > grandchild; echo $$ > task; wait' & wait");
  auto first = containerizer->Launch(config, nullptr);
  ASSERT_TRUE(first.ok()) << first.error();
  pid_t task = PidFrom(config.sandbox + "/task");
  pid_t grandchild = PidFrom(config.sandbox + "/grandchild");
  ASSERT_TRUE(task > 0 && grandchild > 0) << Output(config);
  // The executor dies, as with an OOM kill or an operator's kill -9.
  ASSERT_EQ(kill(*first, SIGKILL), 0);
  auto termination = containerizer->Wait("crash", 30);
  ASSERT_TRUE(termination.has_value());
  EXPECT_TRUE(WIFSIGNALED(termination->wait_status)) << termination->Describe();
  EXPECT_TRUE(WaitFor([&] { return !Alive(task) && !Alive(grandchild); }, std::chrono::seconds(10)))
      << "left running: task " << Alive(task) << ", grandchild " << Alive(grandchild);
  for (pid_t pid : {task, grandchild}) kill(pid, SIGKILL);
}

TEST_F(IsolationTest, SymlinksInTheImageCannotLeadMountStepsOntoTheHost) {
  if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
  Containerizer* containerizer = Make("namespaces/mount,filesystem/linux");
  ASSERT_NE(containerizer, nullptr);
  std::string host = dir_.path() + "/host";
  fs::create_directories(host);
  // An image whose /mnt (where the sandbox goes) and /data (where a file volume
  // goes) lead to the host.
  std::string image = dir_.path() + "/image";
  fs::copy(BusyboxRoot(), image, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_directory_symlink(host, image + "/mnt");
  fs::create_directory_symlink(host, image + "/data");
  std::string volume = dir_.path() + "/volume-file";
  std::ofstream(volume) << "volume\n";
  auto config = Shell("image", "cat /data/file");
  config.container.rootfs = image;
  config.container.volumes.push_back({volume, "/data/file", true});
  auto launched = containerizer->Launch(config, nullptr);
  if (launched.ok()) containerizer->Wait("image", 30);
  std::vector<std::string> made;
  for (const auto& entry : fs::directory_iterator(host)) made.push_back(entry.path().string());
  EXPECT_TRUE(made.empty()) << "made on the host: " << made.front();
  ExpectNothingLeft("image");
}

TEST_F(IsolationTest, ASandboxOrLogThatIsASymlinkIsRefusedAndNotGivenAway) {
  struct passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "needs the user 'nobody'";
  Containerizer* containerizer = Make("posix");
  ASSERT_NE(containerizer, nullptr);
  std::string host = dir_.path() + "/host";
  fs::create_directories(host);
  std::ofstream(host + "/file") << "root only\n";
  struct stat st {};

  // The sandbox itself is a symlink to a host directory.
  auto linked = Shell("linked", "echo hi");
  fs::remove(linked.sandbox);
  fs::create_directory_symlink(host, linked.sandbox);
  linked.user = "nobody";
  auto launched = containerizer->Launch(linked, nullptr);
  EXPECT_FALSE(launched.ok());
  if (launched.ok()) containerizer->Wait("linked", 30);
  ASSERT_EQ(stat(host.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the host directory was given away";

  // executor.log is a symlink to a host file.
  auto logged = Shell("logged", "echo written");
  fs::create_symlink(host + "/file", logged.sandbox + "/executor.log");
  launched = containerizer->Launch(logged, nullptr);
  EXPECT_FALSE(launched.ok());
  if (launched.ok()) containerizer->Wait("logged", 30);
  EXPECT_EQ(ReadFile(host + "/file"), "root only\n");
}

}  // namespace
}  // namespace stoa

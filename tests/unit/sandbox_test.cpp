// The sandbox service on a real directory tree: /files/read stays inside the
// one sandbox it names, never follows a symlink a task planted and never
// blocks on a FIFO (A4); sandboxes are collected after gc_delay, sooner as the
// disk fills, oldest first, symlink-safe, never while live, and a failed
// removal is retried (A16); a sandbox's disk use is measured as du does,
// without following links. Time is passed in, never slept.
#include "agent/sandbox.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/safe_fs.hpp"
#include "tests/test_util.hpp"

namespace stoa::agent {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

class SandboxTest : public ::testing::Test {
 protected:
  SandboxTest() : work_(fs::canonical(dir_.path()).string() + "/work"), files_(work_) {
    mine_ = SandboxPath(work_, "fw1", "ex1", "c1");
    theirs_ = SandboxPath(work_, "fw2", "ex2", "c2");
    Write(mine_ + "/stdout", "mine\n");
    Write(theirs_ + "/secret", "the other framework's secret\n");
    host_ = fs::canonical(dir_.path()).string() + "/host";
    Write(host_ + "/shadow", "HOST SECRET\n");
  }

  HttpResponse Get(std::map<std::string, std::string> params) const {
    HttpRequest request;
    request.method = "GET";
    request.path = "/files/read";
    request.params = std::move(params);
    return files_.Read(request);
  }
  HttpResponse Mine(const std::string& path) const {
    return Get({{"framework_id", "fw1"}, {"executor_id", "ex1"}, {"path", path}});
  }
  static std::string Error(const HttpResponse& response) {
    return json::parse(response.body).value("error", "");
  }

  stoa::testing::TempDir dir_;
  std::string work_;
  SandboxFiles files_;
  std::string mine_, theirs_, host_;
};

TEST_F(SandboxTest, ReadsAFileByIdsOrByItsAbsolutePath) {
  HttpResponse by_ids = Get({{"framework_id", "fw1"},
                             {"executor_id", "ex1"},
                             {"container_id", "c1"},
                             {"path", "stdout"}});
  ASSERT_EQ(by_ids.status, 200) << by_ids.body;
  EXPECT_EQ(json::parse(by_ids.body)["data"], "mine\n");
  // Without container_id: the newest run of that executor.
  HttpResponse newest = Mine("stdout");
  ASSERT_EQ(newest.status, 200) << newest.body;
  EXPECT_EQ(json::parse(newest.body)["data"], "mine\n");
  // The older form: the absolute path /state shows.
  HttpResponse by_path = Get({{"path", mine_ + "/stdout"}, {"offset", "1"}, {"length", "2"}});
  ASSERT_EQ(by_path.status, 200) << by_path.body;
  EXPECT_EQ(json::parse(by_path.body)["data"], "in");
  HttpResponse size = Get({{"path", mine_ + "/stdout"}, {"offset", "-1"}});
  EXPECT_EQ(json::parse(size.body)["offset"], 5);
  EXPECT_EQ(Mine("nothing-here").status, 404);
}

TEST_F(SandboxTest, RefusesPathsOutsideOneSandbox) {
  EXPECT_EQ(Get({{"path", "/etc/passwd"}}).status, 403);
  EXPECT_EQ(Get({{"path", mine_ + "/../../../../../../../../etc/passwd"}}).status, 403);
  EXPECT_EQ(Get({{"path", mine_ + "/../../../../fw2/executors/ex2/runs/c2/secret"}}).status, 403);
  EXPECT_EQ(Mine("../../../../fw2/executors/ex2/runs/c2/secret").status, 403);
  EXPECT_EQ(Mine("/etc/passwd").status, 403);
  EXPECT_EQ(Get({{"framework_id", ".."}, {"executor_id", "ex1"}, {"path", "stdout"}}).status, 400);
  EXPECT_EQ(
      Get({{"framework_id", "fw1/executors/ex1/runs/c1"}, {"executor_id", "x"}, {"path", "stdout"}})
          .status,
      400);
}

// A task owns its sandbox: it replaces a file, or a directory on the way, by
// a symlink to a host file. The agent (root) must not read through it.
TEST_F(SandboxTest, RefusesSymlinksATaskPlanted) {
  fs::create_symlink(host_ + "/shadow", mine_ + "/stdout.link");
  HttpResponse file_link = Mine("stdout.link");
  EXPECT_EQ(file_link.status, 403) << file_link.body;
  EXPECT_NE(Error(file_link).find("symbolic link"), std::string::npos) << file_link.body;
  EXPECT_EQ(file_link.body.find("HOST SECRET"), std::string::npos);

  fs::create_directory_symlink(host_, mine_ + "/logs");
  HttpResponse dir_link = Get({{"path", mine_ + "/logs/shadow"}});
  EXPECT_EQ(dir_link.status, 403) << dir_link.body;
  EXPECT_EQ(dir_link.body.find("HOST SECRET"), std::string::npos);
}

// Before the fix, a symlink into another framework's sandbox passed the
// canonical() prefix check (it stays under work_dir/frameworks) and the agent
// served the other framework's file.
TEST_F(SandboxTest, ASymlinkIntoAnotherFrameworksSandboxIsRefused) {
  fs::create_symlink(theirs_ + "/secret", mine_ + "/borrowed");
  HttpResponse response = Get({{"path", mine_ + "/borrowed"}});
  EXPECT_EQ(response.status, 403) << response.body;
  EXPECT_EQ(response.body.find("secret"), std::string::npos) << response.body;
  fs::create_directory_symlink(theirs_, mine_ + "/theirs");
  EXPECT_EQ(Mine("theirs/secret").status, 403);
}

// Before the fix, a FIFO swapped in after the check blocked an HTTP worker in
// open() for ever; now it is opened without blocking and refused.
TEST_F(SandboxTest, AFifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo((mine_ + "/pipe").c_str(), 0666), 0);
  auto reply = std::make_shared<std::promise<HttpResponse>>();
  std::future<HttpResponse> answer = reply->get_future();
  std::thread([this, reply] { reply->set_value(Mine("pipe")); }).detach();
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "reading a FIFO blocked";
  HttpResponse response = answer.get();
  EXPECT_EQ(response.status, 403) << response.body;
  EXPECT_NE(Error(response).find("not a regular file"), std::string::npos) << response.body;
}

// The check-then-open race: while a "task" keeps swapping a directory of its
// sandbox with a symlink to a host directory, no read ever returns the host
// file (before the fix, canonical() could see the directory and the reopen
// by name the symlink).
TEST_F(SandboxTest, SwappingADirectoryForASymlinkNeverLeaksAHostFile) {
  Write(mine_ + "/dir/shadow", "sandbox copy\n");
  fs::create_directory_symlink(host_, mine_ + "/swap");
  std::atomic<bool> stop{false};
  std::string a = mine_ + "/dir", b = mine_ + "/swap";
  std::thread swapper([&] {
    while (!stop) {
      renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
    }
  });
  int served = 0, leaked = 0;
  for (int i = 0; i < 3000; ++i) {
    HttpResponse response = Get({{"path", mine_ + "/dir/shadow"}});
    if (response.status == 200) ++served;
    if (response.body.find("HOST SECRET") != std::string::npos) ++leaked;
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(leaked, 0);
  EXPECT_GT(served, 0);  // the real directory is still served
}

// ---- garbage collection ----

TEST_F(SandboxTest, ASandboxIsRemovedGcDelayAfterItsExecutorEnded) {
  SandboxGc gc(work_, {100, 0.1});
  EXPECT_DOUBLE_EQ(gc.MaxAge(0), 90);  // Mesos: delay * (1 - headroom - usage)
  ASSERT_TRUE(gc.Schedule(mine_, 1000).ok());
  EXPECT_TRUE(gc.Collect(1089, 0, {}).removed.empty());
  EXPECT_TRUE(fs::exists(mine_));
  EXPECT_EQ(gc.Collect(1090, 0, {}).removed, std::vector<std::string>{mine_});
  EXPECT_FALSE(fs::exists(mine_));
  EXPECT_FALSE(fs::exists(work_ + "/frameworks/fw1"));  // its empty parents too
  EXPECT_TRUE(fs::exists(theirs_));
  EXPECT_EQ(gc.scheduled(), 0u);
}

TEST_F(SandboxTest, AFullerDiskCollectsSoonerOldestFirst) {
  std::string older = SandboxPath(work_, "fw1", "ex1", "c0");
  Write(older + "/stdout", "old\n");
  SandboxGc gc(work_, {100, 0.1});
  ASSERT_TRUE(gc.Schedule(older, 0).ok());
  ASSERT_TRUE(gc.Schedule(mine_, 30).ok());
  ASSERT_TRUE(gc.Schedule(theirs_, 45).ok());
  EXPECT_TRUE(gc.Collect(50, 0, {}).removed.empty());                           // max age 90
  EXPECT_EQ(gc.Collect(50, 0.5, {}).removed, std::vector<std::string>{older});  // max age 40
  std::vector<std::string> expected = {mine_, theirs_};
  EXPECT_EQ(gc.Collect(50, 0.95, {}).removed,
            expected);  // over the watermark: everything, oldest first
}

TEST_F(SandboxTest, CollectionNeverFollowsSymlinksNorTouchesLiveSandboxes) {
  fs::create_directory_symlink(host_, mine_ + "/host-dir");
  fs::create_symlink(host_ + "/shadow", mine_ + "/host-file");
  Write(mine_ + "/deep/a/b/c", "x");
  SandboxGc gc(work_, {0, 0});
  ASSERT_TRUE(gc.Schedule(mine_, 0).ok());
  ASSERT_TRUE(gc.Schedule(theirs_, 0).ok());
  EXPECT_EQ(gc.Collect(1, 0, {theirs_}).removed, std::vector<std::string>{mine_});
  EXPECT_FALSE(fs::exists(mine_));
  EXPECT_TRUE(fs::exists(host_ + "/shadow"));
  EXPECT_TRUE(fs::exists(theirs_ + "/secret"));  // live: kept
  EXPECT_FALSE(gc.Schedule("/etc", 0).ok());
  EXPECT_FALSE(gc.Schedule(work_ + "/frameworks/fw1", 0).ok());
}

TEST_F(SandboxTest, SandboxesLeftBeforeARestartAreCollectedByAge) {
  struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, mine_.c_str(), old_times, AT_SYMLINK_NOFOLLOW), 0);
  SandboxGc gc(work_, {100, 0});
  gc.ScheduleLeftovers({theirs_});  // theirs_ belongs to a recovered executor
  EXPECT_EQ(gc.scheduled(), 1u);
  EXPECT_EQ(gc.Collect(1100, 0, {theirs_}).removed, std::vector<std::string>{mine_});
  EXPECT_TRUE(fs::exists(theirs_));
}

// A16: a sandbox that cannot be removed is tried again at the next collection
// (a tree nested deeper than RemoveTreeAt goes fails for real), and given up
// on, left in place, after kRemovalAttempts.
TEST_F(SandboxTest, AFailedRemovalIsRetriedLaterThenGivenUp) {
  std::string deep = mine_;
  for (int i = 0; i < 300; ++i) deep += "/d";
  fs::create_directories(deep);
  SandboxGc gc(work_, {0, 0});
  ASSERT_TRUE(gc.Schedule(mine_, 0).ok());
  SandboxGc::Collection first = gc.Collect(1, 0, {});
  EXPECT_TRUE(first.removed.empty());
  ASSERT_EQ(first.failed.size(), 1u);
  EXPECT_EQ(first.failed[0].first, mine_);
  EXPECT_NE(first.failed[0].second.find("deeper than 256"), std::string::npos)
      << first.failed[0].second;
  EXPECT_TRUE(first.given_up.empty());
  EXPECT_EQ(gc.scheduled(), 1u);  // due again
  fs::remove_all(mine_ + "/d");   // what was in the way is gone
  EXPECT_EQ(gc.Collect(2, 0, {}).removed, std::vector<std::string>{mine_});
  EXPECT_FALSE(fs::exists(mine_));

  // One that keeps failing is tried kRemovalAttempts times in all.
  std::string stuck = SandboxPath(work_, "fw3", "ex3", "c3");
  deep = stuck;
  for (int i = 0; i < 300; ++i) deep += "/d";
  fs::create_directories(deep);
  ASSERT_TRUE(gc.Schedule(stuck, 0).ok());
  for (int attempt = 1; attempt < SandboxGc::kRemovalAttempts; ++attempt) {
    SandboxGc::Collection again = gc.Collect(10 + attempt, 0, {});
    ASSERT_EQ(again.failed.size(), 1u) << "attempt " << attempt;
    EXPECT_TRUE(again.given_up.empty()) << "attempt " << attempt;
  }
  SandboxGc::Collection last = gc.Collect(100, 0, {});
  EXPECT_EQ(last.given_up, std::vector<std::string>{stuck});
  EXPECT_EQ(gc.scheduled(), 0u);
  EXPECT_TRUE(gc.Collect(101, 0, {}).failed.empty());
  EXPECT_TRUE(fs::exists(stuck));
}

// ---- measuring a sandbox's disk use (disk/du) ----

// What du reports for `path`: bytes of allocated blocks, every inode once,
// symlinks not followed, the reference MeasureTree must agree with.
uint64_t DuBytes(const std::string& path) {
  std::string command = "du -s -B1 '" + path + "'";
  FILE* out = popen(command.c_str(), "r");
  unsigned long long bytes = 0;
  if (out == nullptr || fscanf(out, "%llu", &bytes) != 1) bytes = 0;
  if (out != nullptr) pclose(out);
  return bytes;
}

TEST_F(SandboxTest, MeasuringCountsEachInodeOnceAndNeverFollowsALink) {
  std::string big = host_ + "/big";
  std::ofstream(big) << std::string(4 << 20, 'h');  // outside the sandbox
  Write(mine_ + "/data", std::string(1 << 20, 'x'));
  ASSERT_EQ(link((mine_ + "/data").c_str(), (mine_ + "/hardlink").c_str()), 0);
  fs::create_symlink(big, mine_ + "/to-host-file");
  fs::create_directory_symlink(host_, mine_ + "/to-host-dir");
  // Deeper than the walk keeps open (it comes back up through "..").
  std::string deep = mine_;
  for (int i = 0; i < 150; ++i) deep += "/level";
  Write(deep + "/bottom", std::string(512 << 10, 'y'));
  Write(mine_ + "/level/beside", std::string(256 << 10, 'z'));
  ASSERT_EQ(mkfifo((mine_ + "/fifo").c_str(), 0600), 0);  // looked at, never opened

  Result<UniqueFd> dir = OpenDirectory(mine_);
  ASSERT_TRUE(dir.ok()) << dir.error();
  Result<TreeUsage> usage = MeasureTree(dir->get());
  ASSERT_TRUE(usage.ok()) << usage.error();
  EXPECT_EQ(usage->bytes, DuBytes(mine_));
  // The data once, the deep file and the other one; not the host's 4 MiB.
  EXPECT_GE(usage->bytes, uint64_t{(1 << 20) + (512 << 10) + (256 << 10)});
  EXPECT_LT(usage->bytes, uint64_t{4 << 20});
  // The sandbox, 150 levels, stdout, data (one inode), 2 links, bottom, beside, fifo.
  EXPECT_EQ(usage->inodes, 1u + 150 + 1 + 1 + 2 + 1 + 1 + 1);
}

}  // namespace
}  // namespace stoa::agent

// Leader election on a real ZooKeeper server: contenders under one members
// directory, the lowest leads; a detector follows the leader's znode data; a
// leader whose session closes hands the lead to the next.
#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "common/contender.hpp"
#include "common/detector.hpp"
#include "common/zookeeper.hpp"
#include "tests/test_util.hpp"

namespace stoa {
namespace {

TEST(LeaderElection, TheFirstLeadsAndTheNextTakesOverWhenItsSessionCloses) {
  stoa::testing::TempDir dir;
  stoa::testing::ZooKeeperServer server(dir.path());
  ASSERT_TRUE(server.error().empty()) << server.error();
  const std::string members = "/stoa-service/leader";

  std::mutex mutex;
  std::vector<std::string> seen;  // what the detector reported, in order
  auto detector = LeaderDetector::Create(server.servers(), members, [&](const std::string& data) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(data);
  });
  ASSERT_TRUE(detector.ok()) << detector.error();
  auto last_seen = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return seen.empty() ? std::string("(nothing)") : seen.back();
  };

  auto first_session = ZooKeeper::Connect(server.servers(), 10);
  auto second_session = ZooKeeper::Connect(server.servers(), 10);
  ASSERT_TRUE(first_session.ok() && second_session.ok());
  auto first = LeaderContender::Join(first_session->get(), members, "127.0.0.1:8081");
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = LeaderContender::Join(second_session->get(), members, "127.0.0.1:8082");
  ASSERT_TRUE(second.ok()) << second.error();

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto too_late = [deadline] { return std::chrono::steady_clock::now() > deadline; };
  EXPECT_TRUE((*first)->WaitUntilLeading(too_late));
  ASSERT_TRUE(stoa::testing::WaitFor([&] { return last_seen() == "127.0.0.1:8081"; }))
      << last_seen();

  std::atomic<bool> released{false};
  auto second_leads = std::async(
      std::launch::async, [&] { return (*second)->WaitUntilLeading(too_late) && released.load(); });
  EXPECT_EQ(second_leads.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "the second led while the first still held the lead";
  released = true;
  first->reset();
  first_session->reset();  // closing the session removes its znode at once
  EXPECT_TRUE(second_leads.get());
  ASSERT_TRUE(stoa::testing::WaitFor([&] { return last_seen() == "127.0.0.1:8082"; }))
      << last_seen();
}

}  // namespace
}  // namespace stoa

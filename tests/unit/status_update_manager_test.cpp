#include "agent/status_update_manager.hpp"

#include <gtest/gtest.h>

namespace stoa::agent {
namespace {

using AddResult = StatusUpdateManager::AddResult;

TaskStatus Status(const std::string& task, TaskState state, const std::string& uuid) {
  TaskStatus status;
  status.task_id = task;
  status.state = state;
  status.uuid = uuid;
  return status;
}

TEST(StatusUpdateManager, ReleasesUpdatesInOrderOneAtATime) {
  StatusUpdateManager manager;
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kStarting, "u1")), AddResult::kSendNow);
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u2")), AddResult::kQueued);
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kFinished, "u3")), AddResult::kQueued);
  ASSERT_EQ(manager.Heads().size(), 1u);
  EXPECT_EQ(manager.Heads()[0].status.uuid, "u1");

  EXPECT_FALSE(manager.Acknowledge("fw", "t1", "u2").has_value());  // not the head: ignored
  auto next = manager.Acknowledge("fw", "t1", "u1");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status.uuid, "u2");
  next = manager.Acknowledge("fw", "t1", "u2");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status.state, TaskState::kFinished);
  EXPECT_FALSE(manager.Drained("fw", "t1"));
  EXPECT_FALSE(manager.Acknowledge("fw", "t1", "u3").has_value());
  EXPECT_TRUE(manager.Drained("fw", "t1"));
  EXPECT_EQ(manager.PendingCount(), 0u);
}

TEST(StatusUpdateManager, DropsDuplicates) {
  StatusUpdateManager manager;
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u1")), AddResult::kSendNow);
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u1")), AddResult::kDuplicate);
  EXPECT_EQ(manager.PendingCount(), 1u);
  manager.Acknowledge("fw", "t1", "u1");
  // A late resend of an acknowledged update is not queued again.
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u1")), AddResult::kDuplicate);
  EXPECT_EQ(manager.PendingCount(), 0u);
}

TEST(StatusUpdateManager, StreamsAreIndependentAndRemovable) {
  StatusUpdateManager manager;
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u1")), AddResult::kSendNow);
  EXPECT_EQ(manager.Add("fw", Status("t2", TaskState::kRunning, "u2")), AddResult::kSendNow);
  EXPECT_EQ(manager.Add("other", Status("t1", TaskState::kRunning, "u3")), AddResult::kSendNow);
  EXPECT_EQ(manager.Heads().size(), 3u);
  manager.RemoveFramework("fw");
  ASSERT_EQ(manager.Heads().size(), 1u);
  EXPECT_EQ(manager.Heads()[0].framework_id, "other");
  EXPECT_EQ(manager.Pending("other", "t1").size(), 1u);
}

// A28: an unacknowledged head is resent after 10 s, then 20, 40, ... up to 10
// minutes between resends, as Mesos does; not every 10 s for ever.
TEST(StatusUpdateManager, ResendsBackOffExponentiallyUpToTenMinutes) {
  StatusUpdateManager manager({10, 600});
  ASSERT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u1"), 100), AddResult::kSendNow);
  EXPECT_TRUE(manager.Due(109).empty());
  std::vector<double> resends;
  for (double now = 100; now <= 100 + 3600; now += 1) {
    if (!manager.Due(now).empty()) resends.push_back(now - 100);
  }
  // 10, 10+20, 30+40, 70+80, 150+160, 310+320, 630+600, 1230+600, ...
  std::vector<double> expected = {10, 30, 70, 150, 310, 630, 1230, 1830, 2430, 3030};
  EXPECT_EQ(resends, expected);
  // The acknowledgement releases the next update with a fresh 10 s wait.
  ASSERT_EQ(manager.Add("fw", Status("t1", TaskState::kFinished, "u2"), 3700), AddResult::kQueued);
  ASSERT_TRUE(manager.Acknowledge("fw", "t1", "u1", 3700).has_value());
  EXPECT_TRUE(manager.Due(3709).empty());
  EXPECT_EQ(manager.Due(3710).size(), 1u);
}

// A28: a long-lived task with many updates (health changes, say) does not make
// its stream remember every uuid it ever saw.
TEST(StatusUpdateManager, RemembersABoundedNumberOfAcknowledgedUuids) {
  StatusUpdateManager manager;
  for (int i = 0; i < 5000; ++i) {
    std::string uuid = "u" + std::to_string(i);
    ASSERT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, uuid)), AddResult::kSendNow);
    manager.Acknowledge("fw", "t1", uuid);
  }
  EXPECT_LE(manager.RememberedUuids("fw", "t1"), StatusUpdateManager::kRememberedAcknowledgements);
  // The recent ones are still recognised as duplicates.
  EXPECT_EQ(manager.Add("fw", Status("t1", TaskState::kRunning, "u4999")), AddResult::kDuplicate);
}

}  // namespace
}  // namespace stoa::agent

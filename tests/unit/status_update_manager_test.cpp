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

}  // namespace
}  // namespace stoa::agent

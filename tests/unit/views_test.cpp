// The master's views off the actor: concurrent readers share one answer, the
// snapshot shares the completed-task history with the books, and /metrics
// shows the transport's counters under Prometheus names.
#include "master/views.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <sstream>
#include <stdexcept>

#include "tests/test_util.hpp"

namespace stoa::master {
namespace {

using stoa::testing::WaitFor;

// Callers arriving while an answer is made share the next one: the answer
// being made may predate them (a change they must see), so they do not get it.
TEST(SharedAnswerTest, CallersArrivingWhileAnAnswerIsMadeShareTheNextOne) {
  SharedAnswer shared;
  std::atomic<int> made{0};
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  auto slow = [&] {
    ++made;
    entered.set_value();
    released.wait();
    return std::string("the answer");
  };
  auto first = std::async(std::launch::async, [&] { return shared.Get(slow); });
  entered.get_future().wait();
  auto later = [&] {
    return shared.Get([&] {
      ++made;
      return std::string("a later answer");
    });
  };
  auto second = std::async(std::launch::async, later);
  auto third = std::async(std::launch::async, later);
  ASSERT_TRUE(WaitFor([&] { return shared.waiting() == 2; }));
  release.set_value();
  EXPECT_EQ(first.get(), "the answer");
  EXPECT_EQ(second.get(), "a later answer");
  EXPECT_EQ(third.get(), "a later answer");
  EXPECT_EQ(made.load(), 2) << "the two late callers share one answer";
}

TEST(SharedAnswerTest, AMakeThatThrowsLeavesTheNextCallerToMakeOne) {
  SharedAnswer shared;
  EXPECT_THROW(shared.Get([]() -> std::string { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_EQ(shared.Get([] { return std::string("fresh"); }), "fresh");
}

TEST(MasterViewsTest, TheSnapshotSharesTheCompletedTasksWithTheBooks) {
  FrameworkBook frameworks(10, 10);
  FrameworkInfo info;
  info.id = "f1";
  Framework &framework = frameworks.AddConnected(info, "peer", 0, 0);
  Task task;
  task.info.task_id = "t1";
  task.state = TaskState::kFinished;
  framework.tasks["t1"] = task;
  frameworks.CompleteTask(framework, framework.tasks.find("t1"));
  AgentBook agents;
  OfferBook offers;

  MasterSnapshot state = TakeSnapshot(frameworks, agents, offers, true);
  ASSERT_EQ(state.frameworks.size(), 1u);
  ASSERT_EQ(state.frameworks[0].completed_tasks.size(), 1u);
  EXPECT_EQ(state.frameworks[0].completed_tasks[0].get(), framework.completed_tasks.Find("t1"))
      << "the history was copied, not shared";
  EXPECT_NE(RenderState(state).find("TASK_FINISHED"), std::string::npos);

  frameworks.Remove("f1");
  MasterSnapshot metrics = TakeSnapshot(frameworks, agents, offers, false);
  EXPECT_TRUE(metrics.completed_frameworks.empty()) << "the metrics need only the count";
  EXPECT_EQ(metrics.completed_framework_count, 1u);
  EXPECT_EQ(metrics.tasks_by_state[static_cast<int>(TaskState::kFinished)], 1u);
}

TEST(MasterViewsTest, MetricsShowTheTransportCountersUnderPrometheusNames) {
  MasterSnapshot snapshot;
  snapshot.tasks_by_state.assign(kTaskStateCount, 0);
  snapshot.counters.refused_messages = 1;
  snapshot.counters.snapshots = 4;
  EndpointCounters transport;
  transport.frames_received = 100;
  transport.malformed_frames = 2;
  transport.frames_in_flight = 7;
  transport.frames_in_flight_peak = 9;
  transport.max_in_flight = 1024;
  transport.read_pauses = 3;
  transport.frames_sent = 90;
  transport.frames_dropped = 5;
  transport.frames_queued = 6;
  transport.bytes_queued = 600;
  std::string text = RenderMetrics(snapshot, transport, 0);

  for (const char *line :
       {"stoa_master_frames_received_total 100\n", "stoa_master_invalid_frames_total 3\n",
        "stoa_master_malformed_frames_total 2\n", "stoa_master_frames_in_flight 7\n",
        "stoa_master_frames_in_flight_peak 9\n", "stoa_master_frames_in_flight_limit 1024\n",
        "stoa_master_read_pauses_total 3\n", "stoa_master_frames_sent_total 90\n",
        "stoa_master_frames_dropped_total 5\n", "stoa_master_frames_queued 6\n",
        "stoa_master_queued_bytes 600\n", "stoa_master_snapshots_total 4\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << text;
  }
  // Every counter is named *_total.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0 || line.find(" counter") == std::string::npos) continue;
    std::string name = line.substr(7, line.find(' ', 7) - 7);
    EXPECT_EQ(name.substr(name.size() - 6), "_total") << line;
  }
}

}  // namespace
}  // namespace stoa::master

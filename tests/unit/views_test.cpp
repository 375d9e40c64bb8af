// The master's views: /metrics shows the transport's counters under
// Prometheus names.
#include "master/views.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace stoa::master {
namespace {

TEST(MasterViewsTest, MetricsShowTheTransportCountersUnderPrometheusNames) {
  MasterSnapshot snapshot;
  snapshot.tasks_by_state.assign(kTaskStateCount, 0);
  snapshot.counters.refused_messages = 1;
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

  for (const char* line :
       {"stoa_master_frames_received_total 100\n", "stoa_master_invalid_frames_total 3\n",
        "stoa_master_malformed_frames_total 2\n", "stoa_master_frames_in_flight 7\n",
        "stoa_master_frames_in_flight_peak 9\n", "stoa_master_frames_in_flight_limit 1024\n",
        "stoa_master_read_pauses_total 3\n", "stoa_master_frames_sent_total 90\n",
        "stoa_master_frames_dropped_total 5\n", "stoa_master_frames_queued 6\n",
        "stoa_master_queued_bytes 600\n"}) {
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

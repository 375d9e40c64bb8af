// The Prometheus text writer: label values and help escaped as the format
// asks, and what it writes accepted by Prometheus' own checker.
#include "common/prometheus.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace stoa {
namespace {

TEST(PrometheusText, EscapesLabelValuesAndHelpAndPassesPromtool) {
  PrometheusText out;
  out.Metric("stoa_test_things", "gauge", "Things,\nby \\ kind.");
  out.Sample("stoa_test_things", {{"kind", "a \"quoted\" \\ value\non two lines"}, {"x", "y"}}, 2);
  out.Sample("stoa_test_things", 0.5);
  EXPECT_EQ(out.str(),
            "# HELP stoa_test_things Things,\\nby \\\\ kind.\n"
            "# TYPE stoa_test_things gauge\n"
            "stoa_test_things{kind=\"a \\\"quoted\\\" \\\\ value\\non two lines\",x=\"y\"} 2\n"
            "stoa_test_things 0.5\n");
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian's prometheus package has it)";
  }
  std::string file = ::testing::TempDir() + "/prometheus_test.txt";
  std::ofstream(file) << out.str();
  EXPECT_EQ(std::system(("promtool check metrics < " + file).c_str()), 0);
  std::remove(file.c_str());
}

}  // namespace
}  // namespace stoa

// Prometheus' text exposition format (version 0.0.4), written by hand: each
// metric's HELP and TYPE once, then its samples. Label values are escaped.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace stoa {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // type: "counter", "gauge", "summary", "histogram" or "untyped".
  void Metric(const std::string& name, const std::string& type, const std::string& help);
  void Sample(const std::string& name, const Labels& labels, double value);
  void Sample(const std::string& name, double value) { Sample(name, {}, value); }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

}  // namespace stoa

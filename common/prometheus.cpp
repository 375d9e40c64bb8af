#include "common/prometheus.hpp"

#include <fmt/format.h>

namespace stoa {
namespace {

// A label value with \, " and newlines escaped, as the format asks.
std::string Escaped(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text with \ and newlines escaped.
std::string Help(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void PrometheusText::Metric(const std::string& name, const std::string& type,
                            const std::string& help) {
  out_ += "# HELP " + name + " " + Help(help) + "\n# TYPE " + name + " " + type + "\n";
}

void PrometheusText::Sample(const std::string& name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first + "=\"" + Escaped(labels[i].second) + "\"";
    }
    out_ += '}';
  }
  out_ += " " + fmt::format("{}", value) + "\n";
}

}  // namespace stoa

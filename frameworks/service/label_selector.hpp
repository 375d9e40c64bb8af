// Marathon's label selectors for GET /v2/apps?label=...: comma-separated
// terms that must all hold, each `key` (the label exists), `key==value`,
// `key!=value`, `key in (a, b)` or `key notin (a, b)`. Keys and values are
// letters, digits, '-', '_' and '.', and any other character escaped with '\'.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace stoa::service {

class LabelSelector {
 public:
  // The selector, or an error that points at what could not be read.
  static Result<LabelSelector> Parse(const std::string& text);
  bool Matches(const std::map<std::string, std::string>& labels) const;

 private:
  struct Term {
    enum class Kind { kExists, kEquals, kNotEquals, kIn, kNotIn } kind = Kind::kExists;
    std::string key;
    std::vector<std::string> values;
  };
  std::vector<Term> terms_;
};

}  // namespace stoa::service

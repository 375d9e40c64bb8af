// Aligned text tables for the CLI's listings (`stoa app list`, `stoa job list`).
#pragma once

#include <string>
#include <vector>

namespace stoa::cli {

// Columns padded to their widest cell; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// `text` on one line (newlines as spaces), cut to `width` with "..." when longer.
// REQUIRES: width >= 3.
std::string Truncated(const std::string& text, size_t width);

}  // namespace stoa::cli

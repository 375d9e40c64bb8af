// One line of progress for the CLI's waits (`stoa app deploy`, `stoa job run
// --wait`): rewritten in place on a terminal, a new line per change otherwise,
// so that logs and pipes get each step once.
#pragma once

#include <cstdio>
#include <string>

namespace stoa::cli {

class ProgressLine {
 public:
  explicit ProgressLine(FILE* out);
  // Shows `text` unless it is what is shown already.
  void Show(const std::string& text);
  // Ends the line on a terminal, so that what follows starts on its own.
  void End();
  bool terminal() const { return terminal_; }

 private:
  FILE* out_;
  bool terminal_;
  std::string shown_;
};

}  // namespace stoa::cli

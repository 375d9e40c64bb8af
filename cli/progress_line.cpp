#include "cli/progress_line.hpp"

#include <unistd.h>

namespace stoa::cli {

ProgressLine::ProgressLine(FILE* out) : out_(out), terminal_(isatty(fileno(out)) != 0) {}

void ProgressLine::Show(const std::string& text) {
  if (text == shown_) return;
  shown_ = text;
  std::fprintf(out_, terminal_ ? "\r\033[K%s" : "%s\n", text.c_str());
  std::fflush(out_);
}

void ProgressLine::End() {
  if (terminal_ && !shown_.empty()) std::fprintf(out_, "\n");
  shown_.clear();
}

}  // namespace stoa::cli

#include "cli/json_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace stoa::cli {

using json = nlohmann::json;

Result<json> ParseJsonText(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte counts the characters read, the offending one included.
    size_t end = e.byte == 0 ? 0 : std::min<size_t>(e.byte - 1, text.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    size_t column = end - line_start + 1;
    std::string why = e.what();
    size_t colon = why.find(": ");
    if (colon != std::string::npos) why = why.substr(colon + 2);
    for (size_t at; (at = why.find("<U+000A>")) != std::string::npos;) why.replace(at, 8, "\\n");
    return Status::Error("line " + std::to_string(line) + ", column " + std::to_string(column) +
                         ": " + why);
  }
}

std::string InputName(const std::string& file) { return file == "-" ? "stdin" : file; }

Result<json> ReadJsonObjectFile(const std::string& file, const std::string& what) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) return Status::Error("cannot read " + file + ": " + ErrnoText(errno));
    text << in.rdbuf();
  }
  auto parsed = ParseJsonText(text.str());
  if (!parsed.ok()) return Status::Error(InputName(file) + " is not JSON: " + parsed.error());
  if (!parsed->is_object()) {
    return Status::Error(InputName(file) + " holds " + parsed->type_name() + ", not " + what);
  }
  return parsed;
}

void PrintJson(const json& value) { std::printf("%s\n", value.dump(2).c_str()); }

}  // namespace stoa::cli

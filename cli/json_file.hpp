// JSON in and out of the CLI: definition files (`stoa app deploy`, `stoa job
// add`) refused before any request with where and why they are not what they
// should be, and the --json output of every command.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/status.hpp"

namespace stoa::cli {

// A JSON document, or an error that gives the line and column where it stops
// being JSON and why.
Result<nlohmann::json> ParseJsonText(const std::string& text);

// The file's name in messages: "stdin" for "-".
std::string InputName(const std::string& file);

// The JSON object in `file` ("-": stdin); an error naming the file when it
// cannot be read, is not JSON (line and column) or holds something other than
// an object, which `what` describes ("an app definition (a JSON object with
// an id)").
Result<nlohmann::json> ReadJsonObjectFile(const std::string& file, const std::string& what);

// `value` indented by 2, on stdout.
void PrintJson(const nlohmann::json& value);

}  // namespace stoa::cli

// One spdlog logger per component ("master", "agent", "allocator", ...), all
// writing to stderr with the component name in each line.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace stoa {

// The logger for `component`, created on first use. Thread-safe.
std::shared_ptr<spdlog::logger> Logger(const std::string& component);
// Sets the level of every logger ("trace", "debug", "info", "warn", "error").
void SetLogLevel(const std::string& level);

}  // namespace stoa

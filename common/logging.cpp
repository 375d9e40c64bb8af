#include "common/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace stoa {

std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = spdlog::stderr_color_mt(component);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ [%n] %v");
  logger->set_level(spdlog::get_level());
  return logger;
}

void SetLogLevel(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

}  // namespace stoa

// SPDX-License-Identifier: Apache-2.0
#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dind::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};

constexpr std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  char with_millis[40];
  std::snprintf(with_millis, sizeof(with_millis), "%s.%03dZ", buffer, static_cast<int>(millis));
  return with_millis;
}

// Values with spaces are quoted so a line stays machine-splittable as key=value pairs, and so
// are control characters: a line break in a value (a client's, the kernel's) must not forge a
// log line. Invalid UTF-8 is replaced rather than thrown about: logging must never fail.
std::string QuoteIfNeeded(const std::string& value) {
  const bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f || c == '"' || c == '=';
  });
  if (plain) return value;
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void Configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

bool ParseLevel(std::string_view text, Level& out) {
  for (Level level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(level)) {
      out = level;
      return true;
    }
  }
  return false;
}

std::string FormatLine(Level level, Format format, std::string_view timestamp,
                       std::string_view message, const Fields& fields) {
  if (format == Format::kJson) {
    nlohmann::ordered_json line;
    line["time"] = timestamp;
    line["level"] = LevelName(level);
    line["msg"] = message;
    for (const auto& [key, value] : fields) line[key] = value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string line =
      std::string(timestamp) + " " + std::string(LevelName(level)) + " " + std::string(message);
  for (const auto& [key, value] : fields) line += " " + key + "=" + QuoteIfNeeded(value);
  return line + "\n";
}

void Write(Level level, std::string_view message, const Fields& fields) {
  if (level < g_level.load()) return;
  const std::string line = FormatLine(level, g_format.load(), NowRfc3339(), message, fields);
  // One write(2) per line keeps lines whole when several threads or processes log at once.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace dind::log

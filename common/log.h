// SPDX-License-Identifier: Apache-2.0
// One line per event on stderr: human-readable by default, JSON for log collectors.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dind::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void Configure(Level level, Format format);
bool ParseLevel(std::string_view text, Level& out);

using Fields = std::vector<std::pair<std::string, std::string>>;
void Write(Level level, std::string_view message, const Fields& fields = {});

inline void Debug(std::string_view m, const Fields& f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, const Fields& f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, const Fields& f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, const Fields& f = {}) { Write(Level::kError, m, f); }

// Formats one line without writing it; exposed for tests.
std::string FormatLine(Level level, Format format, std::string_view timestamp,
                       std::string_view message, const Fields& fields);

}  // namespace dind::log

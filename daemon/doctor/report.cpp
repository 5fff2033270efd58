// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/report.h"

#include <algorithm>

namespace dind::doctor {
namespace {

// "unknown", the longest status word.
constexpr std::size_t kStatusWidth = 7;

std::string Padded(std::string_view text, std::size_t width) {
  std::string padded(text);
  padded.append(width > text.size() ? width - text.size() : 0, ' ');
  return padded;
}

}  // namespace

StatusCounts CountStatuses(const std::vector<CheckResult>& results) {
  StatusCounts counts;
  for (const auto& result : results) {
    switch (result.status) {
      case CheckStatus::kOk:
        ++counts.ok;
        break;
      case CheckStatus::kWarn:
        ++counts.warn;
        break;
      case CheckStatus::kFail:
        ++counts.fail;
        break;
      case CheckStatus::kUnknown:
        ++counts.unknown;
        break;
    }
  }
  return counts;
}

std::string RenderText(const std::vector<CheckResult>& results) {
  std::size_t id_width = 0;
  for (const auto& result : results) id_width = std::max(id_width, result.id.size());
  // The summary column: the fix starts under it.
  const std::string indent(kStatusWidth + 2 + id_width + 2, ' ');
  std::string text;
  for (const auto& result : results) {
    text += Padded(CheckStatusName(result.status), kStatusWidth) + "  ";
    text += Padded(result.id, id_width) + "  " + result.summary;
    if (!result.source.empty()) text += " (" + result.source + ")";
    text += '\n';
    if (result.status != CheckStatus::kOk && !result.fix.empty()) {
      text += indent + "fix: " + result.fix + '\n';
    }
  }
  const StatusCounts counts = CountStatuses(results);
  text += std::to_string(results.size()) + (results.size() == 1 ? " check: " : " checks: ") +
          std::to_string(counts.ok) + " ok, " + std::to_string(counts.warn) + " warn, " +
          std::to_string(counts.fail) + " fail, " + std::to_string(counts.unknown) + " unknown\n";
  return text;
}

nlohmann::ordered_json RenderJson(const std::vector<CheckResult>& results,
                                  std::string_view tool_version) {
  const StatusCounts counts = CountStatuses(results);
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const auto& result : results) {
    checks.push_back({{"id", result.id},
                      {"status", CheckStatusName(result.status)},
                      {"summary", result.summary},
                      {"source", result.source},
                      {"fix", result.fix},
                      {"observed", result.observed}});
  }
  return {{"schema", 1},
          {"tool", {{"name", "dind-netcfg"}, {"version", tool_version}}},
          {"summary",
           {{"ok", counts.ok},
            {"warn", counts.warn},
            {"fail", counts.fail},
            {"unknown", counts.unknown}}},
          {"checks", std::move(checks)}};
}

int ExitCode(const std::vector<CheckResult>& results) {
  return CountStatuses(results).fail > 0 ? 1 : 0;
}

}  // namespace dind::doctor

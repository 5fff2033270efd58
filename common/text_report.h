// SPDX-License-Identifier: Apache-2.0
// The lines of the text reports (`detect`, `init`, `rules`, the backend decision): a label, then
// its value starting in column 13, so the values stand one under another; a label of 12
// characters or more gets one space.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dind {

inline constexpr std::size_t kReportLabelWidth = 12;

// "label       value\n".
inline std::string ReportLine(std::string_view label, std::string_view value) {
  std::string line(label);
  line.append(label.size() < kReportLabelWidth ? kReportLabelWidth - label.size() : 1, ' ');
  line += value;
  line += '\n';
  return line;
}

}  // namespace dind

// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/probe.h"

namespace dind::egress {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kInconclusive:
      return "inconclusive";
  }
  return "unknown";
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  std::string text = std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100);
  if (ms % 100 != 0) text += std::to_string((ms % 100) / 10) + std::to_string(ms % 10);
  while (text.back() == '0') text.pop_back();
  return text + "s";
}

}  // namespace dind::egress

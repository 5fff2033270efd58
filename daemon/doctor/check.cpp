// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/check.h"

namespace dind::doctor {

std::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk:
      return "ok";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "fail";
    case CheckStatus::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace dind::doctor

// SPDX-License-Identifier: Apache-2.0
// What `doctor` prints: the text report (one aligned line per check, the fix under each that is
// not ok, a summary line), the JSON document (schema 1, described in README "doctor") and the
// exit code. Pure: results in, text out.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/doctor/check.h"

namespace dind::doctor {

struct StatusCounts {
  int ok = 0;
  int warn = 0;
  int fail = 0;
  int unknown = 0;
};
StatusCounts CountStatuses(const std::vector<CheckResult>& results);

// "ok       conntrack  12 of 262144 entries (0 %) (/proc/sys/...)\n"
// "                    fix: ...\n" ... "5 checks: 3 ok, 1 warn, 1 fail, 0 unknown\n".
std::string RenderText(const std::vector<CheckResult>& results);

// {"schema":1,"tool":{"name":"dind-netcfg","version":V},"summary":{...},"checks":[...]}.
nlohmann::ordered_json RenderJson(const std::vector<CheckResult>& results,
                                  std::string_view tool_version);

// 1 when any check failed, else 0 (warn and unknown do not fail the pod).
int ExitCode(const std::vector<CheckResult>& results);

}  // namespace dind::doctor

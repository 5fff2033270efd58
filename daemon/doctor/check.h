// SPDX-License-Identifier: Apache-2.0
// One check of `dind-netcfg doctor` (and of the preflight `init`, `run` and `entrypoint` log and
// serve): what it found, in which process and file or API, and the fix in one sentence. The
// checks themselves are pure functions from what was read to a CheckResult, so each one is
// unit-tested on values; reading is done apart, behind the seams in facts (doctor_facts.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dind::doctor {

enum class CheckStatus {
  kOk,
  kWarn,
  kFail,
  // The check could not run (a file unreadable, the API down): said so, never reported as ok,
  // and not a failure of the pod either (exit 0 when nothing failed).
  kUnknown,
};

// "ok", "warn", "fail", "unknown": the words of the text lines, the JSON and the metric label.
std::string_view CheckStatusName(CheckStatus status);

struct CheckResult {
  // Stable kebab-case id, the JSON's and the metric's `check` label: "storage-fs",
  // "iptables-raw", "api-floor", "dns-fallback", "conntrack", "userns", "kind-inotify", ...
  std::string id;
  CheckStatus status = CheckStatus::kUnknown;
  // What was found, in words: "data-root /var/lib/docker is on overlayfs".
  std::string summary;
  // Where it was read, naming the process: "statfs of /var/lib/docker (pid 1)",
  // "GET /version of unix:///var/run/docker.sock (dockerd 28.5.2)".
  std::string source;
  // One sentence: the manifest line, the flag or the sysctl. Empty when ok.
  std::string fix;
  // The values read, for --json and /status (bytes, counts, versions ...).
  nlohmann::ordered_json observed = nlohmann::ordered_json::object();
};

}  // namespace dind::doctor

// SPDX-License-Identifier: Apache-2.0
// The preflight: the doctor's checks as `init`, `run` and `entrypoint` run them on their own
// (issue 29). Which checks concern which command, a log that says each fail, warn and unknown
// once (and again only when a check's status changes), and the checks as /status shows them.
// The sidecar (daemon/sidecar) runs RunPreflight off its event loop and serves the results in
// /status and as dind_netcfg_preflight{check,status}.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"
#include "netcfg/dockerd/dockerd_version.h"

namespace dind::doctor {

enum class PreflightFor {
  // Before dockerd runs (an init container): what dockerd's configuration, the kernel and the
  // pod decide. The checks that only the running dockerd can answer are left out there.
  kInit,
  // The sidecar beside dockerd, and the entrypoint once its dockerd answers: every check.
  kRun,
  kEntrypoint,
};
// "init", "run", "entrypoint": the log's `command` field.
std::string_view PreflightForName(PreflightFor command);

// Checks that read only what the running dockerd answers (GET /version, GET /info): before it
// runs they could only be unknown, so init leaves them to run and entrypoint.
inline constexpr std::string_view kRunningDockerdOnly[] = {"api-floor", "storage-driver"};

// Whether check `id` concerns `command`. A deny-list: a check added to doctor concerns every
// command unless it can only ask the running dockerd.
bool PreflightConcerns(PreflightFor command, std::string_view id);
// The results that concern `command`, in their order.
std::vector<CheckResult> SelectPreflight(PreflightFor command, std::vector<CheckResult> results);

// What the sidecar has measured that the checks cannot read themselves, copied on its loop
// and handed to a round by value.
struct PreflightFeed {
  // The egress prober's latest results for dockerd's public fallback servers (dns-fallback);
  // empty: not probed yet.
  std::vector<FallbackProbe> dns_fallback;
};

// Runs doctor's checks (RunAllChecks, without --for kind) for `command` and keeps those that
// concern it. Blocking: files under /proc and /sys, statfs, dockerd's binary and, when
// `docker_socket` is not empty, GET /info (5 s at most) and GET /version (2 s at most). The
// sidecar calls it on a thread of its own, never on its event loop.
// `told_dockerd` (--dockerd-version) is the version to judge by when dockerd does not answer.
std::vector<CheckResult> RunPreflight(PreflightFor command, const std::string& daemon_json,
                                      const std::string& docker_socket,
                                      std::optional<netcfg::DockerVersion> told_dockerd = {},
                                      PreflightFeed feed = {});

// Logs preflight rounds: each fail (error), warn (warn) and unknown (info: the check could not
// run, and why) once, with the check, status, summary, source and fix as fields; a check is
// logged again only when its status changes (a warn that clears is said at info), so a
// periodic round does not repeat what is known. An ok on the first round is debug. After a
// round with a change, one info line counts the statuses.
class PreflightLog {
 public:
  using Sink = std::function<void(log::Level, std::string_view, const log::Fields&)>;
  explicit PreflightLog(PreflightFor command, Sink sink = &log::Write);
  void Record(const std::vector<CheckResult>& results);

 private:
  PreflightFor command_;
  Sink sink_;
  std::map<std::string, CheckStatus> last_;  // per check id, as last logged
};

// The checks as doctor's JSON document lists them: [{id, status, summary, source, fix,
// observed}, ...] (report.h, README "doctor").
nlohmann::ordered_json PreflightChecksToJson(const std::vector<CheckResult>& results);

}  // namespace dind::doctor

// SPDX-License-Identifier: Apache-2.0
// What the sidecar knows, as values: the reconciler fills it, and readiness (readiness.h),
// /status (status_json.h) and /metrics (sidecar_metrics.h) are pure functions of it (and of the
// prober's status), so each is unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/mtu.h"
#include "daemon/doctor/check.h"
#include "daemon/pod/docker_networks.h"
#include "daemon/pod/docker_report.h"
#include "daemon/sidecar/mss_clamp.h"
#include "netcfg/detect/detector.h"
#include "rules/masquerade.h"

namespace dind::sidecar {

using Clock = std::chrono::system_clock;

struct DaemonJsonState {
  std::string path;
  bool written = false;  // daemon.json holds what the last detection decided
  std::string error;     // why the last write failed
  std::uint64_t writes = 0;
  Mtu mtu = 0;  // the docker MTU daemon.json says
  // dockerd read daemon.json before it changed: only a restart applies the new file.
  bool restart_required = false;
  std::string restart_reason;
};

struct RulesState {
  bool enabled = true;
  std::optional<rules::BackendKind> backend;
  rules::MasqueradeSpec spec;
  bool present = false;
  std::vector<std::string> missing;  // why not present, one finding each
  std::string error;                 // why the last check or repair failed
  std::uint64_t checks = 0;
  std::uint64_t repairs = 0;
  std::optional<Clock::time_point> last_repair_at;
};

// The MSS clamp (--clamp-mss): the plan in force and the measurements it was made from.
struct ClampState {
  sidecar::ClampMssSetting setting;
  // The lowest path MTU the last probe round measured beyond the pod, per family.
  std::optional<Mtu> path_mtu_ipv4;
  std::optional<Mtu> path_mtu_ipv6;
  sidecar::ClampPlan plan;
};

// The preflight (daemon/doctor/preflight.h): doctor's checks, run off the loop at start, when
// dockerd first answers and every --preflight-interval. Not part of readiness: a warn is not a
// reason to take the pod out of service.
struct PreflightState {
  bool enabled = false;
  std::vector<doctor::CheckResult> checks;  // the last round's
  std::optional<Clock::time_point> ran_at;  // when the last round finished
  std::chrono::milliseconds took{0};        // how long it took
  std::uint64_t rounds = 0;
};

struct SidecarState {
  std::optional<netcfg::DetectionReport> report;
  DaemonJsonState daemon_json;
  RulesState rules;
  pod::DockerState docker;
  ClampState clamp;
  std::optional<Clock::time_point> last_reconcile_at;
  PreflightState preflight;
};

}  // namespace dind::sidecar

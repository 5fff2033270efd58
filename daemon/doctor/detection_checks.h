// SPDX-License-Identifier: Apache-2.0
// What `detect` reports, as checks of doctor's one report (issue 29, item 8): network-mtu,
// network-overlay, iptables-backend, cgroups, address-pools, dockerd-version. Detection itself
// belongs to netcfg/ and daemon/pod/: the command runs it (RunDetection, the backend decision
// with its census and proof in throwaway namespaces, docker's networks from the API) and hands
// the outcome over in DoctorContext::detection; the checks here only judge it, so each is
// unit-tested on a DetectionReport a test builds.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"
#include "daemon/pod/docker_networks.h"
#include "netcfg/detect/detector.h"
#include "rules/choice/backend_choice.h"

namespace dind::doctor {

// One detection, as `detect` makes it, and where it was made.
struct DetectionOutcome {
  netcfg::DetectionReport report;
  // The process that read the facts (netlink, /proc, /sys): "dind-netcfg doctor pid 812".
  std::string read_by;
  // The masquerade backend decision (kernel facts, read-only census, traffic proof in throwaway
  // namespaces); an Error when neither backend can be used here.
  Result<rules::BackendDecision> backend;
  // docker's networks from GET /networks (api_up false, with the reason, when it does not
  // answer).
  pod::DockerState docker;
};

// The checks, each a pure function of the outcome.
CheckResult CheckNetworkMtu(const DetectionOutcome& outcome);
CheckResult CheckNetworkOverlay(const DetectionOutcome& outcome);
CheckResult CheckIptablesBackend(const DetectionOutcome& outcome);
CheckResult CheckCgroups(const DetectionOutcome& outcome);
CheckResult CheckAddressPools(const DetectionOutcome& outcome);
CheckResult CheckDockerdVersion(const DetectionOutcome& outcome);

// All six from a detection, or, when detection failed, all six unknown with its error.
std::vector<CheckResult> JudgeDetection(const Result<DetectionOutcome>& detection);

// The group: JudgeDetection of context.detection; nothing when the caller did not detect.
std::vector<CheckResult> DetectionChecks(const DoctorContext& context);

}  // namespace dind::doctor

// SPDX-License-Identifier: Apache-2.0
// What `run` and `entrypoint` both do before their loops: detect here, choose the masquerade
// backend (proving it when auto), and build the reconciler that writes daemon.json and the
// rules. The session owns the netlink reader, the detector, the chosen backend and the
// reconciler, which point at each other, so they live and die together.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/pod/backend_here.h"
#include "daemon/pod/detect_here.h"
#include "daemon/sidecar/mss_clamp.h"
#include "daemon/sidecar/pod_sysctls.h"
#include "daemon/sidecar/reconciler.h"
#include "netcfg/detect/detector.h"
#include "netcfg/detect/gather_facts.h"
#include "netcfg/netlink/rtnl_reader.h"
#include "rules/masquerade.h"

namespace dind::session {

// The shared flags, parsed (daemon/commands/sidecar_flags.h), and where the commands differ.
struct PodSessionOptions {
  netcfg::DetectOptions detect;
  // The entrypoint's sources.dockerd is its --dockerd: daemon.json is for the dockerd it runs.
  netcfg::FactSources sources;
  pod::BackendRequest backend;
  std::string daemon_json;
  bool manage_rules = true;  // false: --no-rules
  sidecar::ClampMssSetting clamp_mss;
  // The entrypoint chooses a backend even with --no-rules: dockerd's iptables use it.
  bool choose_backend_without_rules = false;
  // Whether the reconciler reads docker's bridges from netlink while dockerd's API cannot be
  // read. `run` does. The entrypoint does not: it starts dockerd itself and requires its API
  // (docker_api_required), so the API is its only source of docker's networks.
  bool bridges_from_netlink = true;
};

class PodSession {
 public:
  // Detects here, then chooses the backend when rules are managed (or
  // choose_backend_without_rules). Nothing is written yet; the proof runs in namespaces of its
  // own. An Error is the detection's or the choice's, exit code and fix included.
  static Result<std::unique_ptr<PodSession>> Open(PodSessionOptions options);
  PodSession(const PodSession&) = delete;
  PodSession& operator=(const PodSession&) = delete;

  sidecar::Reconciler& reconciler() { return *reconciler_; }
  // The backend chosen; nullopt when none was (run with --no-rules).
  std::optional<rules::BackendKind> backend() const;
  // The detection Open made, handed over once: to Start, or to the entrypoint, which starts the
  // reconciler itself once cgroups are nested.
  netcfg::DetectionReport TakeReport();
  // Writes daemon.json and makes the rules present (Reconciler::Start) from Open's detection.
  Status Start();

 private:
  explicit PodSession(const PodSessionOptions& options);

  netcfg::RtnlReader netlink_;
  pod::DetectorHere detector_;
  sidecar::ProcSysctls sysctls_;
  std::optional<pod::ChosenBackend> chosen_;
  std::optional<netcfg::DetectionReport> report_;
  std::unique_ptr<sidecar::Reconciler> reconciler_;  // last: it points at the members above
};

}  // namespace dind::session

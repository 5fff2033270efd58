// SPDX-License-Identifier: Apache-2.0
// `run`: the reconciler on one Boost.Asio event loop, fed by the kernel and dockerd, with the
// health endpoint and the egress prober beside it.
//
//   rtnetlink (links, addresses, routes) ──debounce──> Reconciler::OnNetworkChanged, ProbeSoon
//   nf_tables notifications (nft backend) ───────────> Reconciler::CheckRules  (repair in ms)
//   poll timer (legacy backend, --poll-interval) ────> Reconciler::CheckRules
//   Docker API network events ──> list networks ─────> Reconciler::OnDockerNetworks
//   Prober rounds (probe namespace on docker0) ──────> readiness, metrics
//   SIGTERM/SIGINT ──> stop everything, optionally remove the rules, exit 0
//
// Nothing blocks the loop for long: the kernel calls are single netlink exchanges, the Docker
// API and the probes are asynchronous with deadlines.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/docker/docker_client.h"
#include "daemon/http/listen_address.h"
#include "daemon/http/responder.h"
#include "daemon/probe/probe_factory.h"
#include "daemon/probe/prober.h"
#include "daemon/run/reconciler.h"

namespace dind::run {

struct EgressOptions {
  std::string bridge = "docker0";
  std::vector<probe::ProbeTarget> targets;
  probe::ProberConfig prober;
  probe::ProbeSettings settings;
};

struct SidecarOptions {
  http::ListenAddress listen;
  http::Limits http_limits;
  // nullopt: dockerd's API is not followed (--docker-socket "").
  std::optional<docker::ClientOptions> docker;
  std::optional<EgressOptions> egress;  // nullopt: --no-probes
  std::chrono::milliseconds poll_interval{1000};
  // Coalesces a burst of netlink notifications (dockerd making a bridge sends dozens).
  std::chrono::milliseconds network_settle{100};
  bool cleanup_on_exit = false;
};

// Runs until SIGTERM or SIGINT; returns the exit code. `reconciler` has already started.
int RunSidecar(Reconciler& reconciler, const SidecarOptions& options);

}  // namespace dind::run

// SPDX-License-Identifier: Apache-2.0
// A sidecar state that is ready, and prober rounds passed or meeting a black hole, for the tests of
// what the sidecar makes of its state.
#pragma once

#include <optional>
#include <string>

#include "daemon/egress/prober.h"
#include "daemon/sidecar/sidecar_state.h"
#include "tests/mocks/docker_networks.h"

namespace dind::sidecar {

using testing::Network;

inline SidecarState ReadyState() {
  SidecarState state;
  state.daemon_json = {"/etc/docker/daemon.json", true, "", 1, 1450, false, ""};
  state.rules.backend = rules::BackendKind::kLegacy;
  state.rules.present = true;
  state.rules.spec = {{*Cidr::Parse("172.17.0.0/16")}, "eth0"};
  return state;
}

inline egress::ProberStatus PassedRound() {
  egress::ProberStatus status;
  status.attachment = egress::AttachStatus::State::kAttached;
  status.rounds = status.rounds_since_attach = 1;
  egress::TargetResult result;
  result.target = *egress::ParseProbeTarget("10.96.0.1:443");
  result.outcome = egress::Outcome::kPassed;
  result.latency = std::chrono::microseconds(1500);
  result.finished_at = Clock::now();
  status.results.push_back(result);
  status.last_round_at = result.finished_at;
  return status;
}

// A round whose path-MTU probe found a black hole: 1360 gets through, frag-needed never came.
inline egress::ProberStatus BlackHoleRound() {
  egress::ProberStatus status = PassedRound();
  egress::TargetResult mtu;
  mtu.target = *egress::ParseMtuTarget("10.96.0.10", "--probe-mtu-target");
  mtu.outcome = egress::Outcome::kFailed;
  mtu.detail = "path MTU black hole";
  mtu.path_mtu = 1360;
  mtu.family = Family::kIPv4;
  status.results.push_back(mtu);
  return status;
}

}  // namespace dind::sidecar

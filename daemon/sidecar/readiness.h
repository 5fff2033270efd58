// SPDX-License-Identifier: Apache-2.0
// Whether the pod is ready, from the sidecar's state and the prober's last round; and what that
// round measured of the path MTU beyond the pod, for the MSS clamp.
#pragma once

#include <cstdint>
#include <optional>

#include "common/mtu.h"
#include "daemon/egress/prober.h"
#include "daemon/http/health_routes.h"
#include "daemon/sidecar/sidecar_state.h"

namespace dind::sidecar {

// `egress` with each failed path-MTU result of a family whose TCP the MSS clamp in force
// fits to the path counted as passed (its detail says so): a black hole the clamp heals does
// not keep the pod unready.
egress::ProberStatus HealedByClamp(const egress::ProberStatus& egress, const ClampState& clamp);

// The lowest path MTU the probes measured for `family`; nullopt when none did.
std::optional<Mtu> LowestPathMtu(const egress::ProberStatus& egress, Family family);

// Ready when daemon.json is written, the rules are present (when managed) and the last egress
// probes passed (when probing); otherwise the first reason, one line.
http::Readiness ReadinessOf(const SidecarState& state, const egress::ProberStatus* egress);

}  // namespace dind::sidecar

// SPDX-License-Identifier: Apache-2.0
// The document GET /status answers: the sidecar's state, the prober's status and the readiness
// they make, as JSON.
#pragma once

#include "daemon/egress/prober.h"
#include "daemon/http/health_routes.h"
#include "daemon/sidecar/sidecar_state.h"
#include "netcfg/daemon_json/daemon_json.h"

namespace dind::sidecar {

// The whole report behind GET /status.
netcfg::OrderedJson StatusToJson(const SidecarState& state, const egress::ProberStatus* egress,
                                 const http::Readiness& readiness);

}  // namespace dind::sidecar

// SPDX-License-Identifier: Apache-2.0
// docker's networks as the reports show them: the `docker` section of /status and of
// `detect --json`.
#pragma once

#include "daemon/pod/docker_networks.h"
#include "netcfg/daemon_json/daemon_json.h"

namespace dind::pod {

// The socket, whether the API answers, the networks, those above the safe MTU, and KIND's `kind`
// network (null when there is none): a `kind` network made before the MTU was fixed keeps 1500
// until it is recreated.
netcfg::OrderedJson DockerStateToJson(const DockerState& docker);

}  // namespace dind::pod

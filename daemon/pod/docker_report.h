// SPDX-License-Identifier: Apache-2.0
// docker's networks as the reports show them: the `docker` section of /status and of
// `detect --json`, and the `network-mtu` and `address-pools` checks of `doctor`.
#pragma once

#include <string>

#include "common/mtu.h"
#include "daemon/pod/docker_networks.h"
#include "netcfg/daemon_json/daemon_json.h"

namespace dind::pod {

// The socket, whether the API answers, the networks, those above the safe MTU, and KIND's `kind`
// network (null when there is none): a `kind` network made before the MTU was fixed keeps 1500
// until it is recreated.
netcfg::OrderedJson DockerStateToJson(const DockerState& docker);

// What dockerd's API says about its networks, asked now on `socket` (GET /networks, 2 s at
// most), with those above `safe_mtu`. `detect` and `doctor` read: a socket that is missing or
// silent is a finding (api_up false, `error` says why), not a failure.
DockerState ReadDockerHere(const std::string& socket, Mtu safe_mtu);

}  // namespace dind::pod

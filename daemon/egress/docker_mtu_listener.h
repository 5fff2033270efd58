// SPDX-License-Identifier: Apache-2.0
// The seam that carries the docker MTU to the egress probe. The docker MTU is decided by
// detection (netcfg::DecideMtu) and written to daemon.json by the sidecar's reconciler, which
// tells its listener (Reconciler::set_docker_mtu_listener) at once and after every change. The
// probe's attachment listens (egress::Attachment), so the probe's veth, and with it every probe
// packet, is sized like the veths dockerd gives nested containers.
#pragma once

#include "common/mtu.h"

namespace dind::egress {

class DockerMtuListener {
 public:
  virtual ~DockerMtuListener() = default;
  // The MTU daemon.json gives dockerd ("mtu"); never 0.
  virtual void SetDockerMtu(Mtu mtu) = 0;
};

}  // namespace dind::egress

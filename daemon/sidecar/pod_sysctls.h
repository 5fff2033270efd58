// SPDX-License-Identifier: Apache-2.0
// The sysctls of the pod's network namespace the sidecar's decisions read, behind a seam so the
// reconciler's decisions are unit-tested without the machine's /proc (tests/mocks has a fake).
// The pod's namespace is dockerd's too: what this reads is what dockerd runs with.
#pragma once

#include <optional>

namespace dind::sidecar {

class PodSysctls {
 public:
  virtual ~PodSysctls() = default;
  // net.ipv6.conf.all.forwarding; nullopt when it cannot be read (a kernel without IPv6).
  virtual std::optional<bool> Ipv6Forwarding() const = 0;
};

// This process's namespace, through /proc/sys.
class ProcSysctls final : public PodSysctls {
 public:
  std::optional<bool> Ipv6Forwarding() const override;
};

}  // namespace dind::sidecar

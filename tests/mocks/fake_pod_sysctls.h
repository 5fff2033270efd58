// SPDX-License-Identifier: Apache-2.0
// PodSysctls with the values the test sets, counting the reads.
#pragma once

#include <optional>

#include "daemon/sidecar/pod_sysctls.h"

namespace dind::testing {

class FakePodSysctls final : public sidecar::PodSysctls {
 public:
  std::optional<bool> ipv6_forwarding = true;  // nullopt: unreadable
  mutable int reads = 0;

  std::optional<bool> Ipv6Forwarding() const override {
    ++reads;
    return ipv6_forwarding;
  }
};

}  // namespace dind::testing

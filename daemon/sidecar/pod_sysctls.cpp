// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/pod_sysctls.h"

#include "common/files.h"

namespace dind::sidecar {

std::optional<bool> ProcSysctls::Ipv6Forwarding() const {
  auto value = ReadFile("/proc/sys/net/ipv6/conf/all/forwarding");
  if (!value) return std::nullopt;
  return value->starts_with("1");
}

}  // namespace dind::sidecar

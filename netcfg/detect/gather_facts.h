// SPDX-License-Identifier: Apache-2.0
// GatherFacts: reads the SystemFacts of facts.h from the running system, netlink for the
// network and files for the rest. Absent files are facts too (nullopt), never errors; only a
// failing netlink dump is.
#pragma once

#include <string>

#include "netcfg/detect/facts.h"

namespace dind::netcfg {

struct FactSources {
  std::string calico_mtu_file = "/var/lib/calico/mtu";
  std::string cni_config = "/etc/cni/net.d";  // a file, or a directory: its first *.conf(list)
  std::string resolv_conf = "/etc/resolv.conf";
  bool run_dockerd_version = true;  // run `dockerd --version` (only needed for auto)
};

Result<SystemFacts> GatherFacts(NetlinkReader& netlink, const FactSources& sources);

}  // namespace dind::netcfg

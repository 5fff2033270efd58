// SPDX-License-Identifier: Apache-2.0
// GatherFacts: reads the SystemFacts of facts.h from the running system, netlink for the
// network and files for the rest. Absent files are facts too (nullopt), never errors; only a
// failing netlink dump is.
#pragma once

#include <optional>
#include <string>

#include "netcfg/detect/facts.h"

namespace dind::netcfg {

struct FactSources {
  std::string calico_mtu_file = "/var/lib/calico/mtu";
  std::string cni_config = "/etc/cni/net.d";  // a file, or a directory: its first *.conf(list)
  std::string resolv_conf = "/etc/resolv.conf";
  // The dockerd whose version is read (only needed for --dockerd-version auto): a path, or a name
  // looked up on PATH. Its Go build information is read first; `<dockerd> --version` is run only
  // when that has no version (go_buildinfo.h says why).
  bool read_dockerd_version = true;
  std::string dockerd = "dockerd";
  // The running dockerd's API socket, asked first (GET /version) by pod::DetectHere, which
  // then reads the binary only when it does not answer: the binary on disk need not be the one
  // serving. "" asks no socket. GatherFacts itself does no API I/O.
  std::string docker_socket;
  // The running dockerd's version when the caller has already asked docker_socket (doctor asks
  // it once per run): DetectHere takes it instead of asking again.
  std::optional<DockerdVersionText> served_dockerd;
  // systemd-resolved's upstream file, read for --dns auto (netcfg/dns/dns_flag.h).
  std::string systemd_resolv_conf = "/run/systemd/resolve/resolv.conf";
};

Result<SystemFacts> GatherFacts(NetlinkReader& netlink, const FactSources& sources);

}  // namespace dind::netcfg

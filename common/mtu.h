// SPDX-License-Identifier: Apache-2.0
// The MTU: one type wherever an MTU is held (a link's, a route's metric, a path's, the one
// daemon.json gives dockerd), and its constants, each defined here once. Follow the docker MTU
// by this type from detection (netcfg/detect/network_path.h DecideMtu) to daemon.json
// (netcfg/detect/daemon_json_plan.h PlanDaemonJson) and to the egress probe
// (daemon/egress/docker_mtu_listener.h).
#pragma once

#include <cstdint>

namespace dind {

// Bytes; 0 where a field says "none set" (a route without an MTU metric, a daemon.json not yet
// written). The width of the kernel's (IFLA_MTU, RTAX_MTU) and of libnl's.
using Mtu = std::uint32_t;

// dockerd's MTU for a network that sets no com.docker.network.driver.mtu option (and for
// containers when daemon.json sets no "mtu").
inline constexpr Mtu kDockerDefaultMtu = 1500;
// IPv6's minimum link MTU (RFC 8200): the lowest docker MTU dind-netcfg sets, and the floor of
// the IPv6 path-MTU search; every IPv6 path carries it.
inline constexpr Mtu kIpv6MinimumMtu = 1280;
// IPv4's minimum reassembly size (RFC 791): the floor of the IPv4 path-MTU search.
inline constexpr Mtu kIpv4MinimumReassembly = 576;
// The range a number must be in to be an MTU at all (IPv4's minimum link MTU, RFC 791, up to
// the 16-bit total length), for MTUs read from files, CNI configs and docker's options.
inline constexpr Mtu kLowestMtu = 68;
inline constexpr Mtu kHighestMtu = 65535;

}  // namespace dind

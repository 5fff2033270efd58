// SPDX-License-Identifier: Apache-2.0
// The way out of the pod and the MTU it allows: the uplinks (interfaces of the default routes),
// the overlay's overhead with its evidence, and the docker MTU decided from them. Pure functions
// of SystemFacts and the user's options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "common/result.h"
#include "netcfg/detect/facts.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::netcfg {

// ---- Uplink -------------------------------------------------------------------------------
struct Uplink {
  std::string interface;
  int link_index = 0;
  std::string kind;  // link kind of the uplink itself ("veth", "vxlan", "" …)
  Mtu mtu = 0;
  Mtu route_mtu = 0;  // the default route's own MTU metric, 0 when unset
  std::optional<IpAddress> gateway;
  std::vector<std::string> addresses;  // "10.244.1.5/24"
};

struct Uplinks {
  std::optional<Uplink> ipv4;
  std::optional<Uplink> ipv6;
};

// The interfaces of the default routes (lowest metric, main table first).
Uplinks FindUplinks(const NetworkSnapshot& network);

// ---- Overlay ------------------------------------------------------------------------------
// Bytes an encapsulation adds per packet; nullopt for kinds that are not tunnels.
std::optional<std::uint32_t> TunnelOverhead(const std::string& kind,
                                            std::optional<Family> underlay);

struct OverlayEvidence {
  std::uint32_t overhead_bytes = 0;
  std::string kind;      // "vxlan", "ipip", … or "" when unknown/none
  std::string evidence;  // "tunnel-device", "calico-mtu-file", "cni-config", "inference", "none"
  std::string detail;    // human sentence with the numbers
  // MTU limits the evidence itself implies (Calico's MTU file, a CNI config's "mtu").
  std::optional<Mtu> mtu_limit;
  std::string mtu_limit_source;
  // Sources that exist but say nothing usable: ignored, and each named in a warning.
  std::vector<std::string> warnings;
};

OverlayEvidence DetectOverlay(const SystemFacts& facts, const Uplink& uplink);

// ---- MTU ----------------------------------------------------------------------------------
struct MtuOptions {
  std::optional<Mtu> override_mtu;  // --mtu N; nullopt for auto
  std::uint32_t reserve = 0;        // --reserve BYTES
};

struct MtuDecision {
  Mtu uplink = 0;
  Mtu path_limit = 0;  // lowest MTU on the way out that the tool can see
  std::string path_limit_source;
  std::uint32_t reserve = 0;  // bytes kept free below the uplink MTU
  Mtu docker = 0;
  std::string source;  // "auto" or "flag"
  std::string reason;
};

// Errors are kBadInput (exit 2): --mtu out of [kIpv6MinimumMtu, uplink MTU], or a reserve that
// leaves less than kIpv6MinimumMtu.
Result<MtuDecision> DecideMtu(const Uplink& uplink, const OverlayEvidence& overlay,
                              const MtuOptions& options);

}  // namespace dind::netcfg

// SPDX-License-Identifier: Apache-2.0
// IPv6 for nested containers: which families the pod can reach the outside with, and what
// daemon.json needs so dockerd gives nested networks IPv6 (--ipv6 auto|on|off). Pure functions
// of the snapshot, the dockerd version and the ranges the pool decision avoids.
//
// IPv4 has egress when the pod has an IPv4 default route; IPv6 when it has an IPv6 default
// route and a global (not link-local) IPv6 address. What is written, by the dockerd version
// daemon.json is for:
//
//   dockerd   ipv6  fixed-cidr-v6  ip6tables  experimental  IPv6 default-address-pools entry
//   20.10-26  true  ULA /64        true       true          base ULA /64, size 80
//   >= 27     true  ULA /64        true       (not written) base ULA /56, size 64
//
// ip6tables is an experimental option until 27, where it became the default. Before 27 the
// pool allocator only splits the last 64 bits of an IPv6 base (moby/moby#42801), so a /48 into
// /64s is refused there and the /64 is split into /80s instead. The ULA /48 is chosen outside
// every IPv6 range the pod reaches; docker0 takes its first /64, the pool lies above it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "netcfg/detect/network_path.h"
#include "netcfg/detect/pools.h"
#include "netcfg/dockerd/dockerd_version.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::netcfg {

enum class Ipv6Mode { kAuto, kOn, kOff };
std::string_view Ipv6ModeName(Ipv6Mode mode);  // "auto", "on", "off"
std::optional<Ipv6Mode> ParseIpv6Mode(std::string_view text);

enum class PodFamilies { kIPv4Only, kDualStack, kIPv6Only };
std::string_view PodFamiliesName(PodFamilies families);  // "ipv4-only", "dual-stack", "ipv6-only"

struct FamilyEgress {
  bool ipv4 = false;
  bool ipv6 = false;
  // nullopt when neither family has egress.
  std::optional<PodFamilies> families() const;
};

// Egress per family: a default route of the family (`uplinks`); for IPv6 also a global address
// on the pod's links (not loopback, not link-local, not a docker bridge).
FamilyEgress FindFamilyEgress(const NetworkSnapshot& network, const Uplinks& uplinks);

// The sentence for an IPv6-only pod, whose nested IPv4 has no way out: what and how to fix it.
std::string Ipv6OnlyPodProblem();

struct Ipv6Decision {
  Ipv6Mode mode = Ipv6Mode::kAuto;
  bool enabled = false;
  std::string reason;
  std::optional<Cidr> fixed_cidr_v6;  // docker0's IPv6 network (enabled only)
  std::optional<AddressPool> pool;    // the IPv6 entry of default-address-pools (enabled only)
  bool experimental = false;          // "experimental": true, for ip6tables on dockerd < 27
};

// kEnvironment only when every ULA candidate collides with a range in `avoided`.
Result<Ipv6Decision> DecideIpv6(Ipv6Mode mode, const FamilyEgress& egress,
                                const DockerVersion& dockerd,
                                const std::vector<AvoidedRange>& avoided);

}  // namespace dind::netcfg

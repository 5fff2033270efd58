// SPDX-License-Identifier: Apache-2.0
// Where the egress probes stand, as plain data: the docker bridge's facts, the address the tool
// reserves for itself on it, and the wiring steps (netcfg/netlink/wiring_plan.h) that attach a
// private "probe" network namespace to the bridge the way dockerd attaches a container:
//
//   pod namespace (where dockerd runs)             probe namespace (owned by dind-netcfg)
//   docker0 172.17.0.1/16 ── port dnc-probe0 <─veth─> eth0 172.17.255.254/16
//                                                       default via 172.17.0.1
//
// Packets from the probe namespace take the nested containers' path: through the bridge, the
// pod's forwarding and masquerade rules, and the docker MTU.
//
// When dockerd gave the bridge IPv6 too ("ipv6": true with "fixed-cidr-v6": docker0 gets e.g.
// fd00:db8:1::1/64), the probe's eth0 also gets the last address of that network
// (fd00:db8:1::ffff:ffff:ffff:ffff) and an IPv6 default route via the bridge's address, so the
// probes can test the nested containers' IPv6 path as well. An IPv4-only bridge gives an
// IPv4-only probe.
//
// The reserved address is the LAST usable address of the bridge network, because dockerd's
// IPAM starts at the bottom of the range. dockerd allocates serially (it continues above the
// last address it handed out and wraps around), so a long-lived pod that starts many
// containers on a small bridge network can reach the top; SuggestedFixedCidr gives the
// daemon.json "fixed-cidr" that keeps dockerd in the lower half and out of the way for good.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "common/result.h"
#include "netcfg/netlink/snapshot.h"
#include "netcfg/netlink/wiring_plan.h"

namespace dind::egress {

// The bridge's IPv6 network, from its first global (not link-local) IPv6 address.
struct BridgeIpv6 {
  Cidr network;       // fd00:db8:1::/64
  IpAddress gateway;  // fd00:db8:1::1: the containers' IPv6 default gateway
  bool operator==(const BridgeIpv6&) const = default;
};

struct BridgeFacts {
  std::string name;   // "docker0"
  int index = 0;      // ifindex, which changes when the bridge is deleted and made again
  Cidr network;       // 172.17.0.0/16, from the bridge's IPv4 address
  IpAddress gateway;  // 172.17.0.1: the bridge's own address, the containers' default gateway
  Mtu mtu = 0;
  std::optional<BridgeIpv6> ipv6;  // nullopt: dockerd gave the bridge no IPv6 network
  bool operator==(const BridgeFacts&) const = default;
};

struct BridgeLookup {
  enum class State {
    kAbsent,         // no link of that name: dockerd has not created it (yet)
    kNotABridge,     // a link of that name exists but is not a bridge
    kNoIpv4Address,  // the bridge exists but has no IPv4 address yet
    kPresent,
  };
  State state = State::kAbsent;
  std::optional<BridgeFacts> facts;  // for kPresent
  std::string kind;                  // the link's kind, for kNotABridge
};

// The bridge `name` in a snapshot of the pod namespace; its first IPv4 address gives network
// and gateway, its first global IPv6 address (link-local fe80::/10 ones skipped) the IPv6 ones.
BridgeLookup FindBridge(const netcfg::NetworkSnapshot& pod, const std::string& name);

// The last usable address of `network` (172.17.255.254 for 172.17.0.0/16; IPv6 has no broadcast
// address: fd00:db8:1::ffff:ffff:ffff:ffff for fd00:db8:1::/64), or the one below when that is
// the gateway. kBadInput for networks with no room (IPv4 /30 and smaller, IPv6 /127 and /128).
Result<IpAddress> ReservedProbeAddress(const Cidr& network, const IpAddress& gateway);

// The lower half of `network` (172.17.0.0/17 for 172.17.0.0/16): as dockerd's "fixed-cidr" it
// keeps container addresses away from the reserved one. Requires prefix < 31.
Cidr SuggestedFixedCidr(const Cidr& network);

// "dnc-probe<slot>": the probe veth's end on the bridge (≤ 15 bytes for slots below 10^6).
std::string ProbeHostLinkName(int slot);
// The probe's end inside its own namespace, named like a container's.
inline constexpr const char* kProbeLinkName = "eth0";

struct AttachPlan {
  BridgeFacts bridge;
  std::string host_link;
  std::string probe_link;
  IpAddress probe_address;
  std::optional<IpAddress> probe_address_v6;  // when the bridge has IPv6
  Cidr suggested_fixed_cidr;
  // The veth is made from the pod; its peer goes straight into the probe namespace.
  netcfg::WiringPlan steps;
};

// The plan for attaching slot `slot` to `bridge`, with IPv6 when the bridge has it; kBadInput
// when a network of the bridge leaves no address to reserve.
Result<AttachPlan> PlanAttachment(const BridgeFacts& bridge, int slot = 0);

// What to do about the attachment, given the bridge now and what the probe is attached to.
enum class AttachAction { kKeep, kAttach, kReattach, kDetach, kStayDetached };

// `attached`: the bridge facts the current attachment was made for (nullopt: not attached).
// `host_link_on_bridge`: the probe's veth end still exists and is a port of that bridge.
// A bridge deleted and made again (new ifindex), readdressed or with a new MTU needs a new
// attachment; a missing bridge means detaching.
AttachAction DecideAttachment(const std::optional<BridgeFacts>& attached, const BridgeLookup& now,
                              bool host_link_on_bridge);

}  // namespace dind::egress

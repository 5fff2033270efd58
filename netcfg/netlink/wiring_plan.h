// SPDX-License-Identifier: Apache-2.0
// Wiring network namespaces together, as plain data: the ordered rtnetlink steps that make a
// veth pair between two namespaces, address and route its ends and bring them up. The egress
// probe's attachment to the docker bridge (daemon/egress/attach_plan.h) and the backend proof's
// throwaway pair (rules/proof/proof_plan.h) both build their plans from these steps, and
// WiringExecutor (wiring_executor.h) carries them out; unit tests read plans without root.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"

namespace dind::netcfg {

// The namespace a step acts in, by the role it plays; the executor holds one socket per side.
enum class NetnsSide {
  kPod,      // where dockerd runs (the proof's stand-in for it): veth pairs are made from here
  kProbe,    // the egress probe's own namespace, plugged into the docker bridge
  kOutside,  // the proof's stand-in for the world beyond the pod
};

// "pod", "probe", "outside": how descriptions and errors name the side.
std::string_view SideName(NetnsSide side);

// Made through `side`'s socket; the peer is created straight in `peer_side`, so it never shows
// up where it does not belong.
struct CreateVethPair {
  NetnsSide side;
  std::string name;       // stays in `side`
  std::string peer_name;  // created in `peer_side`
  NetnsSide peer_side;
  Mtu mtu = 0;  // both ends; 0 keeps the kernel's default
};
struct SetLinkUp {
  NetnsSide side;
  std::string link;
};
struct EnslaveToBridge {
  NetnsSide side;
  std::string link;
  std::string bridge;
  int bridge_index = 0;  // the bridge the plan was made for: a newer one of the same name fails
};
struct AddAddress {
  NetnsSide side;
  std::string link;
  IpAddress address;
  int prefix_length = 0;
  // IPv6 only: skip duplicate address detection (IFA_F_NODAD), so the address is usable at once
  // instead of "tentative" for a second or more; for an address reserved by construction.
  bool no_dad = false;
};
// A unicast route in the main table; a /0 destination makes it the default route. The family is
// the gateway's (an IPv6 default route is ::/0 via an IPv6 gateway).
struct AddRoute {
  NetnsSide side;
  Cidr destination;
  IpAddress gateway;
  std::string link;  // the route's device; empty: the kernel picks it from the gateway
};
// How long AwaitOperUp waits for the kernel by default. The kernel's link watcher turns a new
// veth's carrier on from a work queue that it runs at most once a second when links change
// often, and a loaded node (a CI node running many pods, a VM without KVM) runs that work
// later still: one took more than the 1 s that was allowed once. Ten times the watcher's own
// rate is what a loaded node meets; a link still down after that is broken, not slow.
inline constexpr std::chrono::milliseconds kLinkUpDeadline{10000};

// Waits until the kernel reports the link operationally up. A veth end is only ready to send
// (ARP replies included) once the kernel's link watcher has activated it, which happens
// asynchronously after "set up"; sending earlier loses the first exchange for a whole ARP
// retransmit second. The executor waits for the kernel's link events, not by polling, and
// says how long it waited.
struct AwaitOperUp {
  NetnsSide side;
  std::string link;
  std::chrono::milliseconds within = kLinkUpDeadline;
};

using WiringStep =
    std::variant<CreateVethPair, SetLinkUp, EnslaveToBridge, AddAddress, AddRoute, AwaitOperUp>;
// Carried out in order; a step may rely on everything before it.
using WiringPlan = std::vector<WiringStep>;

// "probe: add 172.17.255.254/16 to eth0", for progress reports and errors.
std::string DescribeStep(const WiringStep& step);

}  // namespace dind::netcfg

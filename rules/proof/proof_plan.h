// SPDX-License-Identifier: Apache-2.0
// What the proof by traffic builds, as plain data: the names, the addresses, and the wiring
// steps (netcfg/netlink/wiring_plan.h) for the two throwaway namespaces.
//
//   namespace "pod"                                   namespace "outside"
//   lo: 198.51.100.1/32 (the nested container)
//   dind-proof0: 192.0.2.1/30  <------ veth ------>   dind-proof1: 192.0.2.2/30
//   masquerade: saddr 198.51.100.1/32 oif dind-proof0  UDP socket on 0.0.0.0:<port>
//
// A datagram from 198.51.100.1 to 192.0.2.2 must arrive from 192.0.2.1 when the rule works.
// The addresses are documentation ranges (RFC 5737) and live only in the private namespaces,
// so concurrent proofs never collide.
#pragma once

#include <cstdint>
#include <string>

#include "common/cidr.h"
#include "netcfg/netlink/wiring_plan.h"
#include "rules/masquerade.h"

namespace dind::rules {

struct ProofPlan {
  std::string pod_link;
  std::string outside_link;
  IpAddress pod_address;      // what a masqueraded datagram arrives from
  IpAddress outside_address;  // where the datagrams go
  IpAddress nested_source;    // what an unmasqueraded datagram arrives from
  std::uint16_t port = 0;
  int datagrams = 0;
  MasqueradeSpec spec;  // installed through the candidate backend
  // Sides kPod and kOutside; the veth is made from the pod, its peer goes straight outside.
  netcfg::WiringPlan steps;
};

// The one plan every proof uses.
ProofPlan MakeProofPlan();

}  // namespace dind::rules

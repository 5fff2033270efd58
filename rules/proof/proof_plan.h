// SPDX-License-Identifier: Apache-2.0
// What the proof by traffic builds, as plain data: the names, the addresses, and the ordered
// configuration steps for the two throwaway namespaces.
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

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/cidr.h"
#include "rules/masquerade.h"

namespace dind::rules {

enum class ProofSide { kPod, kOutside };

// Created through the pod's socket; the peer is placed straight into "outside".
struct CreateVethPair {
  std::string name;       // stays in pod
  std::string peer_name;  // goes to outside
};
struct SetLinkUp {
  ProofSide side;
  std::string link;
};
struct AddAddress {
  ProofSide side;
  std::string link;
  IpAddress address;
  int prefix_length;
};
struct AddRoute {
  ProofSide side;
  Cidr destination;
  IpAddress gateway;
};
// Waits until the kernel reports the link operationally up. A veth end is only ready to send
// (ARP replies included) once the kernel's link watcher has activated it, which happens
// asynchronously after "set up"; sending earlier loses the first exchange for a whole ARP
// retransmit second.
struct AwaitOperUp {
  ProofSide side;
  std::string link;
  std::chrono::milliseconds within;
};
using ProofStep = std::variant<CreateVethPair, SetLinkUp, AddAddress, AddRoute, AwaitOperUp>;

struct ProofPlan {
  std::string pod_link;
  std::string outside_link;
  IpAddress pod_address;      // what a masqueraded datagram arrives from
  IpAddress outside_address;  // where the datagrams go
  IpAddress nested_source;    // what an unmasqueraded datagram arrives from
  std::uint16_t port = 0;
  int datagrams = 0;
  MasqueradeSpec spec;  // installed through the candidate backend
  std::vector<ProofStep> steps;
};

// The one plan every proof uses.
ProofPlan MakeProofPlan();

// "outside: add 192.0.2.2/30 to dind-proof1", for progress reports and errors.
std::string DescribeStep(const ProofStep& step);

std::string_view SideName(ProofSide side);

}  // namespace dind::rules

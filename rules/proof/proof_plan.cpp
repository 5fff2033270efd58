// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_plan.h"

#include <type_traits>

namespace dind::rules {
namespace {

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();  // constants below; a typo is a programming error
}

}  // namespace

ProofPlan MakeProofPlan() {
  ProofPlan plan;
  plan.pod_link = "dind-proof0";
  plan.outside_link = "dind-proof1";
  plan.pod_address = Ip("192.0.2.1");
  plan.outside_address = Ip("192.0.2.2");
  plan.nested_source = Ip("198.51.100.1");
  plan.port = 40404;
  // One is enough for the counter (conntrack sends only a flow's first packet through the nat
  // chain); a few survive a lost first one.
  plan.datagrams = 3;
  plan.spec = MasqueradeSpec{{Cidr::Of(plan.nested_source, 32)}, plan.pod_link};

  constexpr int kLinkPrefix = 30;
  // Usually microseconds; the parent's timeout bounds the whole proof anyway.
  constexpr std::chrono::milliseconds kReadyWithin{1000};
  plan.steps = {
      SetLinkUp{ProofSide::kOutside, "lo"},
      SetLinkUp{ProofSide::kPod, "lo"},
      CreateVethPair{plan.pod_link, plan.outside_link},
      // Outside first, so its end is up and addressed before the pod starts sending.
      AddAddress{ProofSide::kOutside, plan.outside_link, plan.outside_address, kLinkPrefix},
      SetLinkUp{ProofSide::kOutside, plan.outside_link},
      // A way back to the nested source, so an unmasqueraded datagram still arrives (even under
      // strict reverse-path filtering) and the proof can say "not masqueraded" rather than "lost".
      AddRoute{ProofSide::kOutside, Cidr::Of(plan.nested_source, 32), plan.pod_address},
      AddAddress{ProofSide::kPod, plan.pod_link, plan.pod_address, kLinkPrefix},
      AddAddress{ProofSide::kPod, "lo", plan.nested_source, 32},
      SetLinkUp{ProofSide::kPod, plan.pod_link},
      AwaitOperUp{ProofSide::kPod, plan.pod_link, kReadyWithin},
      AwaitOperUp{ProofSide::kOutside, plan.outside_link, kReadyWithin},
  };
  return plan;
}

std::string_view SideName(ProofSide side) {
  return side == ProofSide::kPod ? "pod" : "outside";
}

std::string DescribeStep(const ProofStep& step) {
  return std::visit(
      [](const auto& s) -> std::string {
        using Step = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<Step, CreateVethPair>) {
          return "pod: create veth " + s.name + " with peer " + s.peer_name + " in outside";
        } else if constexpr (std::is_same_v<Step, SetLinkUp>) {
          return std::string(SideName(s.side)) + ": set " + s.link + " up";
        } else if constexpr (std::is_same_v<Step, AddAddress>) {
          return std::string(SideName(s.side)) + ": add " + s.address.ToString() + "/" +
                 std::to_string(s.prefix_length) + " to " + s.link;
        } else if constexpr (std::is_same_v<Step, AwaitOperUp>) {
          return std::string(SideName(s.side)) + ": wait up to " +
                 std::to_string(s.within.count()) + " ms for " + s.link + " to be operationally up";
        } else {
          return std::string(SideName(s.side)) + ": add route " + s.destination.ToString() +
                 " via " + s.gateway.ToString();
        }
      },
      step);
}

}  // namespace dind::rules

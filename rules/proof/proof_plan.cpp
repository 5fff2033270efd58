// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_plan.h"

#include <chrono>

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
  // Usually a few milliseconds; a loaded node's link watcher can take seconds (wiring_plan.h).
  constexpr std::chrono::milliseconds kReadyWithin = netcfg::kLinkUpDeadline;
  using netcfg::NetnsSide;
  plan.steps = {
      netcfg::SetLinkUp{NetnsSide::kOutside, "lo"},
      netcfg::SetLinkUp{NetnsSide::kPod, "lo"},
      netcfg::CreateVethPair{NetnsSide::kPod, plan.pod_link, plan.outside_link,
                             NetnsSide::kOutside},
      // Outside first, so its end is up and addressed before the pod starts sending.
      netcfg::AddAddress{NetnsSide::kOutside, plan.outside_link, plan.outside_address, kLinkPrefix},
      netcfg::SetLinkUp{NetnsSide::kOutside, plan.outside_link},
      // A way back to the nested source, so an unmasqueraded datagram still arrives (even under
      // strict reverse-path filtering) and the proof can say "not masqueraded" rather than "lost".
      netcfg::AddRoute{NetnsSide::kOutside, Cidr::Of(plan.nested_source, 32), plan.pod_address, ""},
      netcfg::AddAddress{NetnsSide::kPod, plan.pod_link, plan.pod_address, kLinkPrefix},
      netcfg::AddAddress{NetnsSide::kPod, "lo", plan.nested_source, 32},
      netcfg::SetLinkUp{NetnsSide::kPod, plan.pod_link},
      netcfg::AwaitOperUp{NetnsSide::kPod, plan.pod_link, kReadyWithin},
      netcfg::AwaitOperUp{NetnsSide::kOutside, plan.outside_link, kReadyWithin},
  };
  return plan;
}

}  // namespace dind::rules

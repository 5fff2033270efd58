// SPDX-License-Identifier: Apache-2.0
// The verdict of a proof by traffic, from what the proof observed: pure, so every verdict and
// its one-line explanation is unit-tested without a kernel.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/cidr.h"
#include "rules/masquerade.h"
#include "rules/proof/proof_plan.h"
#include "rules/proof/traffic_proof.h"

namespace dind::rules {

struct ProofObservation {
  std::optional<std::string> refusal;  // Apply's error message when the backend refused
  int datagrams_received = 0;
  std::optional<IpAddress> arrived_from;  // source of the first datagram received
  // Packets counted by the rules that cover the nested source; nullopt when Inspect lists none.
  std::optional<std::uint64_t> counter_packets;
  std::chrono::milliseconds waited{0};  // how long the receiver waited for datagrams
  // How long the kernel took to report both veth ends operationally up (a loaded node's link
  // watcher is slow); said at the end of the detail line.
  std::optional<std::chrono::milliseconds> links_up_after;
};

// passed = counter > 0 && arrived && masqueraded (arrived from the pod's address), with a
// detail line that names what failed.
ProofOutcome Judge(BackendKind kind, const ProofPlan& plan, const ProofObservation& seen);

// The packets of every rule whose source covers `source`, whatever its interface (a rule for
// the wrong interface then shows the 0 the kernel counted); nullopt when no rule covers it.
std::optional<std::uint64_t> CounterFor(const BackendState& state, const IpAddress& source);

}  // namespace dind::rules

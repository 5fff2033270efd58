// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_verdict.h"

namespace dind::rules {
namespace {

std::string Packets(std::uint64_t count) {
  return std::to_string(count) + (count == 1 ? " packet" : " packets");
}

// The kernel machinery that must run for the backend's rule to count anything.
std::string HooksOf(BackendKind kind) {
  return kind == BackendKind::kLegacy ? "ip_tables' nat hooks (iptable_nat)" : "nft's nat hooks";
}

// "it arrived from 192.0.2.1, masqueraded" and its failing variants.
std::string Arrival(const ProofPlan& plan, const ProofObservation& seen, bool masqueraded) {
  if (!seen.arrived_from) {
    return "no datagram arrived in the outside namespace within " +
           std::to_string(seen.waited.count()) + " ms";
  }
  const std::string from = "it arrived from " + seen.arrived_from->ToString();
  if (masqueraded) return from + ", masqueraded";
  if (*seen.arrived_from == plan.nested_source) return from + ", not masqueraded";
  return from + ", neither masqueraded to " + plan.pod_address.ToString() + " nor unchanged";
}

// The verdict and its detail line from the traffic alone.
ProofOutcome JudgeTraffic(BackendKind kind, const ProofPlan& plan, const ProofObservation& seen) {
  ProofOutcome outcome;
  const std::string backend = std::string(BackendName(kind));
  if (seen.refusal) {
    outcome.detail = "the " + backend + " backend refused the masquerade rule: " + *seen.refusal;
    return outcome;
  }
  outcome.rule_accepted = true;
  outcome.arrived = seen.datagrams_received > 0 && seen.arrived_from.has_value();
  outcome.arrived_from = seen.arrived_from ? seen.arrived_from->ToString() : "";
  outcome.masqueraded = outcome.arrived && *seen.arrived_from == plan.pod_address;
  outcome.counter_packets = seen.counter_packets.value_or(0);
  outcome.passed = outcome.counter_packets > 0 && outcome.arrived && outcome.masqueraded;

  const std::string arrival = Arrival(plan, seen, outcome.masqueraded);
  if (!seen.counter_packets) {
    outcome.detail = "rules accepted but the " + backend + " backend lists no rule for " +
                     plan.nested_source.ToString() + "; " + arrival;
  } else if (outcome.counter_packets == 0 && outcome.masqueraded) {
    outcome.detail = arrival + " but the rule's counter stayed 0: the " + backend +
                     " backend does not count what it masquerades";
  } else if (outcome.counter_packets == 0) {
    outcome.detail = "rules accepted but their counter stayed 0: this kernel does not run " +
                     HooksOf(kind) + " (" + arrival + ")";
  } else if (outcome.passed) {
    outcome.detail = "rule counted " + Packets(outcome.counter_packets) + "; " + arrival;
  } else if (!outcome.arrived) {
    outcome.detail = "rule counted " + Packets(outcome.counter_packets) + " but " + arrival +
                     ": the masqueraded datagrams are dropped on the way out";
  } else {
    outcome.detail = "rule counted " + Packets(outcome.counter_packets) + " but " + arrival +
                     ": the rule matches yet its masquerade does not take effect";
  }
  return outcome;
}

}  // namespace

ProofOutcome Judge(BackendKind kind, const ProofPlan& plan, const ProofObservation& seen) {
  ProofOutcome outcome = JudgeTraffic(kind, plan, seen);
  if (outcome.rule_accepted && seen.links_up_after) {
    outcome.detail += "; veth up after " + std::to_string(seen.links_up_after->count()) + " ms";
  }
  return outcome;
}

std::optional<std::uint64_t> CounterFor(const BackendState& state, const IpAddress& source) {
  std::optional<std::uint64_t> packets;
  for (const InstalledRule& rule : state.rules) {
    if (rule.source.family() != source.family() || !rule.source.Contains(source)) continue;
    packets = packets.value_or(0) + rule.packets;
  }
  return packets;
}

}  // namespace dind::rules

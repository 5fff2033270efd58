// SPDX-License-Identifier: Apache-2.0
// Injected kernel facts, censuses and a scripted prover for the backend-choice tests.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "rules/choice/backend_choice.h"

namespace dind::rules::testing {

using netcfg::Availability;

inline netcfg::KernelFacts Kernel(const std::string& release,
                                  Availability nf_tables = Availability::kYes,
                                  Availability ip_tables = Availability::kYes) {
  netcfg::KernelFacts kernel;
  kernel.release = release;
  std::sscanf(release.c_str(), "%d.%d", &kernel.major, &kernel.minor);
  kernel.nf_tables.available = nf_tables;
  kernel.nf_tables.evidence =
      nf_tables == Availability::kNo ? "CONFIG_NF_TABLES=n in /proc/config.gz" : "nf_tables loaded";
  kernel.ip_tables.available = ip_tables;
  kernel.ip_tables.evidence = ip_tables == Availability::kNo
                                  ? "CONFIG_IP_NF_IPTABLES=n in /proc/config.gz"
                                  : "ip_tables loaded";
  return kernel;
}

inline BackendState Census(int nat_rules, int masquerade_rules) {
  BackendState state;
  state.foreign_nat_rules = nat_rules;
  state.foreign_masquerade_rules = masquerade_rules;
  return state;
}

inline ProofOutcome Passes() {
  ProofOutcome outcome;
  outcome.passed = true;
  outcome.counter_packets = 1;
  outcome.arrived = true;
  outcome.masqueraded = true;
  outcome.rule_accepted = true;
  outcome.detail = "rule counted 1 packet; it arrived from 192.0.2.1, masqueraded";
  return outcome;
}

// The CentOS 7 symptom: the rule is accepted and listed, and never matches.
inline ProofOutcome NeverMatches() {
  ProofOutcome outcome;
  outcome.rule_accepted = true;
  outcome.detail = "rules accepted but their counter stayed 0";
  return outcome;
}

inline Error CannotRun() {
  return Error::Permission("creating the proof's network namespaces", EPERM, "grant CAP_SYS_ADMIN");
}

// Answers each backend as scripted and records what was asked; an unscripted proof fails the
// test, so "decided without a proof" is checked by scripting none.
class ScriptedProver final : public BackendProver {
 public:
  ScriptedProver& Answer(BackendKind kind, Result<ProofOutcome> answer) {
    answers_.insert_or_assign(kind, std::move(answer));
    return *this;
  }
  Result<ProofOutcome> Prove(BackendKind kind) override {
    calls_.push_back(kind);
    auto found = answers_.find(kind);
    if (found == answers_.end()) {
      ADD_FAILURE() << "unexpected proof of " << BackendName(kind);
      return Error::Environment("unscripted proof");
    }
    return found->second;
  }
  const std::vector<BackendKind>& calls() const { return calls_; }

 private:
  std::map<BackendKind, Result<ProofOutcome>> answers_;
  std::vector<BackendKind> calls_;
};

inline ChoiceInputs Inputs(netcfg::KernelFacts kernel, Result<BackendState> legacy,
                           Result<BackendState> nft,
                           std::optional<BackendKind> requested = std::nullopt) {
  return ChoiceInputs{requested, "--backend (DIND_NETCFG_BACKEND)", std::move(kernel),
                      std::move(legacy), std::move(nft)};
}

}  // namespace dind::rules::testing

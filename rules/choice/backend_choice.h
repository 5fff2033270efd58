// SPDX-License-Identifier: Apache-2.0
// Which masquerade backend really works in this network namespace: a pure decision over the
// kernel facts and the rule census, asking a BackendProver (proof by traffic) only when the
// cheaper evidence cannot decide. Steps, first to decide wins:
//   1. explicit: --backend / DIND_NETCFG_BACKEND (a backend the kernel lacks is bad input);
//   2. kernel:   no nf_tables -> legacy; no legacy ip_tables -> nft; a kernel older than 4.x
//                (CentOS 7's 3.10 accepts nft NAT rules it never runs) -> legacy;
//   3. census:   the backend other writers (dockerd's iptables) already use, when only one of
//                the two holds rules, confirmed by the proof when the proof can run;
//   4. proof:    nft first, then legacy; the first whose rule counted a masqueraded packet;
//   5. default:  when no proof could run (or none passed): legacy before 4.18, nft from 4.18;
//                both backends refusing the proof's rule (modules withheld) is an error instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "netcfg/detect/kernel.h"
#include "rules/masquerade.h"
#include "rules/proof/traffic_proof.h"

namespace dind::rules {

enum class ChoiceStep { kExplicit, kKernel, kCensus, kProof, kDefault };
// "explicit", "kernel", "census", "proof", "default"
std::string_view ChoiceStepName(ChoiceStep step);

// "--backend" values: "auto" -> nullopt, "legacy", "nft"; anything else is kBadInput naming
// `flag_names` (e.g. "--backend (DIND_NETCFG_BACKEND)").
Result<std::optional<BackendKind>> ParseBackendRequest(std::string_view value,
                                                       std::string_view flag_names);

// What the kernel offers of the feature `kind` needs: ip_tables for legacy, nf_tables for nft.
const netcfg::FeatureFacts& KernelFeatureOf(const netcfg::KernelFacts& kernel, BackendKind kind);

struct ChoiceInputs {
  std::optional<BackendKind> requested;  // nullopt: auto
  // The request as the caller names it in messages, e.g. "--backend (DIND_NETCFG_BACKEND)".
  std::string requested_as;
  netcfg::KernelFacts kernel;
  // What each backend's Inspect() found in this namespace, or why it could not look.
  Result<BackendState> legacy_census;
  Result<BackendState> nft_census;
};

// Everything known about one backend when the decision was made.
struct BackendEvidence {
  BackendKind kind;
  netcfg::Availability available;  // from the kernel facts
  std::string availability_evidence;
  Result<BackendState> census;
  std::optional<Result<ProofOutcome>> proof;  // nullopt: not run; an Error: could not run
};

struct BackendDecision {
  BackendKind chosen;
  ChoiceStep step;
  std::string reason;  // one sentence: why `chosen`
  std::string kernel_release;
  BackendEvidence legacy;
  BackendEvidence nft;
  // Rules of other writers that cannot work as they are, e.g. docker's masquerade rules in nft
  // on a kernel that honours only legacy, or masquerade rules in both backends.
  std::vector<std::string> split_brain;
  std::vector<std::string> warnings;  // e.g. chosen without proof

  const BackendEvidence& evidence(BackendKind kind) const {
    return kind == BackendKind::kLegacy ? legacy : nft;
  }
};

// kBadInput when the kernel lacks `kind` (availability "no"; "unknown" passes), naming the input
// as the caller calls it: `input_name` such as "--backend (DIND_NETCFG_BACKEND)" starts the
// message, and the hint says to use its flag (the part before " (") with the other backend.
Status RequireAvailable(const netcfg::KernelFacts& kernel, BackendKind kind,
                        std::string_view input_name);

// Proves at most once per backend, and only when the steps above leave the decision open.
// Errors: kBadInput when the requested backend is one the kernel lacks; kEnvironment when the
// kernel offers neither backend, by its facts or because both refused the proof's rule.
Result<BackendDecision> ChooseBackend(const ChoiceInputs& inputs, BackendProver& prover);

// The backend dind-netcfg uses when no proof can tell (see the .cpp for why 4.18).
BackendKind DefaultBackend(const netcfg::KernelFacts& kernel);

}  // namespace dind::rules

// SPDX-License-Identifier: Apache-2.0
// The masquerade backend for this network namespace: the decision (kernel facts, a read-only
// census of both backends, a traffic proof in throwaway namespaces), and applying the rules in
// the chosen backend so that dind-netcfg's safety net lives in exactly one of the two.
#pragma once

#include <memory>
#include <optional>

#include "common/result.h"
#include "netcfg/detect/kernel.h"
#include "rules/backend_factory.h"
#include "rules/choice/backend_choice.h"
#include "rules/masquerade.h"
#include "rules/proof/proof_cache.h"
#include "rules/proof/traffic_proof.h"

namespace dind::pod {

// What the user asked for: a backend, or nullopt for auto, and the input that says so as they
// would name it ("--backend (DIND_NETCFG_BACKEND)"), for the messages about it.
struct BackendRequest {
  std::optional<rules::BackendKind> kind;
  std::string input_name;
  rules::BackendOptions options;  // how the backends are opened (--xtables-wait)
  // Where traffic proofs are kept for reuse (--proof-cache); nullopt: always prove afresh.
  std::optional<rules::ProofCacheSettings> proof_cache;
};

// The traffic prover for `requested`: through the proof cache when one is set and this
// process can read its kernel's boot id.
std::unique_ptr<rules::BackendProver> ProverHere(const netcfg::KernelFacts& kernel,
                                                 const BackendRequest& requested);

// Decides here; the namespace itself is never changed. kBadInput
// for a requested backend the kernel lacks. With `to_change_rules`, censuses of both backends
// refused for lack of CAP_NET_ADMIN end the decision with that error: any change would be
// refused too.
Result<rules::BackendDecision> DecideBackendHere(const netcfg::KernelFacts& kernel,
                                                 const BackendRequest& requested,
                                                 bool to_change_rules);

// Logs the choice, its reason, any split brain and the decision's warnings.
void LogDecision(const rules::BackendDecision& decision);

// The backend chosen here and the decision that chose it (its census says what the other
// backend holds). `make_backend` opens the other backend when our old rules must leave it.
struct ChosenBackend {
  std::unique_ptr<rules::MasqueradeBackend> backend;
  rules::BackendDecision decision;
  rules::BackendFactory make_backend = rules::MakeBackend;
};

// DecideBackendHere(…, to_change_rules = true), logged, and the chosen backend opened with
// requested.options.
Result<ChosenBackend> ChooseBackendHere(const netcfg::KernelFacts& kernel,
                                        const BackendRequest& requested);

struct AppliedRules {
  rules::BackendState state;                  // the chosen backend after the change
  std::optional<rules::BackendKind> cleaned;  // the other backend, when our rules left it
};

// Makes `spec` present in the chosen backend, then takes dind-netcfg's rules out of the other
// backend when an earlier run chose it. In that order, so the safety net never has a gap.
Result<AppliedRules> ApplyInChosen(const ChosenBackend& chosen, const rules::MasqueradeSpec& spec);

}  // namespace dind::pod

// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/backend_here.h"

#include <string>
#include <string_view>

#include "common/log.h"

namespace dind::pod {
namespace {

using rules::BackendKind;

// Read-only: Inspect never creates or changes anything.
Result<rules::BackendState> TakeCensus(const netcfg::KernelFacts& kernel, BackendKind kind,
                                       const rules::BackendFactory& make_backend) {
  if (rules::KernelFeatureOf(kernel, kind).available == netcfg::Availability::kNo) {
    return Error::Environment("not taken: the kernel lacks " + rules::BackendName(kind) + " (" +
                              rules::KernelFeatureOf(kernel, kind).evidence + ")");
  }
  auto backend = make_backend(kind);
  if (!backend) return backend.error();
  return (*backend)->Inspect();
}

// The other backend, when dind-netcfg's rules were there (its census says so) and are now gone.
Result<std::optional<BackendKind>> RemoveFromUnchosen(const ChosenBackend& chosen) {
  const BackendKind other = rules::OtherBackend(chosen.decision.chosen);
  const auto& census = chosen.decision.evidence(other).census;
  if (!census.ok() || !census->container_present) return std::optional<BackendKind>();
  auto stale = chosen.make_backend(other);
  if (!stale) return stale.error();
  DIND_RETURN_IF_ERROR((*stale)->Remove());
  log::Info("removed dind-netcfg's rules from the backend no longer chosen",
            {{"backend", rules::BackendName(other)}});
  return std::optional<BackendKind>(other);
}

}  // namespace

Result<rules::BackendDecision> DecideBackendHere(const netcfg::KernelFacts& kernel,
                                                 const BackendRequest& requested,
                                                 bool to_change_rules) {
  if (requested.kind) {
    DIND_RETURN_IF_ERROR(rules::RequireAvailable(kernel, *requested.kind, requested.input_name));
  }
  const rules::BackendFactory make_backend = rules::BackendFactoryFor(requested.options);
  rules::ChoiceInputs inputs{requested.kind, requested.input_name, kernel,
                             TakeCensus(kernel, BackendKind::kLegacy, make_backend),
                             TakeCensus(kernel, BackendKind::kNft, make_backend)};
  // Both refused: no backend would take a change either. One refused (legacy also needs
  // CAP_NET_RAW, which restricted pods drop) leaves the other to the decision.
  const auto refused = [](const Result<rules::BackendState>& census) {
    return !census.ok() && census.error().kind == ErrorKind::kPermission;
  };
  if (to_change_rules && refused(inputs.legacy_census) && refused(inputs.nft_census)) {
    return inputs.nft_census.error();
  }
  return rules::ChooseBackend(inputs, *ProverHere(kernel, requested));
}

std::unique_ptr<rules::BackendProver> ProverHere(const netcfg::KernelFacts& kernel,
                                                 const BackendRequest& requested) {
  auto prover = rules::MakeRealTrafficProver(requested.options);
  if (!requested.proof_cache) return prover;
  auto identity = rules::ReadProofIdentity(kernel);
  if (!identity) {
    log::Warn("proof cache not used: a proof is reused only on the kernel boot that made it",
              {{"error", identity.error().Message()}});
    return prover;
  }
  return rules::MakeCachingProver(std::move(prover), *requested.proof_cache,
                                  std::move(identity).value(), kernel);
}

void LogDecision(const rules::BackendDecision& decision) {
  log::Info("masquerade backend chosen", {{"backend", rules::BackendName(decision.chosen)},
                                          {"step", std::string(ChoiceStepName(decision.step))},
                                          {"reason", decision.reason}});
  for (const auto& finding : decision.split_brain) log::Warn("split brain: " + finding);
  for (const auto& warning : decision.warnings) log::Warn(warning);
}

Result<ChosenBackend> ChooseBackendHere(const netcfg::KernelFacts& kernel,
                                        const BackendRequest& requested) {
  auto decision = DecideBackendHere(kernel, requested, /*to_change_rules=*/true);
  if (!decision) return decision.error();
  LogDecision(*decision);
  const rules::BackendFactory make_backend = rules::BackendFactoryFor(requested.options);
  auto backend = make_backend(decision->chosen);
  if (!backend) return backend.error();
  return ChosenBackend{std::move(backend).value(), std::move(decision).value(), make_backend};
}

Result<AppliedRules> ApplyInChosen(const ChosenBackend& chosen, const rules::MasqueradeSpec& spec) {
  DIND_RETURN_IF_ERROR(chosen.backend->Apply(spec));
  AppliedRules applied;
  auto cleaned = RemoveFromUnchosen(chosen);
  if (!cleaned) return cleaned.error();
  applied.cleaned = *cleaned;
  auto state = chosen.backend->Inspect();
  if (!state) return state.error();
  applied.state = std::move(state).value();
  return applied;
}

}  // namespace dind::pod

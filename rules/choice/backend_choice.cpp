// SPDX-License-Identifier: Apache-2.0
#include "rules/choice/backend_choice.h"

#include <array>
#include <utility>

namespace dind::rules {
namespace {

using netcfg::Availability;
using netcfg::FeatureFacts;
using netcfg::KernelFacts;

std::string FeatureName(BackendKind kind) {
  return kind == BackendKind::kLegacy ? "legacy ip_tables" : "nf_tables";
}

bool Lacks(const KernelFacts& kernel, BackendKind kind) {
  return KernelFeatureOf(kernel, kind).available == Availability::kNo;
}

// 3.10 (CentOS 7) is the known case: nf_tables accepts NAT rules there that never match.
bool OlderThan4(const KernelFacts& kernel) {
  return kernel.major > 0 && kernel.major < 4;
}

std::string Count(int n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// "2 masquerade rules among 5 nat rules", "3 nat rules (none masquerading)", "no nat rules"
std::string DescribeCensus(const BackendState& state) {
  if (state.foreign_nat_rules == 0) return "no nat rules";
  if (state.foreign_masquerade_rules == 0) {
    return Count(state.foreign_nat_rules, "nat rule") + " (none masquerading)";
  }
  return Count(state.foreign_masquerade_rules, "masquerade rule") + " among " +
         Count(state.foreign_nat_rules, "nat rule");
}

// Step 3 on its own: the side other writers use, when exactly one side holds their rules.
struct CensusReading {
  std::optional<BackendKind> side;
  std::string note;  // what the census showed, for the reason
};

CensusReading ReadCensus(const Result<BackendState>& legacy, const Result<BackendState>& nft) {
  for (const auto* census : {&legacy, &nft}) {
    if (!census->ok()) {
      const BackendKind kind = census == &legacy ? BackendKind::kLegacy : BackendKind::kNft;
      return {std::nullopt, "the rule census of " + BackendName(kind) + " failed (" +
                                census->error().Message() + ")"};
    }
  }
  // Masquerade rules say most about where dockerd writes; other nat rules are the fallback.
  const std::array<std::pair<int, int>, 2> counts{
      std::pair{legacy->foreign_masquerade_rules, nft->foreign_masquerade_rules},
      std::pair{legacy->foreign_nat_rules, nft->foreign_nat_rules}};
  for (const auto& [in_legacy, in_nft] : counts) {
    if ((in_legacy > 0) != (in_nft > 0)) {
      const BackendKind side = in_legacy > 0 ? BackendKind::kLegacy : BackendKind::kNft;
      const BackendState& used = side == BackendKind::kLegacy ? *legacy : *nft;
      return {side, "other writers keep " + DescribeCensus(used) + " in " + BackendName(side) +
                        " and none in " + BackendName(OtherBackend(side))};
    }
    if (in_legacy > 0 && in_nft > 0) {
      return {std::nullopt, "both backends hold rules of other writers (legacy: " +
                                DescribeCensus(*legacy) + "; nft: " + DescribeCensus(*nft) + ")"};
    }
  }
  return {std::nullopt, "no other writer keeps nat rules in either backend"};
}

// What a refusal says about the kernel, without the proof's framing and without the backend's
// own hint (each backend's hint says to use the other one, which does not help when both
// refused): "the nft backend refused the masquerade rule: reading …: Invalid argument (errno
// 22); the kernel has no nf_tables …" -> "reading …: Invalid argument (errno 22)".
std::string RefusalCause(std::string_view detail) {
  constexpr std::string_view kFraming = "backend refused the masquerade rule: ";
  if (const auto at = detail.find(kFraming); at != std::string_view::npos) {
    detail.remove_prefix(at + kFraming.size());
  }
  if (const auto errno_at = detail.find(" (errno "); errno_at != std::string_view::npos) {
    if (const auto end = detail.find(')', errno_at); end != std::string_view::npos) {
      detail = detail.substr(0, end + 1);
    }
  }
  return std::string(detail);
}

bool Rejected(const std::optional<Result<ProofOutcome>>& proof) {
  return proof && proof->ok() && !(*proof)->passed;
}

class Chooser {
 public:
  Chooser(const ChoiceInputs& inputs, BackendProver& prover)
      : kernel_(inputs.kernel),
        prover_(prover),
        decision_{BackendKind::kNft,
                  ChoiceStep::kDefault,
                  "",
                  inputs.kernel.release,
                  {BackendKind::kLegacy, inputs.kernel.ip_tables.available,
                   inputs.kernel.ip_tables.evidence, inputs.legacy_census, std::nullopt},
                  {BackendKind::kNft, inputs.kernel.nf_tables.available,
                   inputs.kernel.nf_tables.evidence, inputs.nft_census, std::nullopt},
                  {},
                  {}} {}

  Result<BackendDecision> Choose(std::optional<BackendKind> requested,
                                 std::string_view requested_as) {
    if (requested) return Explicit(*requested, requested_as);
    if (Lacks(kernel_, BackendKind::kLegacy) && Lacks(kernel_, BackendKind::kNft)) {
      return Error::Environment(
          "the kernel " + kernel_.release + " offers neither nf_tables (" +
              kernel_.nf_tables.evidence + ") nor legacy ip_tables (" + kernel_.ip_tables.evidence +
              "), so nested containers cannot be masqueraded",
          "run the pod on a node whose kernel has nf_tables or ip_tables (modprobe nf_tables "
          "or ip_tables on the node)");
    }
    if (auto decided = ByKernel()) return Finish(*decided);
    if (auto decided = ByCensus()) return Finish(*decided);
    if (auto decided = ByProof()) return Finish(*decided);
    if (auto neither = BothRefused()) return *neither;
    return Finish(ByDefault());
  }

 private:
  struct Verdict {
    BackendKind kind;
    ChoiceStep step;
    std::string reason;
  };

  BackendEvidence& Evidence(BackendKind kind) {
    return kind == BackendKind::kLegacy ? decision_.legacy : decision_.nft;
  }

  const Result<ProofOutcome>& Prove(BackendKind kind) {
    auto& proof = Evidence(kind).proof;
    if (!proof) proof = prover_.Prove(kind);
    return *proof;
  }

  Result<BackendDecision> Explicit(BackendKind kind, std::string_view requested_as) {
    DIND_RETURN_IF_ERROR(RequireAvailable(kernel_, kind, requested_as));
    return Finish({kind, ChoiceStep::kExplicit,
                   BackendName(kind) + " was requested with " + std::string(requested_as)});
  }

  std::optional<Verdict> ByKernel() const {
    for (BackendKind kind : {BackendKind::kNft, BackendKind::kLegacy}) {
      if (Lacks(kernel_, kind)) {
        return Verdict{OtherBackend(kind), ChoiceStep::kKernel,
                       "the kernel lacks " + FeatureName(kind) + " (" +
                           KernelFeatureOf(kernel_, kind).evidence + "), so only " +
                           BackendName(OtherBackend(kind)) + " can masquerade"};
      }
    }
    if (OlderThan4(kernel_)) {
      return Verdict{BackendKind::kLegacy, ChoiceStep::kKernel,
                     "kernel " + kernel_.release +
                         " is older than 4.x, where nf_tables NAT is known to accept rules it "
                         "never runs (CentOS 7's 3.10), so legacy is used without a proof"};
    }
    return std::nullopt;
  }

  std::optional<Verdict> ByCensus() {
    CensusReading reading = ReadCensus(decision_.legacy.census, decision_.nft.census);
    if (!reading.side) {
      context_ = reading.note + ", so the traffic proof decides";
      return std::nullopt;
    }
    const BackendKind side = *reading.side;
    const Result<ProofOutcome>& proof = Prove(side);
    if (!proof.ok()) {
      decision_.warnings.push_back(BackendName(side) +
                                   " was chosen from the rule census without proof "
                                   "that this kernel honours it: the traffic proof could not "
                                   "run (" +
                                   proof.error().Message() + ")");
      return Verdict{side, ChoiceStep::kCensus,
                     reading.note + "; the traffic proof could not run, so the census decides"};
    }
    if (proof->passed) {
      return Verdict{side, ChoiceStep::kCensus,
                     reading.note + ", and " + BackendName(side) + " passed the traffic proof (" +
                         proof->detail + ")"};
    }
    context_ = reading.note + ", but " + BackendName(side) + " failed the traffic proof (" +
               proof->detail + ")";
    return std::nullopt;
  }

  std::optional<Verdict> ByProof() {
    // nft first: when both work it is the one to use (ip_tables is the deprecated API, newer
    // kernels build it only on request, and current iptables front-ends write nf_tables), so
    // the common case costs a single proof; legacy is proven only when nft fails or cannot be.
    std::string failures;
    for (BackendKind kind : {BackendKind::kNft, BackendKind::kLegacy}) {
      const Result<ProofOutcome>& proof = Prove(kind);
      if (proof.ok() && proof->passed) {
        std::string reason = context_.empty() ? "" : context_ + "; ";
        if (!failures.empty()) reason += failures + "; ";
        return Verdict{
            kind, ChoiceStep::kProof,
            reason + BackendName(kind) + " passed the traffic proof (" + proof->detail + ")"};
      }
      failures += (failures.empty() ? "" : "; ") + BackendName(kind) +
                  (proof.ok() ? " failed the traffic proof (" + proof->detail + ")"
                              : " could not be proven (" + proof.error().Message() + ")");
    }
    context_ = (context_.empty() ? "" : context_ + "; ") + failures;
    return std::nullopt;
  }

  // Both backends refused even to take the rule in the proof's own namespaces, where this
  // process has every capability: the kernel lacks what each needs (modules withheld or never
  // built), so no rule and no dockerd would work. A fact this clear ends the run here, naming
  // both refusals, instead of writing a daemon.json for a dockerd that cannot start.
  std::optional<Error> BothRefused() const {
    const auto refused = [](const std::optional<Result<ProofOutcome>>& proof) {
      return proof && proof->ok() && !(*proof)->rule_accepted;
    };
    if (!refused(decision_.nft.proof) || !refused(decision_.legacy.proof)) return std::nullopt;
    return Error::Environment(
        "the kernel " + kernel_.release +
            " has neither masquerade backend, so nested containers cannot be masqueraded: both "
            "refused the traffic proof's rule (nft: " +
            RefusalCause((*decision_.nft.proof)->detail) +
            "; legacy: " + RefusalCause((*decision_.legacy.proof)->detail) + ")",
        "make one backend loadable on the node, nf_tables (`modprobe nf_tables nft_chain_nat "
        "nft_masq`) or legacy ip_tables (`modprobe ip_tables iptable_nat`), and check that no "
        "modprobe.d entry or module_blacklist= withholds it; or run the pod on a node whose "
        "kernel has one");
  }

  Verdict ByDefault() {
    const bool legacy_rejected = Rejected(decision_.legacy.proof);
    const bool nft_rejected = Rejected(decision_.nft.proof);
    // A backend the proof rejected is never preferred over one it could not judge.
    BackendKind kind = DefaultBackend(kernel_);
    std::string why = "the default for kernel " + kernel_.release;
    if (legacy_rejected != nft_rejected) {
      kind = legacy_rejected ? BackendKind::kNft : BackendKind::kLegacy;
      why = "the only backend the proof did not reject";
    }
    if (legacy_rejected && nft_rejected) {
      decision_.warnings.push_back(
          "neither backend's masquerade rule took effect in the traffic proof, so nested "
          "containers will probably not reach the outside; check the node's netfilter modules, "
          "or pass --backend if you know better");
    } else {
      // The proof's own error says why it could not run and what helps (capabilities, or a
      // node too slow for it): a timeout is not fixed by granting capabilities.
      const auto& proof = Evidence(kind).proof;
      decision_.warnings.push_back(
          BackendName(kind) + " was chosen without proof that this kernel honours it: " +
          (proof && !proof->ok()
               ? "the traffic proof could not run (" + proof->error().Message() + ")"
               : "the traffic proof could not run; grant what it needs (CAP_SYS_ADMIN and "
                 "CAP_NET_ADMIN) or pass --backend"));
    }
    return Verdict{kind, ChoiceStep::kDefault, context_ + "; " + BackendName(kind) + " is " + why};
  }

  // Split brain: rules of other writers that cannot work where they are.
  void FindSplitBrain() {
    for (BackendKind kind : kBothBackends) {
      const BackendEvidence& evidence = Evidence(kind);
      if (kind == decision_.chosen || !evidence.census.ok()) continue;
      const int masquerades = evidence.census->foreign_masquerade_rules;
      if (masquerades == 0) continue;
      std::string why_dead;
      if (Rejected(evidence.proof)) {
        why_dead =
            BackendName(kind) + " failed the traffic proof (" + (*evidence.proof)->detail + ")";
      } else if (Lacks(kernel_, kind)) {
        why_dead = "the kernel lacks " + FeatureName(kind);
      } else if (kind == BackendKind::kNft && OlderThan4(kernel_)) {
        why_dead = "kernel " + kernel_.release + " does not run nf_tables NAT";
      } else {
        continue;
      }
      decision_.split_brain.push_back(
          "other writers keep " + Count(masquerades, "masquerade rule") + " in " +
          BackendName(kind) + ", but " + why_dead + ": the kernel honours " +
          BackendName(decision_.chosen) +
          ", so those rules masquerade nothing (a dockerd with the " + BackendName(kind) +
          " iptables variant loses egress; give it iptables-" + BackendName(decision_.chosen) +
          ")");
    }
    if (decision_.legacy.census.ok() && decision_.nft.census.ok() &&
        decision_.legacy.census->foreign_masquerade_rules > 0 &&
        decision_.nft.census->foreign_masquerade_rules > 0) {
      decision_.split_brain.push_back(
          "masquerade rules in both backends (legacy: " +
          std::to_string(decision_.legacy.census->foreign_masquerade_rules) +
          ", nft: " + std::to_string(decision_.nft.census->foreign_masquerade_rules) +
          "): two writers disagree on the backend, and each one's tools (iptables-legacy, "
          "iptables-nft/nft) cannot see the other's rules");
    }
  }

  Result<BackendDecision> Finish(Verdict verdict) {
    decision_.chosen = verdict.kind;
    decision_.step = verdict.step;
    decision_.reason = std::move(verdict.reason);
    FindSplitBrain();
    return std::move(decision_);
  }

  const KernelFacts& kernel_;
  BackendProver& prover_;
  BackendDecision decision_;
  std::string context_;  // why the earlier steps did not decide, for the later reasons
};

}  // namespace

std::string_view ChoiceStepName(ChoiceStep step) {
  switch (step) {
    case ChoiceStep::kExplicit:
      return "explicit";
    case ChoiceStep::kKernel:
      return "kernel";
    case ChoiceStep::kCensus:
      return "census";
    case ChoiceStep::kProof:
      return "proof";
    case ChoiceStep::kDefault:
      return "default";
  }
  return "default";
}

const FeatureFacts& KernelFeatureOf(const KernelFacts& kernel, BackendKind kind) {
  return kind == BackendKind::kLegacy ? kernel.ip_tables : kernel.nf_tables;
}

Result<std::optional<BackendKind>> ParseBackendRequest(std::string_view value,
                                                       std::string_view flag_names) {
  if (value == "auto") return std::optional<BackendKind>();
  if (auto kind = ParseBackendName(value)) return kind;
  return Error::BadInput(
      std::string(flag_names) + " value '" + std::string(value) + "' is not a backend",
      "use auto, legacy or nft");
}

// Before 4.18, nf_tables NAT did not share the NAT engine with ip_tables: an nft nat chain had
// to be registered on both prerouting and postrouting for replies to be translated, and NAT
// rules of the two APIs could not reliably be used side by side, which is exactly the
// situation of a pod whose dockerd writes legacy rules. The 4.18 NAT core rework made nft NAT
// work on its own, next to ip_tables; from there nf_tables is the better default (see ByProof).
BackendKind DefaultBackend(const KernelFacts& kernel) {
  if (kernel.major == 0) return BackendKind::kNft;  // release unreadable: assume a current one
  const bool before_4_18 = kernel.major < 4 || (kernel.major == 4 && kernel.minor < 18);
  return before_4_18 ? BackendKind::kLegacy : BackendKind::kNft;
}

Status RequireAvailable(const KernelFacts& kernel, BackendKind kind, std::string_view input_name) {
  if (!Lacks(kernel, kind)) return OkStatus();
  // The hint names the flag alone: "--backend" of "--backend (DIND_NETCFG_BACKEND)".
  const std::string flag(input_name.substr(0, input_name.find(" (")));
  return Error::BadInput(
      std::string(input_name) + " " + BackendName(kind) + ": the kernel " + kernel.release +
          " lacks " + FeatureName(kind) + " (" + KernelFeatureOf(kernel, kind).evidence + ")",
      "use " + flag + " " + BackendName(OtherBackend(kind)) + " or " + flag + " auto");
}

Result<BackendDecision> ChooseBackend(const ChoiceInputs& inputs, BackendProver& prover) {
  return Chooser(inputs, prover).Choose(inputs.requested, inputs.requested_as);
}

}  // namespace dind::rules

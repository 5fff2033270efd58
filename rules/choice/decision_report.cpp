// SPDX-License-Identifier: Apache-2.0
#include "rules/choice/decision_report.h"

#include "common/text_report.h"

namespace dind::rules {
namespace {

using Json = nlohmann::ordered_json;

Json ProofToJson(const std::optional<Result<ProofOutcome>>& proof) {
  Json json{{"status", ProofStatus(proof)}};
  if (!proof) {
    json["detail"] = "the decision did not need it";
  } else if (!proof->ok()) {
    json["detail"] = proof->error().Message();
  } else {
    json["detail"] = (*proof)->detail;
    json["counter_packets"] = (*proof)->counter_packets;
    json["arrived"] = (*proof)->arrived;
    json["masqueraded"] = (*proof)->masqueraded;
    const auto& reused = (*proof)->reused;
    json["reused"] = reused ? Json{{"proven_by", reused->proven_by},
                                   {"proven_at", reused->proven_at},
                                   {"cache", reused->cache_path}}
                            : Json(nullptr);
  }
  return json;
}

Json EvidenceToJson(const BackendEvidence& evidence) {
  Json json{{"available", netcfg::AvailabilityName(evidence.available)},
            {"availability_evidence", evidence.availability_evidence}};
  if (evidence.census.ok()) {
    json["nat_rules"] = evidence.census->foreign_nat_rules;
    json["masquerade_rules"] = evidence.census->foreign_masquerade_rules;
    json["census_error"] = nullptr;
  } else {
    json["nat_rules"] = nullptr;
    json["masquerade_rules"] = nullptr;
    json["census_error"] = evidence.census.error().Message();
  }
  json["proof"] = ProofToJson(evidence.proof);
  return json;
}

std::string EvidenceToText(const BackendEvidence& evidence) {
  std::string text = "available " + std::string(netcfg::AvailabilityName(evidence.available));
  if (evidence.census.ok()) {
    text += "; other writers' nat rules " + std::to_string(evidence.census->foreign_nat_rules) +
            " (masquerade " + std::to_string(evidence.census->foreign_masquerade_rules) + ")";
  } else {
    text += "; census failed: " + evidence.census.error().Message();
  }
  text += "; proof " + std::string(ProofStatus(evidence.proof));
  if (evidence.proof) {
    text += ": " +
            (evidence.proof->ok() ? (*evidence.proof)->detail : evidence.proof->error().Message());
    if (evidence.proof->ok() && (*evidence.proof)->reused) {
      const auto& reused = *(*evidence.proof)->reused;
      text += " (reused: proved by " + reused.proven_by + " at " + reused.proven_at + ", kept in " +
              reused.cache_path + ")";
    }
  }
  return text;
}

}  // namespace

std::string_view ProofStatus(const std::optional<Result<ProofOutcome>>& proof) {
  if (!proof) return "not run";
  if (!proof->ok()) return "could not run";
  return (*proof)->passed ? "passed" : "failed";
}

Json DecisionToJson(const BackendDecision& decision) {
  Json json;
  json["chosen"] = BackendName(decision.chosen);
  json["step"] = ChoiceStepName(decision.step);
  json["reason"] = decision.reason;
  json["evidence"] = {{"kernel", decision.kernel_release},
                      {"legacy", EvidenceToJson(decision.legacy)},
                      {"nft", EvidenceToJson(decision.nft)}};
  json["split_brain"] = decision.split_brain;
  json["warnings"] = decision.warnings;
  return json;
}

std::string DecisionToText(const BackendDecision& decision) {
  std::string text;
  text += ReportLine("backend", BackendName(decision.chosen) + " [" +
                                    std::string(ChoiceStepName(decision.step)) + "] " +
                                    decision.reason);
  text += ReportLine("  legacy", EvidenceToText(decision.legacy));
  text += ReportLine("  nft", EvidenceToText(decision.nft));
  for (const auto& finding : decision.split_brain) text += ReportLine("split brain", finding);
  for (const auto& warning : decision.warnings) text += ReportLine("warning", warning);
  return text;
}

}  // namespace dind::rules

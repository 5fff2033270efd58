// SPDX-License-Identifier: Apache-2.0
// The backend decision as `detect`, `init` and `rules` show it: one JSON object and text lines.
//
// JSON:
//   {"chosen": "nft", "step": "explicit|kernel|census|proof|default", "reason": "...",
//    "evidence": {"kernel": "6.1.0-18-amd64",
//                 "legacy": {"available": "yes|no|unknown", "availability_evidence": "...",
//                            "nat_rules": 3 | null, "masquerade_rules": 1 | null,
//                            "census_error": null | "...",
//                            "proof": {"status": "not run|passed|failed|could not run",
//                                      "detail": "...",
//                                      // only when it ran:
//                                      "counter_packets": 1, "arrived": true,
//                                      "masqueraded": true}},
//                 "nft": {... the same ...}},
//    "split_brain": ["..."], "warnings": ["..."]}
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "rules/choice/backend_choice.h"

namespace dind::rules {

nlohmann::ordered_json DecisionToJson(const BackendDecision& decision);

// Lines in detect's "label       value" layout, ending in a newline.
std::string DecisionToText(const BackendDecision& decision);

// "not run", "passed", "failed", "could not run"
std::string_view ProofStatus(const std::optional<Result<ProofOutcome>>& proof);

}  // namespace dind::rules

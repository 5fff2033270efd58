// SPDX-License-Identifier: Apache-2.0
// The parts of `rules` that `detect` and `init` reuse: the --backend flag, the backend decision
// for this network namespace, and applying the masquerade for the pools `init` decided.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "netcfg/detect/detector.h"
#include "rules/choice/backend_choice.h"

namespace dind::cli {

// --backend auto|legacy|nft (DIND_NETCFG_BACKEND); `backend` starts as "auto".
void AddBackendFlag(CLI::App& command, std::string& backend);
// kBadInput naming both spellings unless the value is auto, legacy or nft.
Status ValidateBackendFlag(const std::string& backend);

// init's --apply-rules (default on; DIND_NETCFG_APPLY_RULES=false turns it off) and its
// opposite --no-rules (DIND_NETCFG_NO_RULES); rules are applied when apply && !skip.
void AddApplyRulesFlags(CLI::App& command, bool& apply, bool& skip);

// Decides the backend here: the census reads both backends (read-only) and the proof runs in
// throwaway namespaces, so the namespace itself is never changed. kBadInput for a bad
// --backend value or a backend the kernel lacks. With `to_change_rules`, censuses of both
// backends refused for lack of CAP_NET_ADMIN end the decision with that error: any change
// would be refused too.
Result<rules::BackendDecision> DecideBackendHere(const netcfg::KernelFacts& kernel,
                                                 const std::string& backend_flag,
                                                 bool to_change_rules);

// Logs the choice, its reason, any split brain and the decision's warnings.
void LogDecision(const rules::BackendDecision& decision);

// Makes `spec` present in the chosen backend, and takes dind-netcfg's rules out of the other
// backend when an earlier run chose it: the safety net lives in exactly one place.
struct AppliedRules {
  rules::BackendState state;
  std::optional<rules::BackendKind> cleaned;  // the other backend, when our rules left there
};
Result<AppliedRules> ApplyInChosen(const rules::MasqueradeSpec& spec,
                                   const rules::BackendDecision& decision);
// The second half of ApplyInChosen, for callers that apply in the chosen backend themselves:
// the other backend, when dind-netcfg's rules were there and are now removed.
Result<std::optional<rules::BackendKind>> RemoveFromUnchosen(
    const rules::BackendDecision& decision);

struct RulesOutput {
  netcfg::OrderedJson json;
  std::string text;  // lines in detect's "label       value" layout
};

// For `detect`: the decision as {"chosen", "step", ...}; when no backend can be chosen at all
// (neither exists) the JSON is {"error": "..."} and detect still reports the rest. Only bad
// input is an Error.
Result<RulesOutput> DescribeBackendDecision(const netcfg::KernelFacts& kernel,
                                            const std::string& backend_flag);

// For `init`: masquerades the bip network and pool bases the report decided, out of its IPv4
// uplink, in the backend chosen here.
Result<RulesOutput> ApplyRulesForInit(const netcfg::DetectionReport& report,
                                      const std::string& backend_flag);

}  // namespace dind::cli

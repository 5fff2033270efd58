// SPDX-License-Identifier: Apache-2.0
// The parts of `rules` that `detect`, `init` and `run` reuse: the --backend flag and how a
// backend decision and applied rules are printed. The decisions themselves are daemon/core's.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/pod/backend_here.h"
#include "daemon/pod/rule_sources.h"
#include "netcfg/detect/detector.h"
#include "rules/choice/backend_choice.h"

namespace dind::cli {

// --backend auto|legacy|nft (DIND_NETCFG_BACKEND), --xtables-wait DURATION
// (DIND_NETCFG_XTABLES_WAIT) and --proof-cache PATH|off (DIND_NETCFG_PROOF_CACHE), as given.
struct BackendFlags {
  std::string kind = "auto";
  std::string xtables_wait = "5s";  // rules::legacy::kDefaultXtablesWait
  std::string proof_cache = std::string(rules::kDefaultProofCachePath);
  std::string command;  // "init", "rules apply": who the proof cache says proved
};
void AddBackendFlags(CLI::App& command, BackendFlags& flags);
// A kind of nullopt for auto; kBadInput naming both spellings unless the kind is auto, legacy
// or nft, or the wait is not a duration.
Result<pod::BackendRequest> ParseBackendFlags(const BackendFlags& flags);

// init's --apply-rules (default on; DIND_NETCFG_APPLY_RULES=false turns it off) and its
// opposite --no-rules (DIND_NETCFG_NO_RULES); rules are applied when apply && !skip.
void AddApplyRulesFlags(CLI::App& command, bool& apply, bool& skip);

struct RulesOutput {
  netcfg::OrderedJson json;
  std::string text;  // lines in detect's "label       value" layout
};

// For `detect`: the decision as {"chosen", "step", ...}; when no backend can be chosen at all
// (neither exists) the JSON is {"error": "..."} and detect still reports the rest. Only bad
// input is an Error.
Result<RulesOutput> DescribeBackendDecision(const netcfg::KernelFacts& kernel,
                                            const pod::BackendRequest& requested);

// For `rules apply` and `init`: the decision, what was applied and where.
RulesOutput DescribeApplied(const pod::ResolvedSpec& resolved,
                            const rules::BackendDecision& decision,
                            const pod::AppliedRules& applied);

}  // namespace dind::cli

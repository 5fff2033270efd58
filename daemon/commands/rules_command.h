// SPDX-License-Identifier: Apache-2.0
// What `rules` prints that `detect` and `init` print too: a backend decision and applied rules.
// The decisions themselves are daemon/pod's; the backend flags are backend_flags.h (included
// here, as every command that prints these also takes those flags).
#pragma once

#include <string>

#include "common/result.h"
#include "daemon/commands/backend_flags.h"
#include "daemon/pod/backend_here.h"
#include "daemon/pod/rule_sources.h"
#include "netcfg/detect/detector.h"
#include "rules/choice/backend_choice.h"

namespace dind::cli {

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

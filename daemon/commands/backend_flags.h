// SPDX-License-Identifier: Apache-2.0
// The flags that say which masquerade backend to use and how to reach it, shared by `detect`,
// `init`, `rules`, `run` and `entrypoint`, and init's switch for applying the rules at all.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/result.h"
#include "daemon/pod/backend_here.h"
#include "rules/proof/proof_cache.h"

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

}  // namespace dind::cli

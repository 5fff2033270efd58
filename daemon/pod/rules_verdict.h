// SPDX-License-Identifier: Apache-2.0
// What `rules check` concludes from one backend's state: are our rules present, and do they
// take effect? Pure, so every verdict is unit-tested.
//
// Present:   our chain/table exists, is hooked into postrouting, and holds a rule for every
//            wanted (source, out-interface).
// Effective: present, and either our rules' counters are above zero (the kernel has run them
//            since they were installed) or the chosen backend passes the traffic proof now (for
//            a freshly applied rule that no nested container has used yet). Counters are read
//            first because they are free; the proof runs only when they are all zero.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/masquerade.h"
#include "rules/proof/traffic_proof.h"

namespace dind::pod {

struct RulesVerdict {
  bool present = false;
  bool effective = false;
  std::vector<std::string> missing;  // why not present or not effective, one finding each
  std::vector<std::string> stale;    // rules of ours `apply` would remove (not a failure)
  std::string effect_evidence;       // why effective, or why that could not be shown
  std::uint64_t packets = 0;         // sum of our rules' counters
  bool ok() const { return present && effective; }
};

// Only the "present" half: missing, stale and packets filled, `effective` left false. The
// sidecar calls it after every change notification, where a traffic proof would cost too much.
RulesVerdict CheckPresence(rules::BackendKind kind, const rules::MasqueradeSpec& wanted,
                           const rules::BackendState& state, bool ours_elsewhere);

// `ours_elsewhere`: the other backend holds dind-netcfg's chain/table (an earlier apply chose
// it). `prove` runs the chosen backend's proof; it is called only when needed.
RulesVerdict JudgeRules(rules::BackendKind kind, const rules::MasqueradeSpec& wanted,
                        const rules::BackendState& state, bool ours_elsewhere,
                        const std::function<Result<rules::ProofOutcome>()>& prove);

}  // namespace dind::pod

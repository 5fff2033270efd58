// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/rules_verdict.h"

#include <algorithm>

namespace dind::pod {
namespace {

using rules::BackendKind;

std::string Container(BackendKind kind) {
  return kind == BackendKind::kLegacy ? "nat chain " + std::string(rules::kLegacyChain)
                                      : "nft table " + std::string(rules::kNftTable);
}

std::string Describe(const Cidr& source, const std::string& out_interface) {
  return source.ToString() + " out of " + out_interface;
}

std::string DescribeClamp(const Cidr& network, std::uint16_t mss) {
  return "MSS clamp of " + network.ToString() + " to " + std::to_string(mss);
}

// The clamps `wanted` asks for, both families, as each backend reads them.
std::vector<rules::MssClamp> WantedClamps(const rules::MasqueradeSpec& wanted) {
  std::vector<rules::MssClamp> clamps;
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    // A spec the backend would refuse has nothing it could install: Apply reports why.
    if (auto of_family = rules::ClampsOf(wanted, family)) {
      clamps.insert(clamps.end(), of_family->begin(), of_family->end());
    }
  }
  return clamps;
}

}  // namespace

RulesVerdict CheckPresence(BackendKind kind, const rules::MasqueradeSpec& wanted,
                           const rules::BackendState& state, bool ours_elsewhere) {
  RulesVerdict verdict;
  if (!state.container_present) {
    verdict.missing.push_back(Container(kind) + " does not exist");
  } else if (!state.hooked) {
    verdict.missing.push_back(
        kind == BackendKind::kLegacy
            ? "POSTROUTING does not jump to " + std::string(rules::kLegacyChain)
            : "chain " + std::string(rules::kNftChain) + " of table " +
                  std::string(rules::kNftTable) + " is not a nat chain on the postrouting hook");
  }
  if (ours_elsewhere) {
    verdict.missing.push_back("dind-netcfg's rules are in " +
                              rules::BackendName(rules::OtherBackend(kind)) +
                              ", but the backend chosen now is " + rules::BackendName(kind));
  }
  for (const auto& source : wanted.sources) {
    const bool found = std::any_of(state.rules.begin(), state.rules.end(), [&](const auto& rule) {
      return rule.source == source && rule.out_interface == wanted.out_interface;
    });
    if (!found) {
      verdict.missing.push_back("no rule masquerading " + Describe(source, wanted.out_interface));
    }
  }
  for (const auto& rule : state.rules) {
    verdict.packets += rule.packets;
    const bool wanted_rule = rule.out_interface == wanted.out_interface &&
                             std::find(wanted.sources.begin(), wanted.sources.end(), rule.source) !=
                                 wanted.sources.end();
    if (!wanted_rule) verdict.stale.push_back(Describe(rule.source, rule.out_interface));
  }
  const std::vector<rules::MssClamp> clamps = WantedClamps(wanted);
  for (const auto& clamp : clamps) {
    const bool found = std::any_of(state.clamps.begin(), state.clamps.end(), [&](const auto& in) {
      return in.network == clamp.network && in.mss == clamp.mss;
    });
    if (!found) verdict.missing.push_back("no " + DescribeClamp(clamp.network, clamp.mss));
  }
  for (const auto& installed : state.clamps) {
    const bool wanted_clamp = std::any_of(clamps.begin(), clamps.end(), [&](const auto& clamp) {
      return clamp.network == installed.network && clamp.mss == installed.mss;
    });
    if (!wanted_clamp) verdict.stale.push_back(DescribeClamp(installed.network, installed.mss));
  }
  verdict.present = state.container_present && state.hooked && verdict.missing.empty();
  return verdict;
}

RulesVerdict JudgeRules(BackendKind kind, const rules::MasqueradeSpec& wanted,
                        const rules::BackendState& state, bool ours_elsewhere,
                        const std::function<Result<rules::ProofOutcome>()>& prove) {
  RulesVerdict verdict = CheckPresence(kind, wanted, state, ours_elsewhere);
  if (!verdict.present) {
    verdict.effect_evidence = "not judged: the rules are not all in place";
    return verdict;
  }

  if (verdict.packets > 0) {
    verdict.effective = true;
    verdict.effect_evidence = "our rules have masqueraded " + std::to_string(verdict.packets) +
                              " packet" + (verdict.packets == 1 ? "" : "s");
    return verdict;
  }
  const Result<rules::ProofOutcome> proof = prove();
  if (!proof.ok()) {
    verdict.effect_evidence =
        "unproven: no packet has matched our rules yet, and the traffic "
        "proof could not run (" +
        proof.error().Message() + ")";
  } else if (!proof->passed) {
    verdict.effect_evidence = rules::BackendName(kind) + " failed the traffic proof (" +
                              proof->detail + "): this kernel does not run its masquerade rules";
  } else {
    verdict.effective = true;
    verdict.effect_evidence = "no packet has matched our rules yet, but " +
                              rules::BackendName(kind) + " passed the traffic proof (" +
                              proof->detail + ")";
  }
  if (!verdict.effective) verdict.missing.push_back("effect " + verdict.effect_evidence);
  return verdict;
}

}  // namespace dind::pod

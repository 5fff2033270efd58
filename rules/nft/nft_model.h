// SPDX-License-Identifier: Apache-2.0
// The nf_tables backend's view of the kernel ruleset as plain values, and the pure decisions made
// on it: which operations make a spec present (a diff, so counters survive re-applies), which
// remove it, and what Inspect reports. Nothing here talks to the kernel or to libnftnl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "rules/masquerade.h"

namespace dind::rules::nft {

// NFPROTO_* numbers as the kernel reports them; foreign tables may be inet, bridge, netdev, ...
inline constexpr std::uint32_t kNfprotoIpv4 = 2;
inline constexpr std::uint32_t kNfprotoIpv6 = 10;
inline constexpr std::uint32_t NfprotoOf(Family family) {
  return family == Family::kIPv4 ? kNfprotoIpv4 : kNfprotoIpv6;
}
// "ip" / "ip6" / "inet" ... as nft prints them.
std::string FamilyName(std::uint32_t nfproto);

// `<saddr> S oifname "<out_interface>"`: the match part of one of our rules.
struct MasqueradeMatch {
  Cidr source;
  std::string out_interface;
  bool operator==(const MasqueradeMatch&) const = default;
};

// `<saddr|daddr> NET tcp flags & (syn|rst) == syn tcp option maxseg size > MSS
//  tcp option maxseg size set MSS counter`: one direction of one clamp.
struct ClampMatch {
  Cidr network;
  ClampDirection direction = ClampDirection::kFromNetwork;
  std::uint16_t mss = 0;
  bool operator==(const ClampMatch&) const = default;
};

// The base chains of our table: postrouting (masquerade) and forward (clamps).
enum class OurChain { kPostrouting, kForward };
std::string_view ChainName(OurChain chain);

struct NftTableRecord {
  std::uint32_t family = 0;
  std::string name;
};

struct NftChainRecord {
  std::uint32_t family = 0;
  std::string table;
  std::string name;
  bool is_base = false;  // has a hook
  std::string type;      // "filter", "nat", "route"; base chains only
  std::uint32_t hook = 0;
  std::int32_t priority = 0;
  std::uint32_t policy = 0;
};

struct NftRuleRecord {
  std::uint32_t family = 0;
  std::string table;
  std::string chain;
  std::uint64_t handle = 0;
  // Set only when the rule is exactly `saddr S oifname "X" counter masquerade`.
  std::optional<MasqueradeMatch> masquerade_match;
  // Set only when the rule is exactly one direction of a clamp (see ClampMatch).
  std::optional<ClampMatch> clamp_match;
  std::uint64_t packets = 0;  // of its first counter, if it has one
  std::uint64_t bytes = 0;
  bool has_masquerade = false;     // a masq expression anywhere in the rule
  bool has_nat_statement = false;  // masq, snat/dnat or redir: only valid in nat chains
};

// One consistent read of the kernel's ruleset (all families), tagged with its generation.
struct NftRuleset {
  std::uint32_t generation = 0;
  std::vector<NftTableRecord> tables;
  std::vector<NftChainRecord> chains;
  std::vector<NftRuleRecord> rules;
};

// The operations a transaction is made of; each becomes one netlink message in a batch.
struct AddTable {
  Family family;
};
// Our base chains: postrouting is type nat hook postrouting priority srcnat policy accept;
// forward is type filter hook forward priority mangle policy accept.
struct AddChain {
  Family family;
  OurChain chain = OurChain::kPostrouting;
};
struct AddRule {
  MasqueradeMatch match;  // family follows the source
};
struct AddClampRule {  // into the forward chain
  ClampMatch match;    // family follows the network
};
struct DeleteRule {
  Family family;
  std::uint64_t handle;
  OurChain chain = OurChain::kPostrouting;
};
struct DeleteChain {  // the chain must be empty by then (its rules deleted before)
  Family family;
  OurChain chain;
};
struct DeleteTable {
  Family family;
};
using NftOp =
    std::variant<AddTable, AddChain, AddRule, AddClampRule, DeleteRule, DeleteChain, DeleteTable>;

// Like an nft command line, for error messages: "add rule ip dind-netcfg postrouting ...".
std::string Describe(const NftOp& op);

bool IsOurTable(std::uint32_t family, const std::string& name);
// Our chain as we create it; anything else under that name gets rebuilt.
bool IsOurBaseChain(const NftChainRecord& chain);
bool IsOurForwardChain(const NftChainRecord& chain);

// The operations that make exactly `spec` present, given `current`; empty when it already is.
// The ip table is always kept; the ip6 table exists only while there are IPv6 sources or
// clamps. The forward chain exists only while its family has clamps.
Result<std::vector<NftOp>> PlanApply(const MasqueradeSpec& spec, const NftRuleset& current);
// Deletes whichever of our tables exist.
std::vector<NftOp> PlanRemove(const NftRuleset& current);
// Our rules and clamps in effect with counters, and a census of the nat rules other tables
// keep (our table's rules, clamps included, are never counted).
BackendState Summarize(const NftRuleset& current);

// The kernel's refusal of `op` (nullptr: of the whole batch, e.g. its BATCH_BEGIN) as an Error
// that names the missing capability or kernel feature.
Error KernelRefusal(const NftOp* op, int errnum, std::string_view kernel_message);
// A failed read (dump or generation query) of the ruleset.
Error DumpRefusal(std::string_view what, int errnum);

}  // namespace dind::rules::nft

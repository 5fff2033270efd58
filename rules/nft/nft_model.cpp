// SPDX-License-Identifier: Apache-2.0
#include "rules/nft/nft_model.h"

#include <linux/netfilter.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <tuple>

namespace dind::rules::nft {
namespace {

constexpr std::int32_t kSrcnatPriority = 100;   // NF_IP_PRI_NAT_SRC, nft's "srcnat"
constexpr std::int32_t kManglePriority = -150;  // NF_IP_PRI_MANGLE, nft's "mangle"

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Clang 14 has no class template argument deduction for aggregates yet.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string TableOf(Family family) {
  return FamilyName(NfprotoOf(family)) + " " + std::string(kNftTable);
}

std::string MatchText(const MasqueradeMatch& match) {
  return std::string(match.source.family() == Family::kIPv4 ? "ip" : "ip6") + " saddr " +
         match.source.ToString() + " oifname \"" + match.out_interface + "\" counter masquerade";
}

// As `nft list` prints it.
std::string ClampText(const ClampMatch& match) {
  const std::string mss = std::to_string(match.mss);
  return std::string(match.network.family() == Family::kIPv4 ? "ip" : "ip6") +
         (match.direction == ClampDirection::kFromNetwork ? " saddr " : " daddr ") +
         match.network.ToString() + " tcp flags syn / syn,rst tcp option maxseg size > " + mss +
         " tcp option maxseg size set " + mss + " counter";
}

bool HasTable(const NftRuleset& ruleset, Family family) {
  return std::any_of(ruleset.tables.begin(), ruleset.tables.end(), [&](const NftTableRecord& t) {
    return t.family == NfprotoOf(family) && t.name == kNftTable;
  });
}

const NftChainRecord* FindOurChain(const NftRuleset& ruleset, Family family,
                                   OurChain which = OurChain::kPostrouting) {
  for (const NftChainRecord& chain : ruleset.chains) {
    if (chain.family == NfprotoOf(family) && chain.table == kNftTable &&
        chain.name == ChainName(which)) {
      return &chain;
    }
  }
  return nullptr;
}

bool InOurChain(const NftRuleRecord& rule, Family family, OurChain which = OurChain::kPostrouting) {
  return rule.family == NfprotoOf(family) && rule.table == kNftTable &&
         rule.chain == ChainName(which);
}

Status ValidateSpec(const MasqueradeSpec& spec) {
  if (spec.out_interface.empty() || spec.out_interface.size() >= IFNAMSIZ) {
    return Error::BadInput(
        "masquerade out-interface '" + spec.out_interface + "' is not a valid " + "interface name",
        "name the uplink interface, 1 to 15 characters, e.g. eth0");
  }
  if (spec.out_interface.find('\0') != std::string::npos) {
    return Error::BadInput("masquerade out-interface contains a NUL byte");
  }
  return OkStatus();
}

constexpr ClampDirection kDirections[] = {ClampDirection::kFromNetwork, ClampDirection::kToNetwork};

void AppendClampRules(const std::vector<MssClamp>& clamps, std::vector<NftOp>& ops) {
  for (const MssClamp& clamp : clamps) {
    for (ClampDirection direction : kDirections) {
      ops.push_back(AddClampRule{{clamp.network, direction, clamp.mss}});
    }
  }
}

void AppendCreateAll(Family family, const std::set<Cidr>& wanted, const std::string& out_interface,
                     const std::vector<MssClamp>& clamps, std::vector<NftOp>& ops) {
  ops.push_back(AddTable{family});
  ops.push_back(AddChain{family});
  for (const Cidr& source : wanted) ops.push_back(AddRule{{source, out_interface}});
  if (clamps.empty()) return;
  ops.push_back(AddChain{family, OurChain::kForward});
  AppendClampRules(clamps, ops);
}

// The forward chain of an existing table holds both directions of every clamp, or is gone.
void PlanClamps(Family family, const std::vector<MssClamp>& clamps, const NftRuleset& current,
                std::vector<NftOp>& ops) {
  const NftChainRecord* chain = FindOurChain(current, family, OurChain::kForward);
  if (clamps.empty()) {
    if (chain == nullptr) return;
    for (const NftRuleRecord& rule : current.rules) {
      if (InOurChain(rule, family, OurChain::kForward)) {
        ops.push_back(DeleteRule{family, rule.handle, OurChain::kForward});
      }
    }
    ops.push_back(DeleteChain{family, OurChain::kForward});
    return;
  }
  if (chain == nullptr) ops.push_back(AddChain{family, OurChain::kForward});

  std::set<std::pair<Cidr, ClampDirection>> kept;
  for (const NftRuleRecord& rule : current.rules) {
    if (!InOurChain(rule, family, OurChain::kForward)) continue;
    const auto& match = rule.clamp_match;
    const bool wanted_here =
        match && std::any_of(clamps.begin(), clamps.end(), [&](const MssClamp& clamp) {
          return clamp.network == match->network && clamp.mss == match->mss;
        });
    if (wanted_here && kept.insert({match->network, match->direction}).second) continue;
    // stale (a changed MSS included), foreign-looking or a duplicate
    ops.push_back(DeleteRule{family, rule.handle, OurChain::kForward});
  }
  for (const MssClamp& clamp : clamps) {
    for (ClampDirection direction : kDirections) {
      if (kept.count({clamp.network, direction}) == 0) {
        ops.push_back(AddClampRule{{clamp.network, direction, clamp.mss}});
      }
    }
  }
}

void PlanFamily(Family family, const std::set<Cidr>& wanted, const std::string& out_interface,
                const std::vector<MssClamp>& clamps, const NftRuleset& current,
                std::vector<NftOp>& ops) {
  const bool table_present = HasTable(current, family);
  if (family == Family::kIPv6 && wanted.empty() && clamps.empty()) {
    if (table_present) ops.push_back(DeleteTable{family});
    return;
  }
  if (!table_present) {
    AppendCreateAll(family, wanted, out_interface, clamps, ops);
    return;
  }
  const NftChainRecord* chain = FindOurChain(current, family);
  const NftChainRecord* forward = FindOurChain(current, family, OurChain::kForward);
  if ((chain != nullptr && !IsOurBaseChain(*chain)) ||
      (forward != nullptr && !IsOurForwardChain(*forward))) {
    // Someone changed a chain's hook or type; rebuild the table in the same transaction.
    ops.push_back(DeleteTable{family});
    AppendCreateAll(family, wanted, out_interface, clamps, ops);
    return;
  }
  if (chain == nullptr) ops.push_back(AddChain{family});
  PlanClamps(family, clamps, current, ops);

  std::set<Cidr> kept;
  for (const NftRuleRecord& rule : current.rules) {
    if (!InOurChain(rule, family)) continue;
    const bool wanted_here = rule.masquerade_match &&
                             rule.masquerade_match->out_interface == out_interface &&
                             rule.masquerade_match->source.family() == family &&
                             wanted.count(rule.masquerade_match->source) == 1;
    if (wanted_here && kept.insert(rule.masquerade_match->source).second) continue;
    ops.push_back(DeleteRule{family, rule.handle});  // stale, foreign-looking or a duplicate
  }
  for (const Cidr& source : wanted) {
    if (kept.count(source) == 0) ops.push_back(AddRule{{source, out_interface}});
  }
}

}  // namespace

std::string FamilyName(std::uint32_t nfproto) {
  switch (nfproto) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_NETDEV:
      return "netdev";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_IPV6:
      return "ip6";
    default:
      return "family-" + std::to_string(nfproto);
  }
}

std::string_view ChainName(OurChain chain) {
  return chain == OurChain::kPostrouting ? kNftChain : kNftClampChain;
}

std::string Describe(const NftOp& op) {
  const auto chain = [](OurChain which) {
    std::string text(1, ' ');
    text += ChainName(which);
    return text;
  };
  return std::visit(
      Overloaded{
          [](const AddTable& add) { return "add table " + TableOf(add.family); },
          [&](const AddChain& add) {
            return "add chain " + TableOf(add.family) + chain(add.chain) +
                   (add.chain == OurChain::kPostrouting
                        ? " { type nat hook postrouting priority srcnat; policy accept; }"
                        : " { type filter hook forward priority mangle; policy accept; }");
          },
          [&](const AddRule& add) {
            return "add rule " + TableOf(add.match.source.family()) +
                   chain(OurChain::kPostrouting) + " " + MatchText(add.match);
          },
          [&](const AddClampRule& add) {
            return "add rule " + TableOf(add.match.network.family()) + chain(OurChain::kForward) +
                   " " + ClampText(add.match);
          },
          [&](const DeleteRule& del) {
            return "delete rule " + TableOf(del.family) + chain(del.chain) + " handle " +
                   std::to_string(del.handle);
          },
          [&](const DeleteChain& del) {
            return "delete chain " + TableOf(del.family) + chain(del.chain);
          },
          [](const DeleteTable& del) { return "delete table " + TableOf(del.family); },
      },
      op);
}

bool IsOurTable(std::uint32_t family, const std::string& name) {
  return (family == kNfprotoIpv4 || family == kNfprotoIpv6) && name == kNftTable;
}

bool IsOurBaseChain(const NftChainRecord& chain) {
  return chain.is_base && chain.type == "nat" && chain.hook == NF_INET_POST_ROUTING &&
         chain.priority == kSrcnatPriority && chain.policy == NF_ACCEPT;
}

bool IsOurForwardChain(const NftChainRecord& chain) {
  return chain.is_base && chain.type == "filter" && chain.hook == NF_INET_FORWARD &&
         chain.priority == kManglePriority && chain.policy == NF_ACCEPT;
}

Result<std::vector<NftOp>> PlanApply(const MasqueradeSpec& spec, const NftRuleset& current) {
  DIND_RETURN_IF_ERROR(ValidateSpec(spec));
  std::set<Cidr> wanted_v4;
  std::set<Cidr> wanted_v6;
  for (const Cidr& source : spec.sources) {
    (source.family() == Family::kIPv4 ? wanted_v4 : wanted_v6).insert(source);
  }
  auto clamps_v4 = ClampsOf(spec, Family::kIPv4);
  if (!clamps_v4.ok()) return clamps_v4.error();
  auto clamps_v6 = ClampsOf(spec, Family::kIPv6);
  if (!clamps_v6.ok()) return clamps_v6.error();
  std::vector<NftOp> ops;
  PlanFamily(Family::kIPv4, wanted_v4, spec.out_interface, *clamps_v4, current, ops);
  PlanFamily(Family::kIPv6, wanted_v6, spec.out_interface, *clamps_v6, current, ops);
  return ops;
}

std::vector<NftOp> PlanRemove(const NftRuleset& current) {
  std::vector<NftOp> ops;
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    if (HasTable(current, family)) ops.push_back(DeleteTable{family});
  }
  return ops;
}

BackendState Summarize(const NftRuleset& current) {
  BackendState state;
  bool all_hooked = true;
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    if (!HasTable(current, family)) continue;
    state.container_present = true;
    const NftChainRecord* chain = FindOurChain(current, family);
    if (chain == nullptr || !IsOurBaseChain(*chain)) all_hooked = false;
  }
  state.hooked = state.container_present && all_hooked;

  // Clamps in effect: both directions with the same MSS in a forward chain that is ours.
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    const NftChainRecord* forward = FindOurChain(current, family, OurChain::kForward);
    if (forward == nullptr || !IsOurForwardChain(*forward)) continue;
    struct Halves {
      const NftRuleRecord* from = nullptr;
      const NftRuleRecord* to = nullptr;
    };
    std::vector<std::pair<Cidr, Halves>> found;  // in chain order
    for (const NftRuleRecord& rule : current.rules) {
      if (!InOurChain(rule, family, OurChain::kForward) || !rule.clamp_match) continue;
      const ClampMatch& match = *rule.clamp_match;
      auto it = std::find_if(found.begin(), found.end(),
                             [&](const auto& item) { return item.first == match.network; });
      if (it == found.end()) it = found.insert(found.end(), {match.network, Halves{}});
      auto& half =
          match.direction == ClampDirection::kFromNetwork ? it->second.from : it->second.to;
      if (half == nullptr) half = &rule;
    }
    for (const auto& [network, halves] : found) {
      if (halves.from == nullptr || halves.to == nullptr ||
          halves.from->clamp_match->mss != halves.to->clamp_match->mss) {
        continue;
      }
      state.clamps.push_back(InstalledClamp{network, halves.from->clamp_match->mss,
                                            halves.from->packets + halves.to->packets,
                                            halves.from->bytes + halves.to->bytes});
    }
  }

  // A regular chain counts as nat when its table hooks only nat chains (iptables-nft's
  // "nat" table, docker's DOCKER chain); a nat statement anywhere is nat by definition.
  using TableKey = std::tuple<std::uint32_t, std::string>;
  std::map<TableKey, bool> table_is_nat_only;
  std::set<std::tuple<std::uint32_t, std::string, std::string>> nat_base_chains;
  std::set<std::tuple<std::uint32_t, std::string, std::string>> regular_chains;
  for (const NftChainRecord& chain : current.chains) {
    const TableKey table{chain.family, chain.table};
    if (!chain.is_base) {
      regular_chains.insert({chain.family, chain.table, chain.name});
      continue;
    }
    const bool is_nat = chain.type == "nat";
    if (is_nat) nat_base_chains.insert({chain.family, chain.table, chain.name});
    auto [it, inserted] = table_is_nat_only.try_emplace(table, is_nat);
    if (!inserted) it->second = it->second && is_nat;
  }

  for (const NftRuleRecord& rule : current.rules) {
    if (IsOurTable(rule.family, rule.table)) {
      if (rule.chain == kNftChain && rule.masquerade_match) {
        state.rules.push_back(InstalledRule{rule.masquerade_match->source,
                                            rule.masquerade_match->out_interface, rule.packets,
                                            rule.bytes});
      }
      continue;
    }
    const auto chain_key = std::make_tuple(rule.family, rule.table, rule.chain);
    const auto table_it = table_is_nat_only.find({rule.family, rule.table});
    const bool in_nat_chain = nat_base_chains.count(chain_key) == 1 ||
                              (regular_chains.count(chain_key) == 1 &&
                               table_it != table_is_nat_only.end() && table_it->second);
    if (in_nat_chain || rule.has_nat_statement) ++state.foreign_nat_rules;
    if (rule.has_masquerade) ++state.foreign_masquerade_rules;
  }
  return state;
}

namespace {
constexpr const char* kNeedsNetAdmin =
    "nf_tables changes need CAP_NET_ADMIN in this network namespace; run dind-netcfg as root "
    "or grant the container NET_ADMIN";
constexpr const char* kNoNfTables =
    "the kernel has no nf_tables (CONFIG_NF_TABLES, module nf_tables); use the legacy iptables "
    "backend or load the module on the node";
}  // namespace

Error KernelRefusal(const NftOp* op, int errnum, std::string_view kernel_message) {
  std::string what = op == nullptr ? "nf_tables transaction" : "nf_tables: " + Describe(*op);
  if (!kernel_message.empty()) what += " (kernel: " + std::string(kernel_message) + ")";
  if (errnum == EPERM || errnum == EACCES) return Error::Permission(what, errnum, kNeedsNetAdmin);
  if (errnum == ERESTART) {
    return Error::Environment(what, errnum,
                              "the ruleset changed while dind-netcfg was updating it; retry");
  }
  if (op == nullptr && (errnum == EOPNOTSUPP || errnum == EINVAL)) {
    return Error::Environment(what, errnum, kNoNfTables);
  }
  const bool missing = errnum == ENOENT || errnum == EOPNOTSUPP;
  const auto* add_chain = std::get_if<AddChain>(op);
  if (missing && add_chain != nullptr && add_chain->chain == OurChain::kPostrouting) {
    return Error::Environment(what, errnum,
                              "the kernel lacks the nf_tables nat chain type (CONFIG_NFT_NAT, "
                              "module nft_chain_nat); load it or use the legacy backend");
  }
  if (missing && op != nullptr && std::holds_alternative<AddClampRule>(*op)) {
    return Error::Environment(what, errnum,
                              "the kernel lacks an expression an MSS clamp needs: exthdr "
                              "(tcp option, CONFIG_NFT_EXTHDR or module nft_exthdr) or "
                              "counter/meta/payload/bitwise/immediate; load it or use the legacy "
                              "backend");
  }
  if (missing && std::holds_alternative<AddRule>(*op)) {
    return Error::Environment(what, errnum,
                              "the kernel lacks an expression this rule needs: masquerade "
                              "(CONFIG_NFT_MASQ, module nft_masq) or counter/meta/payload; "
                              "load it or use the legacy backend");
  }
  if (errnum == EOPNOTSUPP) return Error::Environment(what, errnum, kNoNfTables);
  return Error::Environment(what, errnum);
}

Error DumpRefusal(std::string_view what, int errnum) {
  const std::string context = "reading nf_tables " + std::string(what);
  if (errnum == EPERM || errnum == EACCES) {
    return Error::Permission(context, errnum, kNeedsNetAdmin);
  }
  if (errnum == EOPNOTSUPP || errnum == EINVAL || errnum == EPROTONOSUPPORT) {
    return Error::Environment(context, errnum, kNoNfTables);
  }
  return Error::Environment(context, errnum);
}

}  // namespace dind::rules::nft

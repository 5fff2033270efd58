// SPDX-License-Identifier: Apache-2.0
// nf_tables netlink messages as values: libnftnl objects for our table, chain and rules, the
// batch (transaction) bytes for a list of operations, dump requests, and the parsers that turn
// dumped objects into the plain records of nft_model.h. No sockets here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/nft/nft_model.h"

struct nftnl_table;
struct nftnl_chain;
struct nftnl_rule;
struct nlmsghdr;

namespace dind::rules::nft {

struct NftnlDeleter {
  void operator()(nftnl_table* table) const;
  void operator()(nftnl_chain* chain) const;
  void operator()(nftnl_rule* rule) const;
};
using UniqueTable = std::unique_ptr<nftnl_table, NftnlDeleter>;
using UniqueChain = std::unique_ptr<nftnl_chain, NftnlDeleter>;
using UniqueRule = std::unique_ptr<nftnl_rule, NftnlDeleter>;

UniqueTable BuildTable(Family family);
// postrouting: type nat hook postrouting priority srcnat; forward: type filter hook forward
// priority mangle. Both policy accept.
UniqueChain BuildBaseChain(Family family, OurChain which = OurChain::kPostrouting);
// Mirrors what nft itself generates for `ip saddr S oifname "X" counter masquerade`, so
// `nft list ruleset` prints exactly that: byte-aligned prefixes load only the prefix bytes,
// others load the whole address through a bitwise mask.
UniqueRule BuildMasqueradeRule(const MasqueradeMatch& match);
// Mirrors what nft generates for `ip saddr NET tcp flags & (syn|rst) == syn
// tcp option maxseg size > MSS tcp option maxseg size set MSS counter` (daddr for kToNetwork):
// the address prefix as above, meta l4proto tcp, the flags byte masked, the option loaded and
// compared, the new value written back through an immediate, and a counter.
UniqueRule BuildClampRule(const ClampMatch& match);

// Reads a dumped (or built) object. Rules are recognised as ours only by their exact shape.
NftTableRecord ParseTable(const nftnl_table* table);
NftChainRecord ParseChain(const nftnl_chain* chain);
NftRuleRecord ParseRule(const nftnl_rule* rule);
// nftnl_*_nlmsg_parse on a kernel message, then the above.
Result<NftTableRecord> ParseTableMessage(const nlmsghdr* message);
Result<NftChainRecord> ParseChainMessage(const nlmsghdr* message);
Result<NftRuleRecord> ParseRuleMessage(const nlmsghdr* message);
Result<std::uint32_t> ParseGenerationMessage(const nlmsghdr* message);

// A transaction: BATCH_BEGIN, one message per operation (each asking for an ACK), BATCH_END.
struct NftBatch {
  std::vector<char> bytes;
  std::uint32_t begin_seq = 0;
  std::vector<std::uint32_t> op_seqs;  // op_seqs[i] is the sequence number of ops[i]
  std::uint32_t end_seq = 0;
};
// `generation` (when non-zero) makes the kernel refuse the batch with ERESTART if the ruleset
// changed since it was read, so a diff is never applied to a ruleset it was not computed on.
NftBatch BuildBatch(const std::vector<NftOp>& ops, std::uint32_t first_seq,
                    std::uint32_t generation);

// NFT_MSG_GETTABLE/GETCHAIN/GETRULE dump over all families, or NFT_MSG_GETGEN.
std::vector<char> BuildDumpRequest(std::uint16_t nft_msg_type, std::uint32_t seq);
// NFT_MSG_GETRULE dump of our table in `family` only (NFTA_RULE_TABLE): the kernel skips every
// other table without walking its chains, so the cost does not grow with others' rules.
std::vector<char> BuildOurRulesDumpRequest(Family family, std::uint32_t seq);
std::vector<char> BuildGenerationRequest(std::uint32_t seq);

// True when `bytes` is a whole number of netlink messages, each at least a header long and
// none reaching past the end. libmnl's walk (mnl_nlmsg_ok, so mnl_cb_run) takes a length of
// 2 GiB or more as negative and accepts it, so received buffers are checked with this first.
bool WellFormedMessages(const void* bytes, std::size_t length);

// The kernel's answer to one message of a batch: an NLMSG_ERROR, an ACK when errnum is 0.
struct NetlinkAck {
  std::uint32_t seq = 0;
  int errnum = 0;              // positive errno; 0: accepted
  std::string kernel_message;  // the extended ACK's NLMSGERR_ATTR_MSG, when there is one
};
// nullopt for other message types and for an NLMSG_ERROR too short to hold its nlmsgerr. The
// extended ACK is read only where it lies inside the message.
std::optional<NetlinkAck> ParseAck(const nlmsghdr* message);

// What nftnl_rule_snprintf prints, for tests and debug logs.
std::string RuleToString(const nftnl_rule* rule);

}  // namespace dind::rules::nft

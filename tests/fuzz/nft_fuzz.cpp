// SPDX-License-Identifier: Apache-2.0
// nf_tables parsing (rules/nft/nft_messages.h, nft_model.h): the table, chain, rule and
// generation messages of a ruleset dump, through libnftnl's parsers into the records the backend
// decides on, then the decisions themselves (Summarize, PlanApply, PlanRemove, BuildBatch). The
// input is a receive buffer walked by libmnl as the socket's is. Checked besides the
// sanitizers: a rule recognised as ours rebuilds into a rule recognised as the same match. The
// NLMSG_ERROR messages among the input go through ParseAck, as a batch's answers do.
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "rules/nft/nft_messages.h"
#include "rules/nft/nft_model.h"

namespace {

using namespace dind::rules::nft;

void Require(bool condition) {
  if (!condition) std::abort();
}

// What a ruleset dump answers with.
constexpr std::array<std::uint16_t, 4> kMessageTypes = {NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN,
                                                        NFT_MSG_NEWRULE, NFT_MSG_NEWGEN};

int OnMessage(const nlmsghdr* message, void* data) {
  auto& ruleset = *static_cast<NftRuleset*>(data);
  switch (message->nlmsg_type & 0xff) {
    case NFT_MSG_NEWTABLE:
      if (auto table = ParseTableMessage(message)) ruleset.tables.push_back(*table);
      break;
    case NFT_MSG_NEWCHAIN:
      if (auto chain = ParseChainMessage(message)) ruleset.chains.push_back(*chain);
      break;
    case NFT_MSG_NEWRULE:
      if (auto rule = ParseRuleMessage(message)) ruleset.rules.push_back(*rule);
      break;
    default:
      if (auto generation = ParseGenerationMessage(message)) ruleset.generation = *generation;
      break;
  }
  return MNL_CB_OK;
}

dind::rules::MasqueradeSpec Spec() {
  dind::rules::MasqueradeSpec spec;
  spec.sources = {dind::Cidr::Parse("172.17.0.0/16").value(),
                  dind::Cidr::Parse("10.1.2.0/23").value(),
                  dind::Cidr::Parse("fd00:dead:beef::/64").value()};
  spec.out_interface = "eth0";
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Receive buffers are aligned; libmnl's walk relies on it.
  std::vector<std::uint32_t> aligned((size + 3) / 4);
  if (size > 0) std::memcpy(aligned.data(), data, size);
  auto* bytes = reinterpret_cast<char*>(aligned.data());
  // The socket refuses other buffers before libmnl walks them (NftSocket::Request, Commit).
  if (!WellFormedMessages(bytes, size)) return 0;
  // A batch's ACKs are read first; then other types are steered to one a dump answers with,
  // so no run is wasted on them.
  int remaining = static_cast<int>(size);
  for (auto* header = reinterpret_cast<nlmsghdr*>(bytes); mnl_nlmsg_ok(header, remaining);
       header = mnl_nlmsg_next(header, &remaining)) {
    if (auto ack = ParseAck(header)) {
      Require(ack->errnum >= 0 && ack->seq == header->nlmsg_seq);
      Require(ack->kernel_message.find('\0') == std::string::npos);
    }
    const bool dumped = (header->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES &&
                        std::find(kMessageTypes.begin(), kMessageTypes.end(),
                                  header->nlmsg_type & 0xff) != kMessageTypes.end();
    if (!dumped) {
      header->nlmsg_type = static_cast<std::uint16_t>(
          (NFNL_SUBSYS_NFTABLES << 8) | kMessageTypes[header->nlmsg_type % kMessageTypes.size()]);
    }
  }
  NftRuleset ruleset;
  (void)mnl_cb_run(bytes, size, 0, 0, OnMessage, &ruleset);

  for (const NftRuleRecord& rule : ruleset.rules) {
    if (!rule.masquerade_match) continue;
    const auto& match = *rule.masquerade_match;
    Require(match.out_interface.size() < 16);
    Require(match.source.prefix_length() <= match.source.network().max_prefix());
    const NftRuleRecord rebuilt = ParseRule(BuildMasqueradeRule(match).get());
    Require(rebuilt.masquerade_match == rule.masquerade_match);
  }

  (void)Summarize(ruleset);
  if (auto plan = PlanApply(Spec(), ruleset)) {
    for (const NftOp& op : *plan) (void)Describe(op);
    Require(!BuildBatch(*plan, 1, ruleset.generation).bytes.empty());
  }
  (void)BuildBatch(PlanRemove(ruleset), 1, ruleset.generation);
  return 0;
}

// SPDX-License-Identifier: Apache-2.0
#include "rules/nft/nft_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>

namespace dind::rules::nft {
namespace {

// Large enough for any single message we build (a rule is ~300 bytes).
constexpr std::size_t kMessageBufferSize = 8192;
using MessageBuffer = std::array<char, kMessageBufferSize>;

const std::string kTableName(kNftTable);
const std::string kChainName(kNftChain);

constexpr std::uint32_t kIpv4SaddrOffset = 12;  // in struct iphdr
constexpr std::uint32_t kIpv6SaddrOffset = 8;   // in struct ipv6hdr
constexpr std::uint32_t kIpv4DaddrOffset = 16;
constexpr std::uint32_t kIpv6DaddrOffset = 24;
constexpr std::uint32_t kTcpFlagsOffset = 13;  // in struct tcphdr
constexpr std::uint8_t kTcpFlagSyn = 0x02;
constexpr std::uint8_t kTcpFlagRst = 0x04;
constexpr std::uint8_t kTcpOptionMaxseg = 2;    // TCPOPT_MAXSEG: kind 2, length 4
constexpr std::uint32_t kMaxsegSizeOffset = 2;  // the 16-bit size after kind and length
constexpr std::uint32_t kMaxsegSizeLength = 2;

std::uint32_t SaddrOffset(Family family) {
  return family == Family::kIPv4 ? kIpv4SaddrOffset : kIpv6SaddrOffset;
}
std::uint32_t DaddrOffset(Family family) {
  return family == Family::kIPv4 ? kIpv4DaddrOffset : kIpv6DaddrOffset;
}
std::uint32_t AddressLength(Family family) {
  return family == Family::kIPv4 ? 4 : 16;
}

void AppendMessage(const nlmsghdr* message, std::vector<char>& out) {
  const char* begin = reinterpret_cast<const char*>(message);
  out.insert(out.end(), begin, begin + NLMSG_ALIGN(message->nlmsg_len));
}

std::uint16_t Flags(int flags) {
  return static_cast<std::uint16_t>(flags);
}
std::uint16_t FamilyArg(std::uint32_t nfproto) {
  return static_cast<std::uint16_t>(nfproto);
}

nftnl_expr* NewExpr(const char* name) {
  nftnl_expr* expr = nftnl_expr_alloc(name);
  if (expr == nullptr) std::abort();  // allocation failure; nothing sensible to return
  return expr;
}

void AddRegisterCompare(nftnl_rule* rule, const void* data, std::uint32_t length) {
  nftnl_expr* cmp = NewExpr("cmp");
  nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  nftnl_expr_set(cmp, NFTNL_EXPR_CMP_DATA, data, length);
  nftnl_rule_add_expr(rule, cmp);
}

// The bytes of an expression attribute, empty when unset.
std::string_view ExprData(const nftnl_expr* expr, std::uint16_t attr) {
  if (!nftnl_expr_is_set(expr, attr)) return {};
  std::uint32_t length = 0;
  const void* data = nftnl_expr_get(expr, attr, &length);
  return data == nullptr ? std::string_view{}
                         : std::string_view(static_cast<const char*>(data), length);
}

bool Named(const nftnl_expr* expr, std::string_view name) {
  const char* expr_name = nftnl_expr_get_str(expr, NFTNL_EXPR_NAME);
  return expr_name != nullptr && name == expr_name;
}

std::uint32_t U32Or(const nftnl_expr* expr, std::uint16_t attr, std::uint32_t fallback) {
  return nftnl_expr_is_set(expr, attr) ? nftnl_expr_get_u32(expr, attr) : fallback;
}

// Leading one bits of `mask`, or -1 when the mask is not a prefix mask.
int PrefixLengthOfMask(std::string_view mask) {
  int length = 0;
  bool seen_zero = false;
  for (unsigned char byte : mask) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool one = (byte >> bit) & 1u;
      if (one && seen_zero) return -1;
      if (one) ++length;
      if (!one) seen_zero = true;
    }
  }
  return length;
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// A strict reader over a rule's expressions: take(name) returns the next one if it has that name.
class ExprCursor {
 public:
  explicit ExprCursor(const std::vector<const nftnl_expr*>& exprs) : exprs_(exprs) {}
  const nftnl_expr* take(std::string_view name) {
    if (at_ < exprs_.size() && Named(exprs_[at_], name)) return exprs_[at_++];
    return nullptr;
  }
  bool done() const { return at_ == exprs_.size(); }

 private:
  const std::vector<const nftnl_expr*>& exprs_;
  std::size_t at_ = 0;
};

// `payload [bitwise] cmp` loading the address at `offset` of the network header and comparing
// it with a prefix, as AddAddressPrefix writes it; nullopt for anything else.
std::optional<Cidr> TakeAddressPrefix(Family family, std::uint32_t offset, ExprCursor& cursor) {
  const nftnl_expr* payload = cursor.take("payload");
  if (payload == nullptr ||
      U32Or(payload, NFTNL_EXPR_PAYLOAD_BASE, ~0u) != NFT_PAYLOAD_NETWORK_HEADER ||
      U32Or(payload, NFTNL_EXPR_PAYLOAD_OFFSET, ~0u) != offset ||
      !nftnl_expr_is_set(payload, NFTNL_EXPR_PAYLOAD_DREG)) {
    return std::nullopt;
  }
  const std::uint32_t length = U32Or(payload, NFTNL_EXPR_PAYLOAD_LEN, 0);
  const std::uint32_t address_register = nftnl_expr_get_u32(payload, NFTNL_EXPR_PAYLOAD_DREG);
  if (length == 0 || length > AddressLength(family)) return std::nullopt;

  int prefix_length = static_cast<int>(length * 8);
  std::string_view mask;
  if (const nftnl_expr* bitwise = cursor.take("bitwise")) {
    mask = ExprData(bitwise, NFTNL_EXPR_BITWISE_MASK);
    if (U32Or(bitwise, NFTNL_EXPR_BITWISE_SREG, ~0u) != address_register ||
        U32Or(bitwise, NFTNL_EXPR_BITWISE_DREG, ~0u) != address_register ||
        U32Or(bitwise, NFTNL_EXPR_BITWISE_OP, NFT_BITWISE_BOOL) != NFT_BITWISE_BOOL ||
        mask.size() != length || !AllZero(ExprData(bitwise, NFTNL_EXPR_BITWISE_XOR)) ||
        ExprData(bitwise, NFTNL_EXPR_BITWISE_XOR).size() != length) {
      return std::nullopt;
    }
    prefix_length = PrefixLengthOfMask(mask);
    if (prefix_length < 0) return std::nullopt;
  }
  const nftnl_expr* address_cmp = cursor.take("cmp");
  if (address_cmp == nullptr || U32Or(address_cmp, NFTNL_EXPR_CMP_SREG, ~0u) != address_register ||
      U32Or(address_cmp, NFTNL_EXPR_CMP_OP, ~0u) != NFT_CMP_EQ) {
    return std::nullopt;
  }
  const std::string_view address_bytes = ExprData(address_cmp, NFTNL_EXPR_CMP_DATA);
  if (address_bytes.size() != length) return std::nullopt;
  // A compare value with bits outside the mask never matches anything: not a prefix match.
  for (std::size_t i = 0; i < mask.size(); ++i) {
    if ((address_bytes[i] & ~mask[i]) != 0) return std::nullopt;
  }
  std::array<std::uint8_t, 16> address{};
  std::memcpy(address.data(), address_bytes.data(), address_bytes.size());
  return Cidr::Of(IpAddress::FromBytes(family, address.data()), prefix_length);
}

// Walks `payload [bitwise] cmp meta(oifname) cmp counter masq` strictly; anything else is not
// one of our rules (and Apply replaces it).
std::optional<MasqueradeMatch> MatchOurShape(Family family,
                                             const std::vector<const nftnl_expr*>& exprs) {
  ExprCursor cursor(exprs);
  const std::optional<Cidr> source = TakeAddressPrefix(family, SaddrOffset(family), cursor);
  if (!source) return std::nullopt;

  const nftnl_expr* meta = cursor.take("meta");
  if (meta == nullptr || U32Or(meta, NFTNL_EXPR_META_KEY, ~0u) != NFT_META_OIFNAME ||
      !nftnl_expr_is_set(meta, NFTNL_EXPR_META_DREG)) {
    return std::nullopt;
  }
  const nftnl_expr* name_cmp = cursor.take("cmp");
  if (name_cmp == nullptr ||
      U32Or(name_cmp, NFTNL_EXPR_CMP_SREG, ~0u) != nftnl_expr_get_u32(meta, NFTNL_EXPR_META_DREG) ||
      U32Or(name_cmp, NFTNL_EXPR_CMP_OP, ~0u) != NFT_CMP_EQ) {
    return std::nullopt;
  }
  // An exact name is NUL-terminated within the compared bytes; "eth*" wildcards are not.
  const std::string_view name_bytes = ExprData(name_cmp, NFTNL_EXPR_CMP_DATA);
  const std::size_t nul = name_bytes.find('\0');
  if (name_bytes.size() > IFNAMSIZ || nul == std::string_view::npos || nul == 0 ||
      !AllZero(name_bytes.substr(nul))) {
    return std::nullopt;
  }
  const nftnl_expr* masq = nullptr;
  if (cursor.take("counter") == nullptr || (masq = cursor.take("masq")) == nullptr ||
      !cursor.done() || U32Or(masq, NFTNL_EXPR_MASQ_FLAGS, 0) != 0 ||
      nftnl_expr_is_set(masq, NFTNL_EXPR_MASQ_REG_PROTO_MIN)) {
    return std::nullopt;
  }
  return MasqueradeMatch{*source, std::string(name_bytes.substr(0, nul))};
}

// `cmp <op> reg <register> <bytes>`.
bool IsCompare(const nftnl_expr* cmp, std::uint32_t reg, std::uint32_t op, std::string_view data) {
  return cmp != nullptr && U32Or(cmp, NFTNL_EXPR_CMP_SREG, ~0u) == reg &&
         U32Or(cmp, NFTNL_EXPR_CMP_OP, ~0u) == op && ExprData(cmp, NFTNL_EXPR_CMP_DATA) == data;
}

// `exthdr` on the TCP maxseg option's size, loading into or writing from `reg`.
bool IsMaxsegSize(const nftnl_expr* exthdr, std::uint16_t reg_attr, std::uint32_t reg) {
  const std::uint16_t other_reg_attr =
      reg_attr == NFTNL_EXPR_EXTHDR_DREG ? NFTNL_EXPR_EXTHDR_SREG : NFTNL_EXPR_EXTHDR_DREG;
  return exthdr != nullptr && U32Or(exthdr, reg_attr, ~0u) == reg &&
         !nftnl_expr_is_set(exthdr, other_reg_attr) &&
         nftnl_expr_is_set(exthdr, NFTNL_EXPR_EXTHDR_TYPE) &&
         nftnl_expr_get_u8(exthdr, NFTNL_EXPR_EXTHDR_TYPE) == kTcpOptionMaxseg &&
         U32Or(exthdr, NFTNL_EXPR_EXTHDR_OFFSET, ~0u) == kMaxsegSizeOffset &&
         U32Or(exthdr, NFTNL_EXPR_EXTHDR_LEN, ~0u) == kMaxsegSizeLength &&
         U32Or(exthdr, NFTNL_EXPR_EXTHDR_OP, ~0u) == NFT_EXTHDR_OP_TCPOPT &&
         U32Or(exthdr, NFTNL_EXPR_EXTHDR_FLAGS, 0) == 0;
}

// Walks the clamp rule BuildClampRule writes, strictly; nullopt for anything else.
std::optional<ClampMatch> MatchClampShape(Family family,
                                          const std::vector<const nftnl_expr*>& exprs) {
  for (ClampDirection direction : {ClampDirection::kFromNetwork, ClampDirection::kToNetwork}) {
    ExprCursor cursor(exprs);
    const std::uint32_t offset =
        direction == ClampDirection::kFromNetwork ? SaddrOffset(family) : DaddrOffset(family);
    const std::optional<Cidr> network = TakeAddressPrefix(family, offset, cursor);
    if (!network) continue;

    const nftnl_expr* l4proto = cursor.take("meta");
    const char tcp = IPPROTO_TCP;
    if (l4proto == nullptr || U32Or(l4proto, NFTNL_EXPR_META_KEY, ~0u) != NFT_META_L4PROTO ||
        !nftnl_expr_is_set(l4proto, NFTNL_EXPR_META_DREG)) {
      return std::nullopt;
    }
    const std::uint32_t reg = nftnl_expr_get_u32(l4proto, NFTNL_EXPR_META_DREG);
    if (!IsCompare(cursor.take("cmp"), reg, NFT_CMP_EQ, std::string_view(&tcp, 1))) {
      return std::nullopt;
    }

    const nftnl_expr* flags = cursor.take("payload");
    if (flags == nullptr ||
        U32Or(flags, NFTNL_EXPR_PAYLOAD_BASE, ~0u) != NFT_PAYLOAD_TRANSPORT_HEADER ||
        U32Or(flags, NFTNL_EXPR_PAYLOAD_OFFSET, ~0u) != kTcpFlagsOffset ||
        U32Or(flags, NFTNL_EXPR_PAYLOAD_LEN, ~0u) != 1 ||
        U32Or(flags, NFTNL_EXPR_PAYLOAD_DREG, ~0u) != reg) {
      return std::nullopt;
    }
    const nftnl_expr* bitwise = cursor.take("bitwise");
    const char mask = static_cast<char>(kTcpFlagSyn | kTcpFlagRst);
    const char zero = 0;
    if (bitwise == nullptr || U32Or(bitwise, NFTNL_EXPR_BITWISE_SREG, ~0u) != reg ||
        U32Or(bitwise, NFTNL_EXPR_BITWISE_DREG, ~0u) != reg ||
        U32Or(bitwise, NFTNL_EXPR_BITWISE_OP, NFT_BITWISE_BOOL) != NFT_BITWISE_BOOL ||
        ExprData(bitwise, NFTNL_EXPR_BITWISE_MASK) != std::string_view(&mask, 1) ||
        ExprData(bitwise, NFTNL_EXPR_BITWISE_XOR) != std::string_view(&zero, 1)) {
      return std::nullopt;
    }
    const char syn = static_cast<char>(kTcpFlagSyn);
    if (!IsCompare(cursor.take("cmp"), reg, NFT_CMP_EQ, std::string_view(&syn, 1))) {
      return std::nullopt;
    }

    if (!IsMaxsegSize(cursor.take("exthdr"), NFTNL_EXPR_EXTHDR_DREG, reg)) return std::nullopt;
    const nftnl_expr* above = cursor.take("cmp");
    const std::string_view mss_bytes =
        above == nullptr ? std::string_view{} : ExprData(above, NFTNL_EXPR_CMP_DATA);
    if (mss_bytes.size() != sizeof(std::uint16_t) ||
        !IsCompare(above, reg, NFT_CMP_GT, mss_bytes)) {
      return std::nullopt;
    }
    const nftnl_expr* immediate = cursor.take("immediate");
    if (immediate == nullptr || U32Or(immediate, NFTNL_EXPR_IMM_DREG, ~0u) != reg ||
        ExprData(immediate, NFTNL_EXPR_IMM_DATA) != mss_bytes ||
        !IsMaxsegSize(cursor.take("exthdr"), NFTNL_EXPR_EXTHDR_SREG, reg) ||
        cursor.take("counter") == nullptr || !cursor.done()) {
      return std::nullopt;
    }
    std::uint16_t mss_network = 0;
    std::memcpy(&mss_network, mss_bytes.data(), sizeof(mss_network));
    const std::uint16_t mss = ntohs(mss_network);
    if (mss < kMinimumRuleMss || mss > kMaximumRuleMss) return std::nullopt;
    return ClampMatch{*network, direction, mss};
  }
  return std::nullopt;
}

void StartBatchMessage(char* buffer, std::uint16_t type, std::uint32_t seq,
                       std::uint32_t generation) {
  nlmsghdr* message = mnl_nlmsg_put_header(buffer);
  message->nlmsg_type = type;
  message->nlmsg_flags = NLM_F_REQUEST;
  message->nlmsg_seq = seq;
  auto* header = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(message, sizeof(nfgenmsg)));
  header->nfgen_family = AF_UNSPEC;
  header->version = NFNETLINK_V0;
  header->res_id = htons(NFNL_SUBSYS_NFTABLES);
  if (generation != 0) mnl_attr_put_u32(message, NFNL_BATCH_GENID, htonl(generation));
}

void AppendOp(const NftOp& op, std::uint32_t seq, std::vector<char>& out) {
  MessageBuffer buffer{};
  nlmsghdr* message = nullptr;
  if (const auto* add_table = std::get_if<AddTable>(&op)) {
    UniqueTable table = BuildTable(add_table->family);
    message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_NEWTABLE,
                                    FamilyArg(NfprotoOf(add_table->family)),
                                    Flags(NLM_F_CREATE | NLM_F_ACK), seq);
    nftnl_table_nlmsg_build_payload(message, table.get());
  } else if (const auto* add_chain = std::get_if<AddChain>(&op)) {
    UniqueChain chain = BuildBaseChain(add_chain->family, add_chain->chain);
    message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_NEWCHAIN,
                                    FamilyArg(NfprotoOf(add_chain->family)),
                                    Flags(NLM_F_CREATE | NLM_F_ACK), seq);
    nftnl_chain_nlmsg_build_payload(message, chain.get());
  } else if (const auto* add_rule = std::get_if<AddRule>(&op)) {
    UniqueRule rule = BuildMasqueradeRule(add_rule->match);
    message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_NEWRULE,
                                    FamilyArg(NfprotoOf(add_rule->match.source.family())),
                                    Flags(NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK), seq);
    nftnl_rule_nlmsg_build_payload(message, rule.get());
  } else if (const auto* add_clamp = std::get_if<AddClampRule>(&op)) {
    UniqueRule rule = BuildClampRule(add_clamp->match);
    message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_NEWRULE,
                                    FamilyArg(NfprotoOf(add_clamp->match.network.family())),
                                    Flags(NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK), seq);
    nftnl_rule_nlmsg_build_payload(message, rule.get());
  } else if (const auto* delete_rule = std::get_if<DeleteRule>(&op)) {
    const std::string chain_name(ChainName(delete_rule->chain));
    UniqueRule rule(nftnl_rule_alloc());
    nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, NfprotoOf(delete_rule->family));
    nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, kTableName.c_str());
    nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
    nftnl_rule_set_u64(rule.get(), NFTNL_RULE_HANDLE, delete_rule->handle);
    message =
        nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_DELRULE,
                              FamilyArg(NfprotoOf(delete_rule->family)), Flags(NLM_F_ACK), seq);
    nftnl_rule_nlmsg_build_payload(message, rule.get());
  } else if (const auto* delete_chain = std::get_if<DeleteChain>(&op)) {
    const std::string chain_name(ChainName(delete_chain->chain));
    UniqueChain chain(nftnl_chain_alloc());
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, NfprotoOf(delete_chain->family));
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, kTableName.c_str());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, chain_name.c_str());
    message =
        nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_DELCHAIN,
                              FamilyArg(NfprotoOf(delete_chain->family)), Flags(NLM_F_ACK), seq);
    nftnl_chain_nlmsg_build_payload(message, chain.get());
  } else if (const auto* delete_table = std::get_if<DeleteTable>(&op)) {
    UniqueTable table = BuildTable(delete_table->family);
    message =
        nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_DELTABLE,
                              FamilyArg(NfprotoOf(delete_table->family)), Flags(NLM_F_ACK), seq);
    nftnl_table_nlmsg_build_payload(message, table.get());
  }
  AppendMessage(message, out);
}

int OnExtAckAttribute(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) >= 0) {
    *static_cast<std::string*>(data) = mnl_attr_get_str(attribute);
  }
  return MNL_CB_OK;
}

}  // namespace

void NftnlDeleter::operator()(nftnl_table* table) const {
  nftnl_table_free(table);
}
void NftnlDeleter::operator()(nftnl_chain* chain) const {
  nftnl_chain_free(chain);
}
void NftnlDeleter::operator()(nftnl_rule* rule) const {
  nftnl_rule_free(rule);
}

UniqueTable BuildTable(Family family) {
  UniqueTable table(nftnl_table_alloc());
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FAMILY, NfprotoOf(family));
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, kTableName.c_str());
  return table;
}

UniqueChain BuildBaseChain(Family family, OurChain which) {
  const bool postrouting = which == OurChain::kPostrouting;
  const std::string name(ChainName(which));
  UniqueChain chain(nftnl_chain_alloc());
  nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, NfprotoOf(family));
  nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, kTableName.c_str());
  nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, name.c_str());
  nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TYPE, postrouting ? "nat" : "filter");
  nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_HOOKNUM,
                      postrouting ? NF_INET_POST_ROUTING : NF_INET_FORWARD);
  nftnl_chain_set_s32(chain.get(), NFTNL_CHAIN_PRIO, postrouting ? 100 : -150);  // srcnat, mangle
  nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  return chain;
}

namespace {
// Byte-aligned prefixes load only the prefix bytes, others load the whole address through a
// bitwise mask, as nft does.
void AddAddressPrefix(nftnl_rule* r, const Cidr& cidr, std::uint32_t offset) {
  const Family family = cidr.family();
  const int prefix_length = cidr.prefix_length();
  const bool byte_aligned = prefix_length > 0 && prefix_length % 8 == 0;
  const std::uint32_t load_length =
      byte_aligned ? static_cast<std::uint32_t>(prefix_length / 8) : AddressLength(family);

  nftnl_expr* payload = NewExpr("payload");
  nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
  nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_LEN, load_length);
  nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, payload);

  if (!byte_aligned) {
    std::array<std::uint8_t, 16> mask{};
    for (int bit = 0; bit < prefix_length; ++bit) {
      mask[bit / 8] = static_cast<std::uint8_t>(mask[bit / 8] | (0x80u >> (bit % 8)));
    }
    const std::array<std::uint8_t, 16> zeros{};
    nftnl_expr* bitwise = NewExpr("bitwise");
    nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_LEN, load_length);
    nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_MASK, mask.data(), load_length);
    nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_XOR, zeros.data(), load_length);
    nftnl_rule_add_expr(r, bitwise);
  }
  AddRegisterCompare(r, cidr.network().bytes().data(), load_length);
}

// The exthdr expression of the TCP maxseg option's 16-bit size, loading (dreg) or writing
// (sreg) register 1.
nftnl_expr* NewMaxsegSize(std::uint16_t reg_attr) {
  nftnl_expr* exthdr = NewExpr("exthdr");
  nftnl_expr_set_u32(exthdr, reg_attr, NFT_REG_1);
  nftnl_expr_set_u8(exthdr, NFTNL_EXPR_EXTHDR_TYPE, kTcpOptionMaxseg);
  nftnl_expr_set_u32(exthdr, NFTNL_EXPR_EXTHDR_OFFSET, kMaxsegSizeOffset);
  nftnl_expr_set_u32(exthdr, NFTNL_EXPR_EXTHDR_LEN, kMaxsegSizeLength);
  nftnl_expr_set_u32(exthdr, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
  return exthdr;
}
}  // namespace

UniqueRule BuildClampRule(const ClampMatch& match) {
  const Family family = match.network.family();
  const std::string chain_name(kNftClampChain);
  UniqueRule rule(nftnl_rule_alloc());
  nftnl_rule* r = rule.get();
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NfprotoOf(family));
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kTableName.c_str());
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain_name.c_str());

  AddAddressPrefix(
      r, match.network,
      match.direction == ClampDirection::kFromNetwork ? SaddrOffset(family) : DaddrOffset(family));
  // meta l4proto tcp: nft's dependency for the tcp header in both ip and ip6 tables.
  nftnl_expr* l4proto = NewExpr("meta");
  nftnl_expr_set_u32(l4proto, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
  nftnl_expr_set_u32(l4proto, NFTNL_EXPR_META_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, l4proto);
  const std::uint8_t tcp = IPPROTO_TCP;
  AddRegisterCompare(r, &tcp, 1);

  // tcp flags & (syn|rst) == syn
  nftnl_expr* flags = NewExpr("payload");
  nftnl_expr_set_u32(flags, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
  nftnl_expr_set_u32(flags, NFTNL_EXPR_PAYLOAD_OFFSET, kTcpFlagsOffset);
  nftnl_expr_set_u32(flags, NFTNL_EXPR_PAYLOAD_LEN, 1);
  nftnl_expr_set_u32(flags, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, flags);
  const std::uint8_t mask = kTcpFlagSyn | kTcpFlagRst;
  const std::uint8_t zero = 0;
  nftnl_expr* bitwise = NewExpr("bitwise");
  nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_LEN, 1);
  nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
  nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
  nftnl_rule_add_expr(r, bitwise);
  const std::uint8_t syn = kTcpFlagSyn;
  AddRegisterCompare(r, &syn, 1);

  // tcp option maxseg size > MSS, then set MSS: the size is big-endian on the wire.
  const std::uint16_t mss = htons(match.mss);
  nftnl_rule_add_expr(r, NewMaxsegSize(NFTNL_EXPR_EXTHDR_DREG));
  nftnl_expr* above = NewExpr("cmp");
  nftnl_expr_set_u32(above, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(above, NFTNL_EXPR_CMP_OP, NFT_CMP_GT);
  nftnl_expr_set(above, NFTNL_EXPR_CMP_DATA, &mss, sizeof(mss));
  nftnl_rule_add_expr(r, above);
  nftnl_expr* immediate = NewExpr("immediate");
  nftnl_expr_set_u32(immediate, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
  nftnl_expr_set(immediate, NFTNL_EXPR_IMM_DATA, &mss, sizeof(mss));
  nftnl_rule_add_expr(r, immediate);
  nftnl_rule_add_expr(r, NewMaxsegSize(NFTNL_EXPR_EXTHDR_SREG));

  nftnl_rule_add_expr(r, NewExpr("counter"));
  return rule;
}

UniqueRule BuildMasqueradeRule(const MasqueradeMatch& match) {
  const Family family = match.source.family();
  UniqueRule rule(nftnl_rule_alloc());
  nftnl_rule* r = rule.get();
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NfprotoOf(family));
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kTableName.c_str());
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, kChainName.c_str());

  AddAddressPrefix(r, match.source, SaddrOffset(family));

  nftnl_expr* meta = NewExpr("meta");
  nftnl_expr_set_u32(meta, NFTNL_EXPR_META_KEY, NFT_META_OIFNAME);
  nftnl_expr_set_u32(meta, NFTNL_EXPR_META_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, meta);
  std::array<char, IFNAMSIZ> name{};  // NUL-padded: an exact match, as nft does
  std::memcpy(name.data(), match.out_interface.data(),
              std::min(match.out_interface.size(), name.size() - 1));
  AddRegisterCompare(r, name.data(), IFNAMSIZ);

  nftnl_rule_add_expr(r, NewExpr("counter"));
  nftnl_rule_add_expr(r, NewExpr("masq"));
  return rule;
}

NftTableRecord ParseTable(const nftnl_table* table) {
  NftTableRecord record;
  record.family = nftnl_table_get_u32(table, NFTNL_TABLE_FAMILY);
  if (const char* name = nftnl_table_get_str(table, NFTNL_TABLE_NAME)) record.name = name;
  return record;
}

NftChainRecord ParseChain(const nftnl_chain* chain) {
  NftChainRecord record;
  record.family = nftnl_chain_get_u32(chain, NFTNL_CHAIN_FAMILY);
  if (const char* table = nftnl_chain_get_str(chain, NFTNL_CHAIN_TABLE)) record.table = table;
  if (const char* name = nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME)) record.name = name;
  record.is_base = nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM);
  if (record.is_base) {
    record.hook = nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM);
    record.priority = nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO);
    if (const char* type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE)) record.type = type;
    record.policy = nftnl_chain_is_set(chain, NFTNL_CHAIN_POLICY)
                        ? nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY)
                        : NF_ACCEPT;
  }
  return record;
}

// nftnl_rule_get_u32/u64 exit() the process when the attribute has another length ("kernel
// ABI is broken"); a malformed message must be an ordinary value instead (found by nft_fuzz).
template <typename T>
T RuleNumber(const nftnl_rule* rule, std::uint16_t attribute) {
  std::uint32_t length = 0;
  const void* data = nftnl_rule_get_data(rule, attribute, &length);
  T value{};
  if (data != nullptr && length == sizeof(T)) std::memcpy(&value, data, sizeof(T));
  return value;
}

NftRuleRecord ParseRule(const nftnl_rule* rule) {
  NftRuleRecord record;
  record.family = RuleNumber<std::uint32_t>(rule, NFTNL_RULE_FAMILY);
  if (const char* table = nftnl_rule_get_str(rule, NFTNL_RULE_TABLE)) record.table = table;
  if (const char* chain = nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN)) record.chain = chain;
  if (nftnl_rule_is_set(rule, NFTNL_RULE_HANDLE)) {
    record.handle = RuleNumber<std::uint64_t>(rule, NFTNL_RULE_HANDLE);
  }

  std::vector<const nftnl_expr*> exprs;
  nftnl_expr_iter* iter = nftnl_expr_iter_create(rule);
  if (iter == nullptr) std::abort();
  while (nftnl_expr* expr = nftnl_expr_iter_next(iter)) exprs.push_back(expr);
  nftnl_expr_iter_destroy(iter);

  bool counted = false;
  for (const nftnl_expr* expr : exprs) {
    if (Named(expr, "masq")) record.has_masquerade = true;
    if (Named(expr, "masq") || Named(expr, "nat") || Named(expr, "redir")) {
      record.has_nat_statement = true;
    }
    if (Named(expr, "counter") && !counted) {
      counted = true;
      record.packets = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_PACKETS);
      record.bytes = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_BYTES);
    }
  }
  if (record.family == kNfprotoIpv4) {
    record.masquerade_match = MatchOurShape(Family::kIPv4, exprs);
    record.clamp_match = MatchClampShape(Family::kIPv4, exprs);
  } else if (record.family == kNfprotoIpv6) {
    record.masquerade_match = MatchOurShape(Family::kIPv6, exprs);
    record.clamp_match = MatchClampShape(Family::kIPv6, exprs);
  }
  return record;
}

Result<NftTableRecord> ParseTableMessage(const nlmsghdr* message) {
  UniqueTable table(nftnl_table_alloc());
  if (nftnl_table_nlmsg_parse(message, table.get()) < 0) {
    return Error::FromErrno("parsing an nf_tables table message from the kernel");
  }
  return ParseTable(table.get());
}

Result<NftChainRecord> ParseChainMessage(const nlmsghdr* message) {
  UniqueChain chain(nftnl_chain_alloc());
  if (nftnl_chain_nlmsg_parse(message, chain.get()) < 0) {
    return Error::FromErrno("parsing an nf_tables chain message from the kernel");
  }
  return ParseChain(chain.get());
}

namespace {
// Calls `visit` on each attribute in [begin, begin + length); false when one does not fit or
// `visit` refuses it. Trailing bytes shorter than an attribute header are padding, as for libmnl.
template <typename Visit>
bool ForEachAttribute(const void* begin, int length, Visit visit) {
  const auto* cursor = static_cast<const char*>(begin);
  while (length >= static_cast<int>(sizeof(nlattr))) {
    const auto* attribute = reinterpret_cast<const nlattr*>(cursor);
    if (!mnl_attr_ok(attribute, length) || !visit(attribute)) return false;
    const int step = static_cast<int>(MNL_ALIGN(attribute->nla_len));
    cursor += step;
    length -= step;
  }
  return true;
}

template <typename Visit>
bool ForEachNested(const nlattr* nest, Visit visit) {
  return ForEachAttribute(mnl_attr_get_payload(nest),
                          static_cast<int>(mnl_attr_get_payload_len(nest)), visit);
}

bool IsTerminatedString(const nlattr* attribute) {
  return mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) >= 0;
}

// libnftnl trusts the kernel's rule messages: the table, chain and expression names it copies
// and compares must be NUL-terminated and every expression nest must fit (a malformed name makes
// nftnl_expr_alloc read past it). The kernel always sends them so; this keeps a malformed
// message an error instead of a crash.
bool RuleMessageIsWellFormed(const nlmsghdr* message) {
  if (message->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return false;
  const auto* payload =
      static_cast<const char*>(mnl_nlmsg_get_payload_offset(message, sizeof(nfgenmsg)));
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(message));
  const auto expression_fits = [](const nlattr* expression) {
    return ForEachNested(expression, [](const nlattr* attribute) {
      return mnl_attr_get_type(attribute) != NFTA_EXPR_NAME || IsTerminatedString(attribute);
    });
  };
  return ForEachAttribute(payload, static_cast<int>(tail - payload), [&](const nlattr* attribute) {
    switch (mnl_attr_get_type(attribute)) {
      case NFTA_RULE_TABLE:
      case NFTA_RULE_CHAIN:
        return IsTerminatedString(attribute);
      case NFTA_RULE_EXPRESSIONS:
        return ForEachNested(attribute, expression_fits);
      default:
        return true;
    }
  });
}
}  // namespace

Result<NftRuleRecord> ParseRuleMessage(const nlmsghdr* message) {
  if (!RuleMessageIsWellFormed(message)) {
    return Error::Environment(
        "parsing an nf_tables rule message from the kernel: malformed "
        "(a name is not NUL-terminated or an expression does not fit)",
        EPROTO);
  }
  UniqueRule rule(nftnl_rule_alloc());
  if (nftnl_rule_nlmsg_parse(message, rule.get()) < 0) {
    return Error::FromErrno("parsing an nf_tables rule message from the kernel");
  }
  return ParseRule(rule.get());
}

Result<std::uint32_t> ParseGenerationMessage(const nlmsghdr* message) {
  std::unique_ptr<nftnl_gen, void (*)(const nftnl_gen*)> generation(nftnl_gen_alloc(),
                                                                    nftnl_gen_free);
  if (nftnl_gen_nlmsg_parse(message, generation.get()) < 0 ||
      !nftnl_gen_is_set(generation.get(), NFTNL_GEN_ID)) {
    return Error::Environment("parsing the nf_tables generation reply from the kernel", EINVAL);
  }
  return nftnl_gen_get_u32(generation.get(), NFTNL_GEN_ID);
}

NftBatch BuildBatch(const std::vector<NftOp>& ops, std::uint32_t first_seq,
                    std::uint32_t generation) {
  NftBatch batch;
  std::uint32_t seq = first_seq;
  MessageBuffer buffer{};
  batch.begin_seq = seq++;
  StartBatchMessage(buffer.data(), NFNL_MSG_BATCH_BEGIN, batch.begin_seq, generation);
  AppendMessage(reinterpret_cast<nlmsghdr*>(buffer.data()), batch.bytes);
  for (const NftOp& op : ops) {
    batch.op_seqs.push_back(seq);
    AppendOp(op, seq++, batch.bytes);
  }
  batch.end_seq = seq;
  buffer.fill(0);
  StartBatchMessage(buffer.data(), NFNL_MSG_BATCH_END, batch.end_seq, 0);
  AppendMessage(reinterpret_cast<nlmsghdr*>(buffer.data()), batch.bytes);
  return batch;
}

std::vector<char> BuildDumpRequest(std::uint16_t nft_msg_type, std::uint32_t seq) {
  MessageBuffer buffer{};
  std::vector<char> out;
  AppendMessage(
      nftnl_nlmsg_build_hdr(buffer.data(), nft_msg_type, NFPROTO_UNSPEC, Flags(NLM_F_DUMP), seq),
      out);
  return out;
}

std::vector<char> BuildOurRulesDumpRequest(Family family, std::uint32_t seq) {
  MessageBuffer buffer{};
  nlmsghdr* header = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETRULE,
                                           FamilyArg(NfprotoOf(family)), Flags(NLM_F_DUMP), seq);
  UniqueRule filter(nftnl_rule_alloc());
  nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, std::string(kNftTable).c_str());
  nftnl_rule_nlmsg_build_payload(header, filter.get());
  std::vector<char> out;
  AppendMessage(header, out);
  return out;
}

std::vector<char> BuildGenerationRequest(std::uint32_t seq) {
  MessageBuffer buffer{};
  std::vector<char> out;
  AppendMessage(
      nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETGEN, AF_UNSPEC, Flags(NLM_F_ACK), seq), out);
  return out;
}

bool WellFormedMessages(const void* bytes, std::size_t length) {
  const auto* cursor = static_cast<const char*>(bytes);
  while (length > 0) {
    if (length < sizeof(nlmsghdr)) return false;
    nlmsghdr header;
    std::memcpy(&header, cursor, sizeof(header));
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > length) return false;
    // Messages are padded to 4 bytes; the last one's padding may be left out.
    const std::size_t step = std::min<std::size_t>(MNL_ALIGN(header.nlmsg_len), length);
    cursor += step;
    length -= step;
  }
  return true;
}

std::optional<NetlinkAck> ParseAck(const nlmsghdr* message) {
  if (message->nlmsg_type != NLMSG_ERROR) return std::nullopt;
  const std::size_t length = message->nlmsg_len;
  if (length < mnl_nlmsg_size(sizeof(nlmsgerr))) return std::nullopt;
  const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
  NetlinkAck ack;
  ack.seq = message->nlmsg_seq;
  // The kernel sends -errno; anything else (INT_MIN cannot be negated) is taken as EPROTO.
  ack.errnum =
      error->error > 0 || error->error == std::numeric_limits<int>::min() ? EPROTO : -error->error;
  if ((message->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return ack;
  // The attributes follow the nlmsgerr and, unless capped, the whole request it echoes.
  std::size_t offset = sizeof(nlmsgerr);
  if ((message->nlmsg_flags & NLM_F_CAPPED) == 0) {
    if (error->msg.nlmsg_len < sizeof(nlmsghdr)) return ack;
    offset += error->msg.nlmsg_len - sizeof(nlmsghdr);
  }
  if (offset > length - mnl_nlmsg_size(0)) return ack;
  mnl_attr_parse(message, static_cast<unsigned int>(offset), OnExtAckAttribute,
                 &ack.kernel_message);
  return ack;
}

std::string RuleToString(const nftnl_rule* rule) {
  std::array<char, 4096> text{};
  nftnl_rule_snprintf(text.data(), text.size(), rule, NFTNL_OUTPUT_DEFAULT, 0);
  return text.data();
}

}  // namespace dind::rules::nft

// SPDX-License-Identifier: Apache-2.0
// Builders, parsers, planning and the backend's logic against an in-memory kernel; no root.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "rules/nft/nft_backend.h"
#include "rules/nft/nft_messages.h"
#include "rules/nft/nft_model.h"
#include "rules/nft/nft_watcher.h"
#include "tests/mocks/fake_nft_kernel.h"

namespace dind::rules::nft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Cidr C(const char* text) {
  return *Cidr::Parse(text);
}

// Serialises a rule the way it travels over netlink and parses it back like a dump reply.
NftRuleRecord RoundTrip(nftnl_rule* rule, std::uint16_t family) {
  std::array<char, 8192> buffer{};
  nlmsghdr* message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_NEWRULE, family, 0, 1);
  nftnl_rule_nlmsg_build_payload(message, rule);
  Result<NftRuleRecord> parsed = ParseRuleMessage(message);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : NftRuleRecord{};
}

NftRuleRecord RoundTrip(const MasqueradeMatch& match) {
  UniqueRule rule = BuildMasqueradeRule(match);
  return RoundTrip(rule.get(), static_cast<std::uint16_t>(NfprotoOf(match.source.family())));
}

std::vector<nftnl_expr*> Exprs(nftnl_rule* rule) {
  std::vector<nftnl_expr*> exprs;
  nftnl_expr_iter* iter = nftnl_expr_iter_create(rule);
  while (nftnl_expr* expr = nftnl_expr_iter_next(iter)) exprs.push_back(expr);
  nftnl_expr_iter_destroy(iter);
  return exprs;
}

std::string ExprName(const nftnl_expr* expr) {
  return nftnl_expr_get_str(expr, NFTNL_EXPR_NAME);
}

// ---- Message builders and parsers -------------------------------------------------------------

TEST(NftRuleBuilder, ByteAlignedPrefixLoadsOnlyThePrefixBytesLikeNft) {
  UniqueRule rule = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  const std::string text = RuleToString(rule.get());
  EXPECT_THAT(text, HasSubstr("ip dind-netcfg postrouting"));
  EXPECT_THAT(text, HasSubstr("[ payload load 2b @ network header + 12 => reg 1 ]"));
  EXPECT_THAT(text, HasSubstr("[ cmp eq reg 1 0x0000010a ]"));
  EXPECT_THAT(text, HasSubstr("[ meta load oifname => reg 1 ]"));
  EXPECT_THAT(text, HasSubstr("[ cmp eq reg 1 0x30687465 0x00000000 0x00000000 0x00000000 ]"));
  EXPECT_THAT(text, HasSubstr("[ counter pkts 0 bytes 0 ]"));
  EXPECT_THAT(text, HasSubstr("[ masq ]"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("bitwise")));
}

TEST(NftRuleBuilder, UnalignedPrefixMasksTheWholeAddress) {
  UniqueRule rule = BuildMasqueradeRule({C("10.1.2.0/23"), "eth0"});
  const std::string text = RuleToString(rule.get());
  EXPECT_THAT(text, HasSubstr("[ payload load 4b @ network header + 12 => reg 1 ]"));
  EXPECT_THAT(text, HasSubstr("[ bitwise reg 1 = ( reg 1 & 0x00feffff ) ^ 0x00000000 ]"));
  EXPECT_THAT(text, HasSubstr("[ cmp eq reg 1 0x0002010a ]"));
}

TEST(NftRuleBuilder, Ipv6SourceLoadsFromIpv6SaddrOffset) {
  UniqueRule rule = BuildMasqueradeRule({C("fd00:1::/64"), "uplink0"});
  const std::string text = RuleToString(rule.get());
  EXPECT_THAT(text, HasSubstr("ip6 dind-netcfg postrouting"));
  EXPECT_THAT(text, HasSubstr("[ payload load 8b @ network header + 8 => reg 1 ]"));
  EXPECT_THAT(text, HasSubstr("[ cmp eq reg 1 0x010000fd 0x00000000 ]"));
  std::vector<std::string> names;
  for (nftnl_expr* expr : Exprs(rule.get())) names.push_back(ExprName(expr));
  EXPECT_THAT(names, ElementsAre("payload", "cmp", "meta", "cmp", "counter", "masq"));
}

TEST(NftRuleParser, EveryBuiltRuleParsesBackToItsMatch) {
  for (const char* source :
       {"10.1.0.0/16", "10.1.2.0/23", "0.0.0.0/0", "10.1.2.3/32", "172.16.0.0/12", "fd00:1::/64",
        "fd00::/7", "::/0", "2001:db8::1/128", "2001:db8:8000::/33"}) {
    const MasqueradeMatch match{C(source), "eth0"};
    const NftRuleRecord record = RoundTrip(match);
    ASSERT_TRUE(record.masquerade_match.has_value()) << source;
    EXPECT_EQ(*record.masquerade_match, match) << source;
    EXPECT_EQ(record.table, "dind-netcfg");
    EXPECT_EQ(record.chain, "postrouting");
    EXPECT_TRUE(record.has_masquerade);
    EXPECT_TRUE(record.has_nat_statement);
  }
}

TEST(NftRuleParser, LongestInterfaceNameSurvivesTheRoundTrip) {
  const MasqueradeMatch match{C("10.0.0.0/8"), "abcdefghijklmno"};  // 15 characters
  EXPECT_EQ(RoundTrip(match).masquerade_match, match);
}

TEST(NftRuleParser, ReadsCountersAndHandle) {
  UniqueRule rule = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  nftnl_rule_set_u64(rule.get(), NFTNL_RULE_HANDLE, 42);
  for (nftnl_expr* expr : Exprs(rule.get())) {
    if (ExprName(expr) == "counter") {
      nftnl_expr_set_u64(expr, NFTNL_EXPR_CTR_PACKETS, 7);
      nftnl_expr_set_u64(expr, NFTNL_EXPR_CTR_BYTES, 420);
    }
  }
  const NftRuleRecord record = RoundTrip(rule.get(), NFPROTO_IPV4);
  EXPECT_EQ(record.handle, 42u);
  EXPECT_EQ(record.packets, 7u);
  EXPECT_EQ(record.bytes, 420u);
  EXPECT_TRUE(record.masquerade_match.has_value());
}

TEST(NftRuleParser, WildcardInterfaceIsNotOurShape) {
  UniqueRule rule = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  const std::vector<nftnl_expr*> exprs = Exprs(rule.get());
  nftnl_expr_set(exprs[3], NFTNL_EXPR_CMP_DATA, "eth", 3);  // oifname "eth*"
  const NftRuleRecord record = RoundTrip(rule.get(), NFPROTO_IPV4);
  EXPECT_FALSE(record.masquerade_match.has_value());
  EXPECT_TRUE(record.has_masquerade);
}

TEST(NftRuleParser, RuleWithoutCounterOrWithExtraStatementIsNotOurShape) {
  UniqueRule without_counter = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  nftnl_expr* counter = Exprs(without_counter.get())[4];
  nftnl_rule_del_expr(counter);  // unlinks only: the expression is ours to free
  nftnl_expr_free(counter);
  EXPECT_FALSE(RoundTrip(without_counter.get(), NFPROTO_IPV4).masquerade_match.has_value());

  UniqueRule with_log = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  nftnl_rule_add_expr(with_log.get(), nftnl_expr_alloc("log"));
  EXPECT_FALSE(RoundTrip(with_log.get(), NFPROTO_IPV4).masquerade_match.has_value());
}

TEST(NftRuleParser, NonPrefixMaskIsNotOurShape) {
  UniqueRule rule = BuildMasqueradeRule({C("10.1.2.0/23"), "eth0"});
  const std::array<std::uint8_t, 4> holes{0xff, 0x00, 0xff, 0x00};
  nftnl_expr_set(Exprs(rule.get())[1], NFTNL_EXPR_BITWISE_MASK, holes.data(), 4);
  EXPECT_FALSE(RoundTrip(rule.get(), NFPROTO_IPV4).masquerade_match.has_value());
}

TEST(NftRuleParser, DestinationMatchIsNotOurShape) {
  UniqueRule rule = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  nftnl_expr_set_u32(Exprs(rule.get())[0], NFTNL_EXPR_PAYLOAD_OFFSET, 16);  // ip daddr
  EXPECT_FALSE(RoundTrip(rule.get(), NFPROTO_IPV4).masquerade_match.has_value());
}

TEST(NftChainBuilder, BaseChainIsNatPostroutingSrcnatAccept) {
  UniqueChain chain = BuildBaseChain(Family::kIPv6);
  const NftChainRecord record = ParseChain(chain.get());
  EXPECT_EQ(record.family, kNfprotoIpv6);
  EXPECT_EQ(record.table, "dind-netcfg");
  EXPECT_EQ(record.name, "postrouting");
  EXPECT_TRUE(record.is_base);
  EXPECT_EQ(record.type, "nat");
  EXPECT_EQ(record.hook, static_cast<std::uint32_t>(NF_INET_POST_ROUTING));
  EXPECT_EQ(record.priority, 100);
  EXPECT_TRUE(IsOurBaseChain(record));
  NftChainRecord filter = record;
  filter.type = "filter";
  EXPECT_FALSE(IsOurBaseChain(filter));
}

struct WalkedMessage {
  std::uint16_t type;
  std::uint16_t flags;
  std::uint32_t seq;
  const nlmsghdr* header;
};

std::vector<WalkedMessage> Walk(const std::vector<char>& bytes) {
  std::vector<WalkedMessage> messages;
  int remaining = static_cast<int>(bytes.size());
  for (auto* message = reinterpret_cast<const nlmsghdr*>(bytes.data());
       mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
    messages.push_back({message->nlmsg_type, message->nlmsg_flags, message->nlmsg_seq, message});
  }
  EXPECT_EQ(remaining, 0) << "trailing bytes in batch";
  return messages;
}

std::uint16_t NftType(int msg) {
  return static_cast<std::uint16_t>(NFNL_SUBSYS_NFTABLES << 8 | msg);
}

int OnGenidAttribute(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == NFNL_BATCH_GENID) {
    *static_cast<std::uint32_t*>(data) = ntohl(mnl_attr_get_u32(attribute));
  }
  return MNL_CB_OK;
}

TEST(NftBatchBuilder, WrapsOperationsInBeginAndEndWithAcksAndGeneration) {
  const std::vector<NftOp> ops = {AddTable{Family::kIPv4}, AddChain{Family::kIPv4},
                                  AddRule{{C("10.1.0.0/16"), "eth0"}}, DeleteRule{Family::kIPv4, 9},
                                  DeleteTable{Family::kIPv6}};
  const NftBatch batch = BuildBatch(ops, 100, 77);
  const std::vector<WalkedMessage> messages = Walk(batch.bytes);
  ASSERT_EQ(messages.size(), 7u);

  EXPECT_EQ(messages[0].type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(messages[0].seq, 100u);
  std::uint32_t generation = 0;
  mnl_attr_parse(messages[0].header, sizeof(nfgenmsg), OnGenidAttribute, &generation);
  EXPECT_EQ(generation, 77u);
  EXPECT_EQ(messages[6].type, NFNL_MSG_BATCH_END);
  EXPECT_EQ(batch.begin_seq, 100u);
  EXPECT_EQ(batch.end_seq, 106u);
  EXPECT_THAT(batch.op_seqs, ElementsAre(101u, 102u, 103u, 104u, 105u));

  EXPECT_EQ(messages[1].type, NftType(NFT_MSG_NEWTABLE));
  EXPECT_EQ(messages[2].type, NftType(NFT_MSG_NEWCHAIN));
  EXPECT_EQ(messages[3].type, NftType(NFT_MSG_NEWRULE));
  EXPECT_EQ(messages[4].type, NftType(NFT_MSG_DELRULE));
  EXPECT_EQ(messages[5].type, NftType(NFT_MSG_DELTABLE));
  for (int i = 1; i <= 5; ++i) {
    EXPECT_NE(messages[i].flags & NLM_F_ACK, 0) << i;
    EXPECT_EQ(messages[i].seq, batch.op_seqs[i - 1]);
  }
  // Creating must not fail when the table already exists: no NLM_F_EXCL.
  EXPECT_EQ(messages[1].flags & NLM_F_EXCL, 0);

  Result<NftRuleRecord> added = ParseRuleMessage(messages[3].header);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->masquerade_match, (MasqueradeMatch{C("10.1.0.0/16"), "eth0"}));
  Result<NftRuleRecord> deleted = ParseRuleMessage(messages[4].header);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->handle, 9u);
  EXPECT_EQ(deleted->table, "dind-netcfg");
  Result<NftTableRecord> table = ParseTableMessage(messages[5].header);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->family, kNfprotoIpv6);
  EXPECT_EQ(table->name, "dind-netcfg");
}

TEST(NftBatchBuilder, NoGenerationAttributeWhenGenerationIsUnknown) {
  const NftBatch batch = BuildBatch({AddTable{Family::kIPv4}}, 1, 0);
  const std::vector<WalkedMessage> messages = Walk(batch.bytes);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].header->nlmsg_len, NLMSG_LENGTH(sizeof(nfgenmsg)));
}

TEST(NftDumpRequest, AsksForADumpOfAllFamilies) {
  // The walked messages point into the bytes, which must outlive them.
  const auto bytes = BuildDumpRequest(NFT_MSG_GETRULE, 5);
  const std::vector<WalkedMessage> messages = Walk(bytes);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].type, NftType(NFT_MSG_GETRULE));
  EXPECT_EQ(messages[0].flags & NLM_F_DUMP, NLM_F_DUMP);
  const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(messages[0].header));
  EXPECT_EQ(header->nfgen_family, NFPROTO_UNSPEC);
}

int OnRuleTableAttribute(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == NFTA_RULE_TABLE) {
    *static_cast<std::string*>(data) = mnl_attr_get_str(attribute);
  }
  return MNL_CB_OK;
}

TEST(NftDumpRequest, OurRulesDumpNamesOurTableAndItsFamily) {
  const auto bytes = BuildOurRulesDumpRequest(Family::kIPv6, 6);
  const std::vector<WalkedMessage> messages = Walk(bytes);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].type, NftType(NFT_MSG_GETRULE));
  EXPECT_EQ(messages[0].flags & NLM_F_DUMP, NLM_F_DUMP);
  const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(messages[0].header));
  EXPECT_EQ(header->nfgen_family, NFPROTO_IPV6);
  std::string table;
  mnl_attr_parse(messages[0].header, sizeof(nfgenmsg), OnRuleTableAttribute, &table);
  EXPECT_EQ(table, "dind-netcfg");
}

TEST(NftGenerationRequest, AsksForAnAckSoTheReplyHasAnEnd) {
  const auto bytes = BuildGenerationRequest(8);
  const std::vector<WalkedMessage> messages = Walk(bytes);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].type, NftType(NFT_MSG_GETGEN));
  EXPECT_NE(messages[0].flags & NLM_F_ACK, 0);
  EXPECT_EQ(messages[0].seq, 8u);
}

// Notifications have the layout of the requests that caused them, so built messages stand in.
TEST(NftWatcherFilter, RecognisesMessagesAboutOurTablesOnly) {
  const NftBatch ours =
      BuildBatch({AddRule{{C("10.1.0.0/16"), "eth0"}}, DeleteRule{Family::kIPv6, 3},
                  DeleteTable{Family::kIPv4}, AddChain{Family::kIPv6}},
                 1, 0);
  const std::vector<WalkedMessage> messages = Walk(ours.bytes);
  ASSERT_EQ(messages.size(), 6u);
  EXPECT_FALSE(TouchesOurTable(messages[0].header));  // BATCH_BEGIN
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(TouchesOurTable(messages[i].header)) << i;
  EXPECT_FALSE(TouchesOurTable(messages[5].header));  // BATCH_END

  // The same table name in another family, and another table, are not ours.
  UniqueTable inet(nftnl_table_alloc());
  nftnl_table_set_str(inet.get(), NFTNL_TABLE_NAME, "dind-netcfg");
  UniqueTable nat(nftnl_table_alloc());
  nftnl_table_set_str(nat.get(), NFTNL_TABLE_NAME, "nat");
  for (auto [table, family] : {std::pair{inet.get(), NFPROTO_INET}, {nat.get(), NFPROTO_IPV4}}) {
    std::array<char, 4096> buffer{};
    nlmsghdr* message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_DELTABLE,
                                              static_cast<std::uint16_t>(family), 0, 1);
    nftnl_table_nlmsg_build_payload(message, table);
    EXPECT_FALSE(TouchesOurTable(message));
  }
}

// ---- Planning -------------------------------------------------------------------------------

NftRuleset OursInstalled(const std::vector<std::pair<const char*, std::uint64_t>>& sources,
                         const std::string& out_interface = "eth0") {
  NftRuleset ruleset;
  ruleset.generation = 3;
  bool v6 = false;
  for (const auto& [source, handle] : sources) {
    const Cidr cidr = C(source);
    v6 = v6 || cidr.family() == Family::kIPv6;
    NftRuleRecord rule;
    rule.family = NfprotoOf(cidr.family());
    rule.table = "dind-netcfg";
    rule.chain = "postrouting";
    rule.handle = handle;
    rule.masquerade_match = MasqueradeMatch{cidr, out_interface};
    rule.has_masquerade = rule.has_nat_statement = true;
    ruleset.rules.push_back(rule);
  }
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    if (family == Family::kIPv6 && !v6) continue;
    ruleset.tables.push_back({NfprotoOf(family), "dind-netcfg"});
    ruleset.chains.push_back(ParseChain(BuildBaseChain(family).get()));
  }
  return ruleset;
}

std::vector<std::string> Described(const std::vector<NftOp>& ops) {
  std::vector<std::string> lines;
  for (const NftOp& op : ops) lines.push_back(Describe(op));
  return lines;
}

TEST(NftPlan, CreatesEverythingInOneGoWhenAbsent) {
  Result<std::vector<NftOp>> ops =
      PlanApply({{C("10.1.0.0/16"), C("fd00:1::/64")}, "eth0"}, NftRuleset{});
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(
      Described(*ops),
      ElementsAre(
          "add table ip dind-netcfg",
          "add chain ip dind-netcfg postrouting { type nat hook postrouting priority srcnat; "
          "policy accept; }",
          "add rule ip dind-netcfg postrouting ip saddr 10.1.0.0/16 oifname \"eth0\" counter "
          "masquerade",
          "add table ip6 dind-netcfg",
          "add chain ip6 dind-netcfg postrouting { type nat hook postrouting priority srcnat; "
          "policy accept; }",
          "add rule ip6 dind-netcfg postrouting ip6 saddr fd00:1::/64 oifname \"eth0\" counter "
          "masquerade"));
}

TEST(NftPlan, NoIpv6TableWithoutIpv6Sources) {
  Result<std::vector<NftOp>> ops = PlanApply({{C("10.1.0.0/16")}, "eth0"}, NftRuleset{});
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->size(), 3u);
}

TEST(NftPlan, NothingToDoWhenAlreadyPresent) {
  const NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}, {"fd00:1::/64", 2}});
  Result<std::vector<NftOp>> ops =
      PlanApply({{C("fd00:1::/64"), C("10.1.0.0/16"), C("10.1.0.0/16")}, "eth0"}, current);
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(*ops, IsEmpty());
}

TEST(NftPlan, DiffDeletesStaleAndDuplicatesAndAddsMissing) {
  NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}, {"10.2.0.0/16", 3}, {"10.1.0.0/16", 4}});
  NftRuleRecord unrecognised;
  unrecognised.family = kNfprotoIpv4;
  unrecognised.table = "dind-netcfg";
  unrecognised.chain = "postrouting";
  unrecognised.handle = 5;
  current.rules.push_back(unrecognised);

  Result<std::vector<NftOp>> ops =
      PlanApply({{C("10.1.0.0/16"), C("10.3.0.0/16")}, "eth0"}, current);
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(Described(*ops),
              ElementsAre("delete rule ip dind-netcfg postrouting handle 3",
                          "delete rule ip dind-netcfg postrouting handle 4",
                          "delete rule ip dind-netcfg postrouting handle 5",
                          "add rule ip dind-netcfg postrouting ip saddr 10.3.0.0/16 oifname "
                          "\"eth0\" counter masquerade"));
}

TEST(NftPlan, NewInterfaceReplacesEveryRule) {
  const NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}}, "eth0");
  Result<std::vector<NftOp>> ops = PlanApply({{C("10.1.0.0/16")}, "ens5"}, current);
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(Described(*ops),
              ElementsAre("delete rule ip dind-netcfg postrouting handle 2",
                          "add rule ip dind-netcfg postrouting ip saddr 10.1.0.0/16 oifname "
                          "\"ens5\" counter masquerade"));
}

TEST(NftPlan, TamperedChainIsRebuiltInTheSameTransaction) {
  NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}});
  current.chains[0].priority = 0;
  Result<std::vector<NftOp>> ops = PlanApply({{C("10.1.0.0/16")}, "eth0"}, current);
  ASSERT_TRUE(ops.ok());
  ASSERT_EQ(ops->size(), 4u);
  EXPECT_TRUE(std::holds_alternative<DeleteTable>((*ops)[0]));
  EXPECT_TRUE(std::holds_alternative<AddTable>((*ops)[1]));
}

TEST(NftPlan, MissingChainIsAddedToExistingTable) {
  NftRuleset current;
  current.tables.push_back({kNfprotoIpv4, "dind-netcfg"});
  Result<std::vector<NftOp>> ops = PlanApply({{C("10.1.0.0/16")}, "eth0"}, current);
  ASSERT_TRUE(ops.ok());
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_TRUE(std::holds_alternative<AddChain>((*ops)[0]));
}

TEST(NftPlan, DropsIpv6TableWhenIpv6SourcesGo) {
  const NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}, {"fd00:1::/64", 2}});
  Result<std::vector<NftOp>> ops = PlanApply({{C("10.1.0.0/16")}, "eth0"}, current);
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(Described(*ops), ElementsAre("delete table ip6 dind-netcfg"));
}

TEST(NftPlan, RejectsBadInterfaceNames) {
  for (const char* name : {"", "sixteen-chars-xx"}) {
    Result<std::vector<NftOp>> ops = PlanApply({{C("10.1.0.0/16")}, name}, NftRuleset{});
    ASSERT_FALSE(ops.ok()) << name;
    EXPECT_EQ(ops.error().kind, ErrorKind::kBadInput);
  }
}

TEST(NftPlan, RemoveDeletesOnlyOurTables) {
  NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}});
  current.tables.push_back({kNfprotoIpv4, "nat"});
  current.tables.push_back({NFPROTO_INET, "dind-netcfg"});  // not ours: other family
  EXPECT_THAT(Described(PlanRemove(current)), ElementsAre("delete table ip dind-netcfg"));
  EXPECT_THAT(PlanRemove(NftRuleset{}), IsEmpty());
}

// ---- Inspect summary ------------------------------------------------------------------------

NftChainRecord Chain(std::uint32_t family, const char* table, const char* name, const char* type) {
  NftChainRecord chain;
  chain.family = family;
  chain.table = table;
  chain.name = name;
  chain.is_base = type != nullptr;
  if (type != nullptr) chain.type = type;
  return chain;
}

NftRuleRecord Rule(std::uint32_t family, const char* table, const char* chain, bool masq) {
  NftRuleRecord rule;
  rule.family = family;
  rule.table = table;
  rule.chain = chain;
  rule.has_masquerade = rule.has_nat_statement = masq;
  return rule;
}

TEST(NftSummary, ReportsOurRulesAndCountsForeignNatRules) {
  NftRuleset current = OursInstalled({{"10.1.0.0/16", 2}});
  current.rules[0].packets = 5;
  current.rules[0].bytes = 300;
  // iptables-nft style nat table: a nat base chain and a regular DOCKER chain.
  current.tables.push_back({kNfprotoIpv4, "nat"});
  current.chains.push_back(Chain(kNfprotoIpv4, "nat", "POSTROUTING", "nat"));
  current.chains.push_back(Chain(kNfprotoIpv4, "nat", "DOCKER", nullptr));
  current.rules.push_back(Rule(kNfprotoIpv4, "nat", "POSTROUTING", true));
  current.rules.push_back(Rule(kNfprotoIpv4, "nat", "POSTROUTING", false));
  current.rules.push_back(Rule(kNfprotoIpv4, "nat", "DOCKER", false));
  // A mixed inet table: its filter chains and helper chains are not nat.
  current.tables.push_back({NFPROTO_INET, "fw"});
  current.chains.push_back(Chain(NFPROTO_INET, "fw", "input", "filter"));
  current.chains.push_back(Chain(NFPROTO_INET, "fw", "helper", nullptr));
  current.chains.push_back(Chain(NFPROTO_INET, "fw", "post", "nat"));
  current.rules.push_back(Rule(NFPROTO_INET, "fw", "input", false));
  current.rules.push_back(Rule(NFPROTO_INET, "fw", "helper", false));
  current.rules.push_back(Rule(NFPROTO_INET, "fw", "post", true));

  const BackendState state = Summarize(current);
  EXPECT_TRUE(state.container_present);
  EXPECT_TRUE(state.hooked);
  ASSERT_EQ(state.rules.size(), 1u);
  EXPECT_EQ(state.rules[0].source, C("10.1.0.0/16"));
  EXPECT_EQ(state.rules[0].out_interface, "eth0");
  EXPECT_EQ(state.rules[0].packets, 5u);
  EXPECT_EQ(state.rules[0].bytes, 300u);
  EXPECT_EQ(state.foreign_nat_rules, 4);
  EXPECT_EQ(state.foreign_masquerade_rules, 2);
}

TEST(NftSummary, TableWithoutProperChainIsPresentButNotHooked) {
  NftRuleset current;
  current.tables.push_back({kNfprotoIpv4, "dind-netcfg"});
  BackendState state = Summarize(current);
  EXPECT_TRUE(state.container_present);
  EXPECT_FALSE(state.hooked);
  EXPECT_FALSE(Summarize(NftRuleset{}).container_present);
  EXPECT_FALSE(Summarize(NftRuleset{}).hooked);
}

// ---- Kernel error mapping -------------------------------------------------------------------

TEST(NftErrors, PermissionNamesTheCapability) {
  const Error error = KernelRefusal(nullptr, EPERM, "");
  EXPECT_EQ(error.kind, ErrorKind::kPermission);
  EXPECT_THAT(error.Message(), HasSubstr("CAP_NET_ADMIN"));
}

TEST(NftErrors, MissingFeaturesAreNamed) {
  const NftOp rule = AddRule{{C("10.1.0.0/16"), "eth0"}};
  const Error no_masq = KernelRefusal(&rule, ENOENT, "");
  EXPECT_EQ(no_masq.kind, ErrorKind::kEnvironment);
  EXPECT_THAT(no_masq.Message(), HasSubstr("nft_masq"));
  EXPECT_THAT(no_masq.Message(), HasSubstr("ip saddr 10.1.0.0/16"));

  const NftOp chain = AddChain{Family::kIPv4};
  EXPECT_THAT(KernelRefusal(&chain, EOPNOTSUPP, "").Message(), HasSubstr("nft_chain_nat"));
  EXPECT_THAT(KernelRefusal(nullptr, EOPNOTSUPP, "").Message(), HasSubstr("CONFIG_NF_TABLES"));
  EXPECT_THAT(DumpRefusal("rules", EINVAL).Message(), HasSubstr("CONFIG_NF_TABLES"));
  EXPECT_EQ(DumpRefusal("rules", EPERM).kind, ErrorKind::kPermission);
}

TEST(NftErrors, KernelMessageIsKept) {
  const NftOp op = DeleteTable{Family::kIPv4};
  EXPECT_THAT(KernelRefusal(&op, EBUSY, "table in use").Message(),
              HasSubstr("delete table ip dind-netcfg (kernel: table in use)"));
}

// ---- The backend against an in-memory kernel ------------------------------------------------

class NftBackendTest : public ::testing::Test {
 protected:
  NftBackendTest() {
    auto kernel = std::make_unique<dind::testing::FakeNftKernel>(&ruleset_);
    kernel_ = kernel.get();
    backend_ = std::make_unique<NftBackend>(std::move(kernel));
  }
  NftRuleset ruleset_;
  dind::testing::FakeNftKernel* kernel_;
  std::unique_ptr<NftBackend> backend_;
};

TEST_F(NftBackendTest, ApplyTwiceCommitsOnce) {
  const MasqueradeSpec spec{{C("10.1.0.0/16"), C("fd00:1::/64")}, "eth0"};
  ASSERT_TRUE(backend_->Apply(spec).ok());
  const std::size_t rules_after_first = ruleset_.rules.size();
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(backend_->Apply(spec).ok());
  EXPECT_EQ(kernel_->commits, 1);
  EXPECT_EQ(ruleset_.rules.size(), rules_after_first);

  Result<BackendState> state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->container_present);
  EXPECT_TRUE(state->hooked);
  EXPECT_EQ(state->rules.size(), 2u);
}

TEST_F(NftBackendTest, ChangedSpecKeepsUnchangedRulesAndTheirHandles) {
  ASSERT_TRUE(backend_->Apply({{C("10.1.0.0/16"), C("10.2.0.0/16")}, "eth0"}).ok());
  const auto handle_of = [&](const char* source) -> std::uint64_t {
    for (const NftRuleRecord& rule : ruleset_.rules) {
      if (rule.masquerade_match && rule.masquerade_match->source == C(source)) return rule.handle;
    }
    return 0;
  };
  const std::uint64_t kept = handle_of("10.2.0.0/16");
  ASSERT_TRUE(backend_->Apply({{C("10.2.0.0/16"), C("10.3.0.0/16")}, "eth0"}).ok());
  EXPECT_EQ(handle_of("10.2.0.0/16"), kept);
  EXPECT_EQ(handle_of("10.1.0.0/16"), 0u);
  EXPECT_NE(handle_of("10.3.0.0/16"), 0u);
  EXPECT_EQ(kernel_->commits, 2);
}

TEST_F(NftBackendTest, RetriesWhenTheRulesetChangesBetweenReadAndCommit) {
  ruleset_.generation = 1;  // generation 0 means "unknown" and is never checked
  kernel_->interfere_after_read_ = true;
  ASSERT_TRUE(backend_->Apply({{C("10.1.0.0/16")}, "eth0"}).ok());
  EXPECT_EQ(kernel_->commits, 2);
  EXPECT_EQ(ruleset_.rules.size(), 1u);
}

TEST_F(NftBackendTest, RemoveLeavesForeignTablesAndAbsentIsSuccess) {
  ruleset_.tables.push_back({kNfprotoIpv4, "nat"});
  ASSERT_TRUE(backend_->Apply({{C("10.1.0.0/16"), C("fd00::/8")}, "eth0"}).ok());
  ASSERT_TRUE(backend_->Remove().ok());
  ASSERT_EQ(ruleset_.tables.size(), 1u);
  EXPECT_EQ(ruleset_.tables[0].name, "nat");
  const int commits = kernel_->commits;
  EXPECT_TRUE(backend_->Remove().ok());
  EXPECT_EQ(kernel_->commits, commits);
}

TEST_F(NftBackendTest, KernelRefusalCarriesContext) {
  kernel_->refuse_with_errno = EPERM;
  Status status = backend_->Apply({{C("10.1.0.0/16")}, "eth0"});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kPermission);
  EXPECT_THAT(status.error().Message(),
              HasSubstr("applying nf_tables masquerade rules: nf_tables: add table ip "
                        "dind-netcfg"));
  EXPECT_THAT(ruleset_.tables, IsEmpty());
}

}  // namespace
}  // namespace dind::rules::nft

// SPDX-License-Identifier: Apache-2.0
// MSS clamps in the nft backend: the rule builder and parser, the plan, the summary, and the
// backend against an in-memory kernel; no root.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ostream>

#include "rules/nft/nft_backend.h"
#include "rules/nft/nft_messages.h"
#include "rules/nft/nft_model.h"
#include "tests/mocks/fake_nft_kernel.h"

namespace dind::rules::nft {

// Names the parameters of ClampRoundTrip (gtest would print the struct's bytes, padding too).
void PrintTo(const ClampMatch& match, std::ostream* out) {
  *out << match.network.ToString()
       << (match.direction == ClampDirection::kFromNetwork ? " from " : " to ") << match.mss;
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Cidr C(const char* text) {
  return *Cidr::Parse(text);
}

constexpr ClampDirection kFrom = ClampDirection::kFromNetwork;
constexpr ClampDirection kTo = ClampDirection::kToNetwork;

// Serialises a rule the way it travels over netlink and parses it back like a dump reply.
NftRuleRecord RoundTrip(nftnl_rule* rule, Family family) {
  std::array<char, 8192> buffer{};
  nlmsghdr* message = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_NEWRULE,
                                            static_cast<std::uint16_t>(NfprotoOf(family)), 0, 1);
  nftnl_rule_nlmsg_build_payload(message, rule);
  Result<NftRuleRecord> parsed = ParseRuleMessage(message);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : NftRuleRecord{};
}

std::vector<nftnl_expr*> Exprs(nftnl_rule* rule) {
  std::vector<nftnl_expr*> exprs;
  nftnl_expr_iter* iter = nftnl_expr_iter_create(rule);
  while (nftnl_expr* expr = nftnl_expr_iter_next(iter)) exprs.push_back(expr);
  nftnl_expr_iter_destroy(iter);
  return exprs;
}

std::vector<std::string> Names(nftnl_rule* rule) {
  std::vector<std::string> names;
  for (const nftnl_expr* expr : Exprs(rule))
    names.emplace_back(nftnl_expr_get_str(expr, NFTNL_EXPR_NAME));
  return names;
}

class ClampRoundTrip : public ::testing::TestWithParam<ClampMatch> {};

TEST_P(ClampRoundTrip, EveryBuiltClampParsesBackToItsMatch) {
  const ClampMatch& match = GetParam();
  UniqueRule rule = BuildClampRule(match);
  const NftRuleRecord record = RoundTrip(rule.get(), match.network.family());
  ASSERT_TRUE(record.clamp_match.has_value()) << RuleToString(rule.get());
  EXPECT_EQ(*record.clamp_match, match);
  EXPECT_FALSE(record.masquerade_match.has_value());
  EXPECT_FALSE(record.has_nat_statement);
  EXPECT_EQ(record.chain, "forward");
}

INSTANTIATE_TEST_SUITE_P(Clamps, ClampRoundTrip,
                         ::testing::Values(ClampMatch{C("10.1.0.0/16"), kFrom, 1320},
                                           ClampMatch{C("10.1.0.0/16"), kTo, 1320},
                                           ClampMatch{C("10.2.4.0/23"), kTo, 1},
                                           ClampMatch{C("192.0.2.7/32"), kFrom, 65534},
                                           ClampMatch{C("fd00:1::/64"), kFrom, 1300},
                                           ClampMatch{C("2001:db8::/33"), kTo, 1220}));

TEST(NftClampBuilder, ExpressionsAreWhatNftGenerates) {
  // nft --debug=netlink for `ip daddr 10.2.4.0/23 tcp flags & (syn|rst) == syn
  // tcp option maxseg size > 1300 tcp option maxseg size set 1300 counter`.
  UniqueRule rule = BuildClampRule({C("10.2.4.0/23"), kTo, 1300});
  EXPECT_THAT(Names(rule.get()),
              ElementsAre("payload", "bitwise", "cmp", "meta", "cmp", "payload", "bitwise", "cmp",
                          "exthdr", "cmp", "immediate", "exthdr", "counter"));
  const std::vector<nftnl_expr*> exprs = Exprs(rule.get());
  EXPECT_EQ(nftnl_expr_get_u32(exprs[0], NFTNL_EXPR_PAYLOAD_OFFSET), 16u);  // daddr
  EXPECT_EQ(nftnl_expr_get_u32(exprs[3], NFTNL_EXPR_META_KEY), NFT_META_L4PROTO);
  EXPECT_EQ(nftnl_expr_get_u32(exprs[5], NFTNL_EXPR_PAYLOAD_BASE), NFT_PAYLOAD_TRANSPORT_HEADER);
  EXPECT_EQ(nftnl_expr_get_u32(exprs[5], NFTNL_EXPR_PAYLOAD_OFFSET), 13u);  // tcp flags
  EXPECT_EQ(nftnl_expr_get_u8(exprs[8], NFTNL_EXPR_EXTHDR_TYPE), 2);        // maxseg
  EXPECT_EQ(nftnl_expr_get_u32(exprs[8], NFTNL_EXPR_EXTHDR_OP), NFT_EXTHDR_OP_TCPOPT);
  EXPECT_EQ(nftnl_expr_get_u32(exprs[9], NFTNL_EXPR_CMP_OP), NFT_CMP_GT);
  std::uint32_t length = 0;
  const void* data = nftnl_expr_get(exprs[10], NFTNL_EXPR_IMM_DATA, &length);
  ASSERT_EQ(length, 2u);
  std::uint16_t mss = 0;
  std::memcpy(&mss, data, sizeof(mss));
  EXPECT_EQ(ntohs(mss), 1300);
  EXPECT_TRUE(nftnl_expr_is_set(exprs[11], NFTNL_EXPR_EXTHDR_SREG));
  EXPECT_THAT(RuleToString(rule.get()), HasSubstr("exthdr write tcpopt reg 1 => 2b @ 2 + 2"));
}

TEST(NftClampParser, AnythingButOurExactShapeIsNotAClamp) {
  const auto mutated = [](auto change) {
    UniqueRule rule = BuildClampRule({C("10.1.0.0/16"), kFrom, 1320});
    change(Exprs(rule.get()));
    return RoundTrip(rule.get(), Family::kIPv4).clamp_match.has_value();
  };
  EXPECT_TRUE(mutated([](const std::vector<nftnl_expr*>&) {}));
  // syn only (would clamp RSTs too), another option, a compare that is not "above", a set to
  // another value than the compare, tcp replaced by udp.
  EXPECT_FALSE(mutated([](const std::vector<nftnl_expr*>& e) {
    const std::uint8_t syn = 0x02;
    nftnl_expr_set(e[5], NFTNL_EXPR_BITWISE_MASK, &syn, 1);
  }));
  EXPECT_FALSE(mutated([](const std::vector<nftnl_expr*>& e) {
    nftnl_expr_set_u8(e[7], NFTNL_EXPR_EXTHDR_TYPE, 3);
  }));
  EXPECT_FALSE(mutated([](const std::vector<nftnl_expr*>& e) {
    nftnl_expr_set_u32(e[8], NFTNL_EXPR_CMP_OP, NFT_CMP_LT);
  }));
  EXPECT_FALSE(mutated([](const std::vector<nftnl_expr*>& e) {
    const std::uint16_t other = htons(1000);
    nftnl_expr_set(e[9], NFTNL_EXPR_IMM_DATA, &other, sizeof(other));
  }));
  EXPECT_FALSE(mutated([](const std::vector<nftnl_expr*>& e) {
    const std::uint8_t udp = IPPROTO_UDP;
    nftnl_expr_set(e[3], NFTNL_EXPR_CMP_DATA, &udp, 1);
  }));
  // A rule with something after the counter (e.g. accept) is not ours either.
  UniqueRule extra = BuildClampRule({C("10.1.0.0/16"), kFrom, 1320});
  nftnl_rule_add_expr(extra.get(), nftnl_expr_alloc("counter"));
  EXPECT_FALSE(RoundTrip(extra.get(), Family::kIPv4).clamp_match.has_value());
  // A masquerade rule is no clamp, and a clamp is no masquerade rule.
  UniqueRule masquerade = BuildMasqueradeRule({C("10.1.0.0/16"), "eth0"});
  EXPECT_FALSE(RoundTrip(masquerade.get(), Family::kIPv4).clamp_match.has_value());
}

TEST(NftClampChain, ForwardChainIsFilterForwardMangleAccept) {
  const NftChainRecord chain = ParseChain(BuildBaseChain(Family::kIPv6, OurChain::kForward).get());
  EXPECT_EQ(chain.family, kNfprotoIpv6);
  EXPECT_EQ(chain.name, "forward");
  EXPECT_EQ(chain.type, "filter");
  EXPECT_EQ(chain.hook, static_cast<std::uint32_t>(NF_INET_FORWARD));
  EXPECT_EQ(chain.priority, -150);
  EXPECT_TRUE(IsOurForwardChain(chain));
  EXPECT_FALSE(IsOurBaseChain(chain));
}

std::vector<std::string> Described(const std::vector<NftOp>& ops) {
  std::vector<std::string> lines;
  for (const NftOp& op : ops) lines.push_back(Describe(op));
  return lines;
}

MasqueradeSpec Clamped(std::vector<MssClamp> clamps) {
  MasqueradeSpec spec{{C("10.1.0.0/16")}, "eth0"};
  spec.clamps = std::move(clamps);
  return spec;
}

TEST(NftClampPlan, CreatesTheForwardChainWithBothDirectionsOnlyForFamiliesWithClamps) {
  Result<std::vector<NftOp>> ops = PlanApply(Clamped({{C("fd00:1::/64"), 1300}}), NftRuleset{});
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
          "add chain ip6 dind-netcfg forward { type filter hook forward priority mangle; "
          "policy accept; }",
          "add rule ip6 dind-netcfg forward ip6 saddr fd00:1::/64 tcp flags syn / syn,rst tcp "
          "option maxseg size > 1300 tcp option maxseg size set 1300 counter",
          "add rule ip6 dind-netcfg forward ip6 daddr fd00:1::/64 tcp flags syn / syn,rst tcp "
          "option maxseg size > 1300 tcp option maxseg size set 1300 counter"));
}

TEST(NftClampPlan, RejectsABadClamp) {
  Result<std::vector<NftOp>> ops = PlanApply(Clamped({{C("10.1.0.0/16"), 0}}), NftRuleset{});
  ASSERT_FALSE(ops.ok());
  EXPECT_EQ(ops.error().kind, ErrorKind::kBadInput);
}

// ---- The backend against an in-memory kernel ------------------------------------------------

class NftClampBackendTest : public ::testing::Test {
 protected:
  NftClampBackendTest() {
    auto kernel = std::make_unique<dind::testing::FakeNftKernel>(&ruleset_);
    kernel_ = kernel.get();
    backend_ = std::make_unique<NftBackend>(std::move(kernel));
  }

  // "NET from|to MSS" for every clamp rule in our forward chains.
  std::vector<std::string> Clamps() const {
    std::vector<std::string> clamps;
    for (const NftRuleRecord& rule : ruleset_.rules) {
      if (rule.chain != "forward") continue;
      clamps.push_back(rule.clamp_match
                           ? rule.clamp_match->network.ToString() +
                                 (rule.clamp_match->direction == kFrom ? " from " : " to ") +
                                 std::to_string(rule.clamp_match->mss)
                           : "foreign");
    }
    return clamps;
  }
  bool HasForwardChain(Family family) const {
    return std::any_of(ruleset_.chains.begin(), ruleset_.chains.end(), [&](const auto& chain) {
      return chain.family == NfprotoOf(family) && chain.name == "forward";
    });
  }

  NftRuleset ruleset_;
  dind::testing::FakeNftKernel* kernel_;
  std::unique_ptr<NftBackend> backend_;
};

TEST_F(NftClampBackendTest, ApplyTwiceCommitsOnceAndInspectReportsTheClamps) {
  const auto spec = Clamped({{C("10.1.0.0/16"), 1320}, {C("fd00:1::/64"), 1300}});
  ASSERT_TRUE(backend_->Apply(spec).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(backend_->Apply(spec).ok());
  EXPECT_EQ(kernel_->commits, 1);
  EXPECT_THAT(Clamps(), ElementsAre("10.1.0.0/16 from 1320", "10.1.0.0/16 to 1320",
                                    "fd00:1::/64 from 1300", "fd00:1::/64 to 1300"));

  for (NftRuleRecord& rule : ruleset_.rules) {
    if (rule.chain == "forward") {
      rule.packets = 2;
      rule.bytes = 120;
    }
  }
  Result<BackendState> state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->clamps.size(), 2u);
  EXPECT_EQ(state->clamps[0].network, C("10.1.0.0/16"));
  EXPECT_EQ(state->clamps[0].mss, 1320);
  EXPECT_EQ(state->clamps[0].packets, 4u);
  EXPECT_EQ(state->clamps[0].bytes, 240u);
  EXPECT_EQ(state->clamps[1].network, C("fd00:1::/64"));
  EXPECT_EQ(state->rules.size(), 1u);
  EXPECT_EQ(state->foreign_nat_rules, 0);
  EXPECT_TRUE(state->hooked);
}

TEST_F(NftClampBackendTest, ChangedMssReplacesOnlyThatClampsRules) {
  ASSERT_TRUE(backend_->Apply(Clamped({{C("10.1.0.0/16"), 1320}, {C("10.2.0.0/24"), 1400}})).ok());
  ASSERT_TRUE(backend_->Apply(Clamped({{C("10.1.0.0/16"), 1300}, {C("10.2.0.0/24"), 1400}})).ok());
  EXPECT_THAT(Clamps(), ElementsAre("10.2.0.0/24 from 1400", "10.2.0.0/24 to 1400",
                                    "10.1.0.0/16 from 1300", "10.1.0.0/16 to 1300"));
  EXPECT_EQ(kernel_->commits, 2);
}

TEST_F(NftClampBackendTest, NoClampsTakesTheForwardChainAwayAndIpv6TableWithIt) {
  ASSERT_TRUE(backend_->Apply(Clamped({{C("10.1.0.0/16"), 1320}, {C("fd00:1::/64"), 1300}})).ok());
  ASSERT_TRUE(backend_->Apply(Clamped({{C("fd00:1::/64"), 1300}})).ok());
  EXPECT_FALSE(HasForwardChain(Family::kIPv4));
  EXPECT_TRUE(HasForwardChain(Family::kIPv6));
  ASSERT_TRUE(backend_->Apply(Clamped({})).ok());
  EXPECT_FALSE(HasForwardChain(Family::kIPv6));
  EXPECT_THAT(Clamps(), IsEmpty());
  // IPv6 had only clamps: its table goes too; IPv4 keeps its masquerade rule.
  EXPECT_EQ(ruleset_.tables.size(), 1u);
  Result<BackendState> state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->rules.size(), 1u);
  EXPECT_TRUE(state->clamps.empty());
}

TEST_F(NftClampBackendTest, HalfClampsAndTamperedChainsAreRepaired) {
  const auto spec = Clamped({{C("10.1.0.0/16"), 1320}});
  ASSERT_TRUE(backend_->Apply(spec).ok());
  // Someone deletes one direction: not reported as installed, and Apply adds it back.
  std::erase_if(ruleset_.rules, [](const NftRuleRecord& rule) {
    return rule.clamp_match && rule.clamp_match->direction == kTo;
  });
  Result<BackendState> state = backend_->InspectOurs();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->clamps.empty());
  ASSERT_TRUE(backend_->Apply(spec).ok());
  EXPECT_THAT(Clamps(), ElementsAre("10.1.0.0/16 from 1320", "10.1.0.0/16 to 1320"));

  // Someone changes the forward chain's priority: the table is rebuilt in one transaction.
  for (NftChainRecord& chain : ruleset_.chains) {
    if (chain.name == "forward") chain.priority = 0;
  }
  state = backend_->InspectOurs();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->clamps.empty());
  ASSERT_TRUE(backend_->Apply(spec).ok());
  state = backend_->InspectOurs();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->clamps.size(), 1u);
  EXPECT_EQ(state->rules.size(), 1u);
}

TEST_F(NftClampBackendTest, RemoveTakesTheClampsWithTheTables) {
  ASSERT_TRUE(backend_->Apply(Clamped({{C("10.1.0.0/16"), 1320}, {C("fd00:1::/64"), 1300}})).ok());
  ASSERT_TRUE(backend_->Remove().ok());
  EXPECT_TRUE(ruleset_.tables.empty());
  EXPECT_TRUE(ruleset_.rules.empty());
  EXPECT_TRUE(ruleset_.chains.empty());
}

TEST(NftClampErrors, MissingExthdrIsNamed) {
  const NftOp op = AddClampRule{{C("10.1.0.0/16"), kFrom, 1320}};
  const Error error = KernelRefusal(&op, EOPNOTSUPP, "");
  EXPECT_THAT(error.Message(), HasSubstr("exthdr"));
  EXPECT_THAT(error.Message(), HasSubstr("maxseg size set 1320"));
}

}  // namespace
}  // namespace dind::rules::nft

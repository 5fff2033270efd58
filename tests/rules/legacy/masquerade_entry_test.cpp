// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/masquerade_entry.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
// After netinet/in.h, as in the code under test.
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <cstddef>
#include <cstring>

namespace dind::rules::legacy {
namespace {

Cidr MustCidr(const char* text) {
  auto cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text;
  return cidr.ok() ? *cidr : Cidr();
}

EntryBytes MustBuild(const char* source, const char* out_interface) {
  auto entry = BuildMasqueradeEntry(MustCidr(source), out_interface);
  EXPECT_TRUE(entry.ok()) << (entry.ok() ? "" : entry.error().Message());
  return entry.ok() ? *entry : EntryBytes{};
}

ipt_entry HeadV4(const EntryBytes& bytes) {
  ipt_entry head;
  std::memcpy(&head, bytes.data(), sizeof(head));
  return head;
}

xt_entry_target TargetOf(const EntryBytes& bytes, std::size_t target_offset) {
  xt_entry_target target;
  std::memcpy(&target, bytes.data() + target_offset, sizeof(target));
  return target;
}

struct RoundTripCase {
  const char* source;
  const char* out_interface;
};

class RoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTripTest, ParseGivesBackWhatWasBuilt) {
  const Cidr source = MustCidr(GetParam().source);
  const EntryBytes entry = MustBuild(GetParam().source, GetParam().out_interface);
  const auto parsed = ParseMasqueradeEntry(source.family(), entry);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->source, source);
  EXPECT_EQ(parsed->out_interface, GetParam().out_interface);
  EXPECT_EQ(parsed->packets, 0u);
  EXPECT_EQ(parsed->bytes, 0u);
  EXPECT_FALSE(IsUnconditional(source.family(), entry));
}

INSTANTIATE_TEST_SUITE_P(
    Sources, RoundTripTest,
    ::testing::Values(RoundTripCase{"10.1.0.0/16", "eth0"}, RoundTripCase{"0.0.0.0/0", "eth0"},
                      RoundTripCase{"172.18.0.0/23", "e"}, RoundTripCase{"192.0.2.7/32", "eth+"},
                      RoundTripCase{"10.0.0.0/8", "abcdefghijklmno"},
                      RoundTripCase{"fd00:1::/64", "eth0"}, RoundTripCase{"::/0", "veth+"},
                      RoundTripCase{"2001:db8::1/128", "ens3"},
                      RoundTripCase{"fd00::/7", "abcdefghijklmno"}));

TEST(MasqueradeEntryTest, Ipv4LayoutIsWhatIptablesBuilds) {
  const EntryBytes entry = MustBuild("10.1.0.0/16", "eth0");
  // ipt_entry, then a 32-byte target header and the 20-byte range rounded up to 24.
  const std::size_t target_size =
      XT_ALIGN(sizeof(xt_entry_target)) + XT_ALIGN(sizeof(nf_nat_ipv4_multi_range_compat));
  ASSERT_EQ(entry.size(), sizeof(ipt_entry) + target_size);
  const ipt_entry head = HeadV4(entry);
  EXPECT_EQ(head.target_offset, sizeof(ipt_entry));
  EXPECT_EQ(head.next_offset, entry.size());
  EXPECT_EQ(head.ip.src.s_addr, htonl(0x0a010000));
  EXPECT_EQ(head.ip.smsk.s_addr, htonl(0xffff0000));
  EXPECT_EQ(head.ip.dst.s_addr, 0u);
  EXPECT_STREQ(head.ip.outiface, "eth0");
  // "eth0" plus its NUL are matched exactly.
  for (int i = 0; i < IFNAMSIZ; ++i) {
    EXPECT_EQ(head.ip.outiface_mask[i], i < 5 ? 0xff : 0x00) << i;
  }
  EXPECT_EQ(head.ip.iniface[0], '\0');
  EXPECT_EQ(head.ip.proto, 0);
  EXPECT_EQ(head.ip.invflags, 0);

  const xt_entry_target target = TargetOf(entry, sizeof(ipt_entry));
  EXPECT_EQ(target.u.user.target_size, target_size);
  EXPECT_STREQ(target.u.user.name, "MASQUERADE");
  EXPECT_EQ(target.u.user.revision, 0);
  nf_nat_ipv4_multi_range_compat range;
  std::memcpy(&range, entry.data() + sizeof(ipt_entry) + sizeof(xt_entry_target), sizeof(range));
  EXPECT_EQ(range.rangesize, 1u);
  EXPECT_EQ(range.range[0].flags, 0u);
}

TEST(MasqueradeEntryTest, WildcardInterfaceKeepsPlusInNameButNotInMask) {
  const ipt_entry head = HeadV4(MustBuild("10.1.0.0/16", "eth+"));
  EXPECT_STREQ(head.ip.outiface, "eth+");
  for (int i = 0; i < IFNAMSIZ; ++i) {
    EXPECT_EQ(head.ip.outiface_mask[i], i < 3 ? 0xff : 0x00) << i;
  }
}

TEST(MasqueradeEntryTest, Ipv6LayoutUsesIp6tEntryAndNatRange) {
  const EntryBytes entry = MustBuild("fd00:1::/64", "eth0");
  const std::size_t target_size =
      XT_ALIGN(sizeof(xt_entry_target)) + XT_ALIGN(sizeof(nf_nat_range));
  ASSERT_EQ(entry.size(), sizeof(ip6t_entry) + target_size);
  ip6t_entry head;
  std::memcpy(&head, entry.data(), sizeof(head));
  EXPECT_EQ(head.target_offset, sizeof(ip6t_entry));
  EXPECT_EQ(head.ipv6.smsk.s6_addr[7], 0xff);
  EXPECT_EQ(head.ipv6.smsk.s6_addr[8], 0x00);
  EXPECT_EQ(head.ipv6.src.s6_addr[0], 0xfd);
  EXPECT_EQ(head.ipv6.src.s6_addr[3], 0x01);
  EXPECT_EQ(head.ipv6.flags, 0);
  const xt_entry_target target = TargetOf(entry, sizeof(ip6t_entry));
  EXPECT_STREQ(target.u.user.name, "MASQUERADE");
  EXPECT_EQ(target.u.user.target_size, target_size);
}

TEST(MasqueradeEntryTest, ParseReadsCounters) {
  EntryBytes entry = MustBuild("10.1.0.0/16", "eth0");
  xt_counters counters{1234, 567890};
  std::memcpy(entry.data() + offsetof(ipt_entry, counters), &counters, sizeof(counters));
  const auto parsed = ParseMasqueradeEntry(Family::kIPv4, entry);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->packets, 1234u);
  EXPECT_EQ(parsed->bytes, 567890u);
}

TEST(MasqueradeEntryTest, ParseRejectsAnythingButOurExactForm) {
  const EntryBytes good = MustBuild("10.1.0.0/16", "eth0");
  ASSERT_TRUE(ParseMasqueradeEntry(Family::kIPv4, good).has_value());

  auto mutated = [&](auto change) {
    EntryBytes copy = good;
    ipt_entry head = HeadV4(copy);
    change(head, copy);
    std::memcpy(copy.data(), &head, sizeof(head));
    return ParseMasqueradeEntry(Family::kIPv4, copy).has_value();
  };
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.invflags = IPT_INV_SRCIP; }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.invflags = IPT_INV_VIA_OUT; }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.proto = IPPROTO_TCP; }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) {
    h.ip.dst.s_addr = htonl(0x08080808);
    h.ip.dmsk.s_addr = 0xffffffff;
  }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) {
    std::strcpy(h.ip.iniface, "eth1");
    std::memset(h.ip.iniface_mask, 0xff, 5);
  }));
  // 255.0.255.0 is not a prefix.
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.smsk.s_addr = htonl(0xff00ff00); }));
  // Host bits set under the mask: iptables never stores that.
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.src.s_addr = htonl(0x0a010001); }));
  // An interface mask that does not include the NUL would also match "eth0x".
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.outiface_mask[4] = 0; }));
  EXPECT_FALSE(mutated([](ipt_entry&, EntryBytes& bytes) {
    // --random
    const std::size_t flags_at = sizeof(ipt_entry) + sizeof(xt_entry_target) +
                                 offsetof(nf_nat_ipv4_multi_range_compat, range);
    bytes[flags_at] = NF_NAT_RANGE_PROTO_RANDOM;
  }));
  EXPECT_FALSE(mutated([](ipt_entry&, EntryBytes& bytes) {
    bytes[sizeof(ipt_entry) + offsetof(xt_entry_target, u.user.name)] = 'S';  // SASQUERADE
  }));

  EntryBytes truncated = good;
  truncated.pop_back();
  EXPECT_FALSE(ParseMasqueradeEntry(Family::kIPv4, truncated).has_value());
  EXPECT_FALSE(ParseMasqueradeEntry(Family::kIPv4, EntryView(good.data(), 10)).has_value());
  EXPECT_FALSE(ParseMasqueradeEntry(Family::kIPv4, EntryView()).has_value());
  // Read with the other family's layout, the bytes are not our rule.
  EXPECT_FALSE(ParseMasqueradeEntry(Family::kIPv6, good).has_value());
  EXPECT_FALSE(
      ParseMasqueradeEntry(Family::kIPv4, BuildJumpEntry(Family::kIPv4, "MASQUERADE")).has_value());
}

TEST(MasqueradeEntryTest, JumpEntryIsUnconditionalStandardTarget) {
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    const EntryBytes jump = BuildJumpEntry(family, "DIND-NETCFG-POSTROUTING");
    EXPECT_TRUE(IsUnconditional(family, jump));
    const std::size_t head_size = family == Family::kIPv4 ? sizeof(ipt_entry) : sizeof(ip6t_entry);
    ASSERT_EQ(jump.size(), head_size + XT_ALIGN(sizeof(xt_standard_target)));
    const xt_entry_target target = TargetOf(jump, head_size);
    EXPECT_STREQ(target.u.user.name, "DIND-NETCFG-POSTROUTING");
    EXPECT_EQ(target.u.user.target_size, XT_ALIGN(sizeof(xt_standard_target)));
  }
  EntryBytes goto_jump = BuildJumpEntry(Family::kIPv4, "X");
  ipt_entry head = HeadV4(goto_jump);
  head.ip.flags = IPT_F_GOTO;
  std::memcpy(goto_jump.data(), &head, sizeof(head));
  EXPECT_FALSE(IsUnconditional(Family::kIPv4, goto_jump));
  EXPECT_FALSE(IsUnconditional(Family::kIPv4, EntryView()));
}

TEST(MasqueradeEntryTest, RejectsInterfacesTheKernelWouldRefuse) {
  const Cidr source = MustCidr("10.1.0.0/16");
  for (const char* name : {"", "abcdefghijklmnop", "eth/0", "eth 0"}) {
    auto entry = BuildMasqueradeEntry(source, name);
    ASSERT_FALSE(entry.ok()) << name;
    EXPECT_EQ(entry.error().kind, ErrorKind::kBadInput);
    EXPECT_NE(entry.error().Message().find("out interface"), std::string::npos);
  }
}

}  // namespace
}  // namespace dind::rules::legacy

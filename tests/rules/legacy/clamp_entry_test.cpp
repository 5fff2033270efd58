// SPDX-License-Identifier: Apache-2.0
// The MSS clamp entries of the legacy backend, built and parsed without the kernel, and the
// spec's clamp list as both backends read it (ClampsOf).
#include <gtest/gtest.h>
#include <netinet/in.h>
// After netinet/in.h, as in the code under test.
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_TCPMSS.h>
#include <linux/netfilter/xt_tcpmss.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <cstddef>
#include <cstring>
#include <ostream>

#include "rules/legacy/masquerade_entry.h"

namespace dind::rules::legacy {
namespace {

Cidr C(const char* text) {
  return Cidr::Parse(text).value();
}

EntryBytes MustBuild(const char* network, ClampDirection direction, std::uint16_t mss) {
  auto entry = BuildClampEntry(C(network), direction, mss);
  EXPECT_TRUE(entry.ok()) << (entry.ok() ? "" : entry.error().Message());
  return entry.ok() ? *entry : EntryBytes{};
}

template <typename T>
T At(const EntryBytes& bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));
  return value;
}

constexpr std::size_t kTcpMatchSize = XT_ALIGN(sizeof(xt_entry_match)) + XT_ALIGN(sizeof(xt_tcp));
constexpr std::size_t kTcpmssMatchSize =
    XT_ALIGN(sizeof(xt_entry_match)) + XT_ALIGN(sizeof(xt_tcpmss_match_info));
constexpr std::size_t kTargetSize =
    XT_ALIGN(sizeof(xt_entry_target)) + XT_ALIGN(sizeof(xt_tcpmss_info));

struct ClampCase {
  const char* network;
  ClampDirection direction;
  std::uint16_t mss;
};

void PrintTo(const ClampCase& c, std::ostream* out) {
  *out << c.network << (c.direction == ClampDirection::kFromNetwork ? " from " : " to ") << c.mss;
}

class ClampRoundTripTest : public ::testing::TestWithParam<ClampCase> {};

TEST_P(ClampRoundTripTest, ParseGivesBackWhatWasBuilt) {
  const ClampCase& c = GetParam();
  const EntryBytes entry = MustBuild(c.network, c.direction, c.mss);
  const auto parsed = ParseClampEntry(C(c.network).family(), entry);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, (ClampEntry{C(c.network), c.direction, c.mss, 0, 0}));
  // Neither a masquerade rule nor a jump.
  EXPECT_FALSE(ParseMasqueradeEntry(C(c.network).family(), entry).has_value());
  EXPECT_FALSE(IsUnconditional(C(c.network).family(), entry));
}

INSTANTIATE_TEST_SUITE_P(
    Clamps, ClampRoundTripTest,
    ::testing::Values(ClampCase{"10.1.0.0/16", ClampDirection::kFromNetwork, 1320},
                      ClampCase{"10.1.0.0/16", ClampDirection::kToNetwork, 1320},
                      ClampCase{"172.18.0.0/23", ClampDirection::kToNetwork, 1},
                      ClampCase{"192.0.2.7/32", ClampDirection::kFromNetwork, 65534},
                      ClampCase{"fd00:1::/64", ClampDirection::kFromNetwork, 1300},
                      ClampCase{"fd00:1::/64", ClampDirection::kToNetwork, 1300},
                      ClampCase{"2001:db8::/33", ClampDirection::kToNetwork, 1220}));

TEST(ClampEntryTest, Ipv4LayoutIsWhatIptablesBuilds) {
  // -s 10.1.0.0/16 -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss 1321:65535
  // -j TCPMSS --set-mss 1320
  const EntryBytes entry = MustBuild("10.1.0.0/16", ClampDirection::kFromNetwork, 1320);
  ASSERT_EQ(entry.size(), sizeof(ipt_entry) + kTcpMatchSize + kTcpmssMatchSize + kTargetSize);
  const auto head = At<ipt_entry>(entry, 0);
  EXPECT_EQ(head.target_offset, sizeof(ipt_entry) + kTcpMatchSize + kTcpmssMatchSize);
  EXPECT_EQ(head.next_offset, entry.size());
  EXPECT_EQ(head.ip.src.s_addr, htonl(0x0a010000));
  EXPECT_EQ(head.ip.smsk.s_addr, htonl(0xffff0000));
  EXPECT_EQ(head.ip.dst.s_addr, 0u);
  EXPECT_EQ(head.ip.dmsk.s_addr, 0u);
  EXPECT_EQ(head.ip.proto, IPPROTO_TCP);
  EXPECT_EQ(head.ip.flags, 0);
  EXPECT_EQ(head.ip.invflags, 0);
  EXPECT_EQ(head.ip.outiface[0], '\0');

  std::size_t at = sizeof(ipt_entry);
  const auto tcp_header = At<xt_entry_match>(entry, at);
  EXPECT_STREQ(tcp_header.u.user.name, "tcp");
  EXPECT_EQ(tcp_header.u.user.match_size, kTcpMatchSize);
  EXPECT_EQ(tcp_header.u.user.revision, 0);
  const auto tcp = At<xt_tcp>(entry, at + sizeof(xt_entry_match));
  EXPECT_EQ(tcp.spts[0], 0);
  EXPECT_EQ(tcp.spts[1], 0xffff);
  EXPECT_EQ(tcp.dpts[0], 0);
  EXPECT_EQ(tcp.dpts[1], 0xffff);
  EXPECT_EQ(tcp.option, 0);
  EXPECT_EQ(tcp.flg_mask, 0x06);  // SYN,RST
  EXPECT_EQ(tcp.flg_cmp, 0x02);   // SYN
  EXPECT_EQ(tcp.invflags, 0);

  at += kTcpMatchSize;
  const auto mss_header = At<xt_entry_match>(entry, at);
  EXPECT_STREQ(mss_header.u.user.name, "tcpmss");
  EXPECT_EQ(mss_header.u.user.match_size, kTcpmssMatchSize);
  const auto range = At<xt_tcpmss_match_info>(entry, at + sizeof(xt_entry_match));
  EXPECT_EQ(range.mss_min, 1321);
  EXPECT_EQ(range.mss_max, 65535);
  EXPECT_EQ(range.invert, 0);

  at += kTcpmssMatchSize;
  const auto target = At<xt_entry_target>(entry, at);
  EXPECT_STREQ(target.u.user.name, "TCPMSS");
  EXPECT_EQ(target.u.user.target_size, kTargetSize);
  EXPECT_EQ(target.u.user.revision, 0);
  EXPECT_EQ(At<xt_tcpmss_info>(entry, at + sizeof(xt_entry_target)).mss, 1320);
}

TEST(ClampEntryTest, ToNetworkMatchesTheDestination) {
  const EntryBytes entry = MustBuild("10.1.0.0/16", ClampDirection::kToNetwork, 1320);
  const auto head = At<ipt_entry>(entry, 0);
  EXPECT_EQ(head.ip.src.s_addr, 0u);
  EXPECT_EQ(head.ip.smsk.s_addr, 0u);
  EXPECT_EQ(head.ip.dst.s_addr, htonl(0x0a010000));
  EXPECT_EQ(head.ip.dmsk.s_addr, htonl(0xffff0000));
}

TEST(ClampEntryTest, Ipv6SetsTheProtocolFlagAsIp6tablesDoes) {
  const EntryBytes entry = MustBuild("fd00:1::/64", ClampDirection::kToNetwork, 1300);
  ASSERT_EQ(entry.size(), sizeof(ip6t_entry) + kTcpMatchSize + kTcpmssMatchSize + kTargetSize);
  const auto head = At<ip6t_entry>(entry, 0);
  EXPECT_EQ(head.target_offset, sizeof(ip6t_entry) + kTcpMatchSize + kTcpmssMatchSize);
  EXPECT_EQ(head.ipv6.proto, IPPROTO_TCP);
  // Without IP6T_F_PROTO the kernel never finds the TCP header behind extension headers.
  EXPECT_EQ(head.ipv6.flags, IP6T_F_PROTO);
  EXPECT_EQ(head.ipv6.dst.s6_addr[0], 0xfd);
  EXPECT_EQ(head.ipv6.dmsk.s6_addr[7], 0xff);
  EXPECT_EQ(head.ipv6.dmsk.s6_addr[8], 0x00);
  EXPECT_EQ(head.ipv6.smsk.s6_addr[0], 0x00);
}

TEST(ClampEntryTest, ParseReadsCounters) {
  EntryBytes entry = MustBuild("10.1.0.0/16", ClampDirection::kFromNetwork, 1320);
  const xt_counters counters{42, 2520};
  std::memcpy(entry.data() + offsetof(ipt_entry, counters), &counters, sizeof(counters));
  const auto parsed = ParseClampEntry(Family::kIPv4, entry);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->packets, 42u);
  EXPECT_EQ(parsed->bytes, 2520u);
}

TEST(ClampEntryTest, ParseRejectsAnythingButOurExactForm) {
  const EntryBytes good = MustBuild("10.1.0.0/16", ClampDirection::kFromNetwork, 1320);
  ASSERT_TRUE(ParseClampEntry(Family::kIPv4, good).has_value());
  const std::size_t tcp_at = sizeof(ipt_entry) + sizeof(xt_entry_match);
  const std::size_t mss_at = sizeof(ipt_entry) + kTcpMatchSize + sizeof(xt_entry_match);
  const std::size_t target_at = sizeof(ipt_entry) + kTcpMatchSize + kTcpmssMatchSize;

  auto mutated = [&](auto change) {
    EntryBytes copy = good;
    auto head = At<ipt_entry>(copy, 0);
    change(head, copy);
    std::memcpy(copy.data(), &head, sizeof(head));
    return ParseClampEntry(Family::kIPv4, copy).has_value();
  };
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.invflags = IPT_INV_SRCIP; }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.proto = IPPROTO_UDP; }));
  // Both addresses set: neither direction of ours.
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) {
    h.ip.dst.s_addr = htonl(0x08080808);
    h.ip.dmsk.s_addr = 0xffffffff;
  }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) {
    std::strcpy(h.ip.iniface, "eth1");
    std::memset(h.ip.iniface_mask, 0xff, 5);
  }));
  EXPECT_FALSE(mutated([](ipt_entry& h, EntryBytes&) { h.ip.src.s_addr = htonl(0x0a010001); }));
  // --tcp-flags SYN SYN (SYN-ACK of RST too), ! --tcp-flags, a port, ! --mss, another range.
  EXPECT_FALSE(
      mutated([&](ipt_entry&, EntryBytes& b) { b[tcp_at + offsetof(xt_tcp, flg_mask)] = 0x02; }));
  EXPECT_FALSE(mutated([&](ipt_entry&, EntryBytes& b) {
    b[tcp_at + offsetof(xt_tcp, invflags)] = XT_TCP_INV_FLAGS;
  }));
  EXPECT_FALSE(mutated([&](ipt_entry&, EntryBytes& b) {
    const std::uint16_t port = 443;
    std::memcpy(&b[tcp_at + offsetof(xt_tcp, dpts)], &port, sizeof(port));
  }));
  EXPECT_FALSE(mutated(
      [&](ipt_entry&, EntryBytes& b) { b[mss_at + offsetof(xt_tcpmss_match_info, invert)] = 1; }));
  EXPECT_FALSE(mutated([&](ipt_entry&, EntryBytes& b) {
    const std::uint16_t min = 1000;  // clamps SYNs that already fit
    std::memcpy(&b[mss_at + offsetof(xt_tcpmss_match_info, mss_min)], &min, sizeof(min));
  }));
  // --clamp-mss-to-pmtu is 0xffff; an MSS of 0 would stop TCP.
  for (const std::uint16_t mss : {std::uint16_t{0}, std::uint16_t{0xffff}}) {
    EXPECT_FALSE(mutated([&](ipt_entry&, EntryBytes& b) {
      std::memcpy(&b[target_at + sizeof(xt_entry_target)], &mss, sizeof(mss));
    }));
  }
  EXPECT_FALSE(mutated([&](ipt_entry&, EntryBytes& b) {
    b[target_at + offsetof(xt_entry_target, u.user.name)] = 'X';
  }));
  EXPECT_FALSE(mutated([&](ipt_entry&, EntryBytes& b) {
    b[sizeof(ipt_entry) + offsetof(xt_entry_match, u.user.name)] = 'u';  // udp
  }));

  EntryBytes truncated = good;
  truncated.pop_back();
  EXPECT_FALSE(ParseClampEntry(Family::kIPv4, truncated).has_value());
  EXPECT_FALSE(ParseClampEntry(Family::kIPv4, EntryView()).has_value());
  EXPECT_FALSE(ParseClampEntry(Family::kIPv6, good).has_value());
  EXPECT_FALSE(
      ParseClampEntry(Family::kIPv4, BuildMasqueradeEntry(C("10.1.0.0/16"), "eth0").value())
          .has_value());
  EXPECT_FALSE(ParseClampEntry(Family::kIPv4, BuildJumpEntry(Family::kIPv4, "TCPMSS")).has_value());
}

TEST(ClampEntryTest, ParseIgnoresWhatTheKernelLeavesBehindTheMatchNames) {
  // The kernel copies back only a match's name and its NUL; the rest of the field is whatever
  // the buffer held (seen from libiptc: "tcp\0" followed by a chain name).
  EntryBytes entry = MustBuild("10.1.0.0/16", ClampDirection::kToNetwork, 1320);
  const std::size_t name_at = sizeof(ipt_entry) + offsetof(xt_entry_match, u.user.name);
  std::memcpy(&entry[name_at + 4], "DIND-NETCFG", 11);
  const std::size_t mss_name_at =
      sizeof(ipt_entry) + kTcpMatchSize + offsetof(xt_entry_match, u.user.name);
  std::memset(&entry[mss_name_at + 7], 0xff, 7);
  const auto parsed = ParseClampEntry(Family::kIPv4, entry);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->mss, 1320);
}

TEST(ClampEntryTest, RejectsAnMssTheKernelCannotSet) {
  for (const std::uint16_t mss : {std::uint16_t{0}, std::uint16_t{65535}}) {
    auto entry = BuildClampEntry(C("10.1.0.0/16"), ClampDirection::kFromNetwork, mss);
    ASSERT_FALSE(entry.ok()) << mss;
    EXPECT_EQ(entry.error().kind, ErrorKind::kBadInput);
  }
}

TEST(ClampsOfTest, SplitsByFamilyAndKeepsTheLowestMssPerNetwork) {
  MasqueradeSpec spec;
  spec.clamps = {{C("10.1.0.0/16"), 1400},
                 {C("fd00:1::/64"), 1300},
                 {C("10.2.0.0/24"), 1320},
                 {C("10.1.0.0/16"), 1360},
                 {C("10.1.0.0/16"), 1380}};
  const auto v4 = ClampsOf(spec, Family::kIPv4);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(*v4, (std::vector<MssClamp>{{C("10.1.0.0/16"), 1360}, {C("10.2.0.0/24"), 1320}}));
  const auto v6 = ClampsOf(spec, Family::kIPv6);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(*v6, (std::vector<MssClamp>{{C("fd00:1::/64"), 1300}}));
}

TEST(ClampsOfTest, RejectsMssOutOfRangeAndEveryAddressWhateverTheFamilyAsked) {
  for (const MssClamp& bad : {MssClamp{C("10.1.0.0/16"), 0}, MssClamp{C("fd00:1::/64"), 65535},
                              MssClamp{C("0.0.0.0/0"), 1300}, MssClamp{C("::/0"), 1300}}) {
    MasqueradeSpec spec;
    spec.clamps = {bad};
    for (Family family : {Family::kIPv4, Family::kIPv6}) {
      const auto clamps = ClampsOf(spec, family);
      ASSERT_FALSE(clamps.ok()) << bad.network.ToString() << " " << bad.mss;
      EXPECT_EQ(clamps.error().kind, ErrorKind::kBadInput);
    }
  }
}

}  // namespace
}  // namespace dind::rules::legacy

// SPDX-License-Identifier: Apache-2.0
#include "common/cidr.h"

#include <gtest/gtest.h>

namespace dind {
namespace {

TEST(CidrTest, ParsesAndNormalisesHostBits) {
  auto cidr = Cidr::Parse("10.1.2.3/16");
  ASSERT_TRUE(cidr.ok());
  EXPECT_EQ(cidr->ToString(), "10.1.0.0/16");
  EXPECT_EQ(Cidr::Parse("fd00::1/64")->ToString(), "fd00::/64");
}

TEST(CidrTest, BareAddressIsAHostPrefix) {
  EXPECT_EQ(Cidr::Parse("10.96.0.1")->ToString(), "10.96.0.1/32");
  EXPECT_EQ(Cidr::Parse("2001:db8::53")->prefix_length(), 128);
}

TEST(CidrTest, RejectsBadInputNamingIt) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0/8", "fd00::/129", "10.0.0.0/", "10.0.0.0/x",
                          "10.0.0.0/8/8", "eth0", "10.0.0.0/-1"}) {
    auto cidr = Cidr::Parse(bad);
    ASSERT_FALSE(cidr.ok()) << bad;
    EXPECT_EQ(cidr.error().kind, ErrorKind::kBadInput);
    EXPECT_NE(cidr.error().Message().find(std::string("'") + bad + "'"), std::string::npos)
        << cidr.error().Message();
  }
}

TEST(CidrTest, ContainmentAndOverlap) {
  const Cidr big = *Cidr::Parse("172.16.0.0/12");
  const Cidr small = *Cidr::Parse("172.17.0.0/16");
  const Cidr other = *Cidr::Parse("192.168.0.0/16");
  EXPECT_TRUE(big.Contains(small));
  EXPECT_FALSE(small.Contains(big));
  EXPECT_TRUE(big.Overlaps(small));
  EXPECT_TRUE(small.Overlaps(big));
  EXPECT_FALSE(small.Overlaps(other));
  EXPECT_TRUE(small.Contains(*IpAddress::Parse("172.17.255.255")));
  EXPECT_FALSE(small.Contains(*IpAddress::Parse("172.18.0.0")));
  EXPECT_FALSE(small.Overlaps(*Cidr::Parse("::/0"))) << "families never overlap";
  EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains(small));
}

TEST(CidrTest, HostArithmeticCarriesAcrossOctets) {
  EXPECT_EQ(Cidr::Parse("172.17.0.0/16")->Host(1).ToString(), "172.17.0.1");
  EXPECT_EQ(Cidr::Parse("10.0.0.0/8")->Host(256).ToString(), "10.0.1.0");
  EXPECT_EQ(Cidr::Parse("fd00::/64")->Host(0x10000).ToString(), "fd00::1:0");
}

TEST(CidrTest, CidrStringsKeepOrderAndHostBitsCleared) {
  EXPECT_EQ(CidrStrings({*Cidr::Parse("10.1.2.3/16"), *Cidr::Parse("fd00::1/64")}),
            (std::vector<std::string>{"10.1.0.0/16", "fd00::/64"}));
  EXPECT_TRUE(CidrStrings({}).empty());
}

}  // namespace
}  // namespace dind

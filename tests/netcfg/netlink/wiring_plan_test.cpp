// SPDX-License-Identifier: Apache-2.0
// How each wiring step describes itself: the words progress reports and errors use.
#include "netcfg/netlink/wiring_plan.h"

#include <gtest/gtest.h>

namespace dind::netcfg {
namespace {

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}

TEST(DescribeStepTest, VethPairNamesWhereThePeerGoesAndAnMtuWhenSet) {
  EXPECT_EQ(
      DescribeStep(CreateVethPair{NetnsSide::kPod, "dnc-probe0", "eth0", NetnsSide::kProbe, 1500}),
      "pod: create veth dnc-probe0 with peer eth0 in the probe namespace, MTU 1500");
  EXPECT_EQ(DescribeStep(
                CreateVethPair{NetnsSide::kPod, "dind-proof0", "dind-proof1", NetnsSide::kOutside}),
            "pod: create veth dind-proof0 with peer dind-proof1 in outside");
}

TEST(DescribeStepTest, EachStepStartsWithItsSide) {
  EXPECT_EQ(DescribeStep(SetLinkUp{NetnsSide::kProbe, "lo"}), "probe: set lo up");
  EXPECT_EQ(DescribeStep(EnslaveToBridge{NetnsSide::kPod, "dnc-probe0", "docker0", 4}),
            "pod: enslave dnc-probe0 to bridge docker0");
  EXPECT_EQ(DescribeStep(AddAddress{NetnsSide::kOutside, "dind-proof1", Ip("192.0.2.2"), 30}),
            "outside: add 192.0.2.2/30 to dind-proof1");
  EXPECT_EQ(DescribeStep(AddAddress{NetnsSide::kProbe, "eth0", Ip("fd00:db8:1::ffff"), 64, true}),
            "probe: add fd00:db8:1::ffff/64 to eth0 without DAD");
  EXPECT_EQ(DescribeStep(AwaitOperUp{NetnsSide::kPod, "dind-proof0", std::chrono::seconds(1)}),
            "pod: wait up to 1000 ms for dind-proof0 to be operationally up");
  EXPECT_EQ(DescribeStep(AwaitOperUp{NetnsSide::kOutside, "dind-proof1"}),
            "outside: wait up to 10000 ms for dind-proof1 to be operationally up")
      << "kLinkUpDeadline by default";
}

TEST(DescribeStepTest, DefaultRouteAndRouteWithOrWithoutDevice) {
  EXPECT_EQ(DescribeStep(AddRoute{NetnsSide::kProbe, Cidr::Parse("0.0.0.0/0").value(),
                                  Ip("172.17.0.1"), "eth0"}),
            "probe: add default route via 172.17.0.1 dev eth0");
  EXPECT_EQ(DescribeStep(AddRoute{NetnsSide::kOutside, Cidr::Parse("198.51.100.1/32").value(),
                                  Ip("192.0.2.1"), ""}),
            "outside: add route 198.51.100.1/32 via 192.0.2.1");
  EXPECT_EQ(DescribeStep(AddRoute{NetnsSide::kProbe, Cidr::Parse("::/0").value(),
                                  Ip("fd00:db8:1::1"), "eth0"}),
            "probe: add default route via fd00:db8:1::1 dev eth0");
}

TEST(SideNameTest, EverySide) {
  EXPECT_EQ(SideName(NetnsSide::kPod), "pod");
  EXPECT_EQ(SideName(NetnsSide::kProbe), "probe");
  EXPECT_EQ(SideName(NetnsSide::kOutside), "outside");
}

}  // namespace
}  // namespace dind::netcfg

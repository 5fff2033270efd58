// SPDX-License-Identifier: Apache-2.0
// The probe attachment's plan, built from bridge facts without a kernel.
#include "daemon/egress/attach_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::egress {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}
Cidr Net(const char* text) {
  return Cidr::Parse(text).value();
}

BridgeFacts Docker0() {
  return {"docker0", 4, Net("172.17.0.0/16"), Ip("172.17.0.1"), 1500};
}

netcfg::NetworkSnapshot PodWithDocker0() {
  netcfg::NetworkSnapshot pod;
  pod.links.push_back({4, "docker0", "bridge", 1450, true});
  pod.addresses.push_back({4, Ip("fe80::1"), 64});
  pod.addresses.push_back({4, Ip("172.17.0.1"), 16});
  pod.addresses.push_back({4, Ip("172.18.0.1"), 16});  // a second address: the first one counts
  return pod;
}

TEST(FindBridgeTest, PresentWithItsFirstIpv4Address) {
  const BridgeLookup lookup = FindBridge(PodWithDocker0(), "docker0");
  ASSERT_EQ(lookup.state, BridgeLookup::State::kPresent);
  ASSERT_TRUE(lookup.facts);
  EXPECT_EQ(*lookup.facts,
            (BridgeFacts{"docker0", 4, Net("172.17.0.0/16"), Ip("172.17.0.1"), 1450}));
}

TEST(FindBridgeTest, Ipv4OnlyBridgeHasNoIpv6Facts) {
  EXPECT_FALSE(FindBridge(PodWithDocker0(), "docker0").facts->ipv6)
      << "its link-local fe80::1 says nothing about an IPv6 network";
}

TEST(FindBridgeTest, DualStackBridgeGivesItsFirstGlobalIpv6Network) {
  netcfg::NetworkSnapshot pod = PodWithDocker0();
  pod.addresses.push_back({4, Ip("fd00:db8:1::1"), 64});
  pod.addresses.push_back({4, Ip("2001:db8:9::1"), 64});  // a second one: the first counts
  pod.addresses.push_back({7, Ip("2001:db8:7::1"), 64});  // another link's
  const BridgeLookup lookup = FindBridge(pod, "docker0");
  ASSERT_EQ(lookup.state, BridgeLookup::State::kPresent);
  ASSERT_TRUE(lookup.facts && lookup.facts->ipv6);
  EXPECT_EQ(*lookup.facts->ipv6, (BridgeIpv6{Net("fd00:db8:1::/64"), Ip("fd00:db8:1::1")}));
  EXPECT_EQ(lookup.facts->network, Net("172.17.0.0/16"));

  netcfg::NetworkSnapshot v6_only;
  v6_only.links.push_back({4, "docker0", "bridge", 1500, true});
  v6_only.addresses.push_back({4, Ip("fd00:db8:1::1"), 64});
  EXPECT_EQ(FindBridge(v6_only, "docker0").state, BridgeLookup::State::kNoIpv4Address)
      << "dockerd's default bridge always has IPv4; the probe stands on it";
}

TEST(FindBridgeTest, AbsentNotABridgeOrNotAddressedYet) {
  EXPECT_EQ(FindBridge(PodWithDocker0(), "br-kind").state, BridgeLookup::State::kAbsent);

  netcfg::NetworkSnapshot veth;
  veth.links.push_back({5, "docker0", "veth", 1500, true});
  const BridgeLookup wrong = FindBridge(veth, "docker0");
  EXPECT_EQ(wrong.state, BridgeLookup::State::kNotABridge);
  EXPECT_EQ(wrong.kind, "veth");

  netcfg::NetworkSnapshot bare;
  bare.links.push_back({4, "docker0", "bridge", 1500, false});
  bare.addresses.push_back({4, Ip("fe80::1"), 64});
  bare.addresses.push_back({9, Ip("10.0.0.1"), 24});  // another link's address
  EXPECT_EQ(FindBridge(bare, "docker0").state, BridgeLookup::State::kNoIpv4Address);
}

TEST(ReservedProbeAddressTest, LastUsableAddressOfTheNetwork) {
  EXPECT_EQ(*ReservedProbeAddress(Net("172.17.0.0/16"), Ip("172.17.0.1")), Ip("172.17.255.254"));
  EXPECT_EQ(*ReservedProbeAddress(Net("10.200.3.0/24"), Ip("10.200.3.1")), Ip("10.200.3.254"));
  EXPECT_EQ(*ReservedProbeAddress(Net("192.168.9.8/29"), Ip("192.168.9.9")), Ip("192.168.9.14"));
}

TEST(ReservedProbeAddressTest, StepsAsideForAGatewayAtTheTop) {
  EXPECT_EQ(*ReservedProbeAddress(Net("10.1.0.0/24"), Ip("10.1.0.254")), Ip("10.1.0.253"));
}

TEST(ReservedProbeAddressTest, RefusesTinyNetworks) {
  for (const char* network : {"10.0.0.0/30", "10.0.0.0/31", "10.0.0.1/32"}) {
    auto address = ReservedProbeAddress(Net(network), Ip("10.0.0.1"));
    ASSERT_FALSE(address.ok()) << network;
    EXPECT_THAT(address.error().Message(), HasSubstr("too small"));
    EXPECT_THAT(address.error().Message(), HasSubstr("\"bip\""));
  }
  for (const char* network : {"fd00::/127", "fd00::1/128"}) {
    auto address = ReservedProbeAddress(Net(network), Ip("fd00::1"));
    ASSERT_FALSE(address.ok()) << network;
    EXPECT_EQ(address.error().kind, ErrorKind::kBadInput);
    EXPECT_THAT(address.error().Message(), HasSubstr("IPv6 network"));
    EXPECT_THAT(address.error().Message(), HasSubstr("\"fixed-cidr-v6\""));
  }
}

TEST(ReservedProbeAddressTest, Ipv6TakesTheLastAddressOfTheNetwork) {
  // IPv6 has no broadcast address: the very last one is usable.
  EXPECT_EQ(*ReservedProbeAddress(Net("fd00:db8:1::/64"), Ip("fd00:db8:1::1")),
            Ip("fd00:db8:1:0:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(*ReservedProbeAddress(Net("2001:db8:5:4:3:2:1:0/112"), Ip("2001:db8:5:4:3:2:1:1")),
            Ip("2001:db8:5:4:3:2:1:ffff"));
  EXPECT_EQ(*ReservedProbeAddress(Net("2001:db8::/61"), Ip("2001:db8::1")),
            Ip("2001:db8:0:7:ffff:ffff:ffff:ffff"))
      << "a prefix that ends inside a byte";
  EXPECT_EQ(*ReservedProbeAddress(Net("fd00::/126"), Ip("fd00::1")), Ip("fd00::3"));
  EXPECT_EQ(*ReservedProbeAddress(Net("fd00::/126"), Ip("fd00::3")), Ip("fd00::2"))
      << "steps aside for a gateway at the top";
}

TEST(SuggestedFixedCidrTest, LowerHalfKeepsDockerdOffTheReservedAddress) {
  EXPECT_EQ(SuggestedFixedCidr(Net("172.17.0.0/16")), Net("172.17.0.0/17"));
  EXPECT_FALSE(SuggestedFixedCidr(Net("172.17.0.0/16")).Contains(Ip("172.17.255.254")));
  EXPECT_EQ(SuggestedFixedCidr(Net("10.200.3.0/24")), Net("10.200.3.0/25"));
}

TEST(ProbeHostLinkNameTest, FitsIfnamsiz) {
  EXPECT_EQ(ProbeHostLinkName(0), "dnc-probe0");
  EXPECT_LE(ProbeHostLinkName(999999).size(), 15u);
}

TEST(PlanAttachmentTest, StepsInOrder) {
  auto plan = PlanAttachment(Docker0());
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_EQ(plan->host_link, "dnc-probe0");
  EXPECT_EQ(plan->probe_link, "eth0");
  EXPECT_EQ(plan->probe_address, Ip("172.17.255.254"));
  EXPECT_EQ(plan->suggested_fixed_cidr, Net("172.17.0.0/17"));

  std::vector<std::string> described;
  for (const netcfg::WiringStep& step : plan->steps)
    described.push_back(netcfg::DescribeStep(step));
  EXPECT_THAT(
      described,
      ElementsAre("pod: create veth dnc-probe0 with peer eth0 in the probe namespace, "
                  "MTU 1500",
                  "probe: set lo up", "probe: set eth0 up", "probe: add 172.17.255.254/16 to eth0",
                  "probe: add default route via 172.17.0.1 dev eth0",
                  "pod: enslave dnc-probe0 to bridge docker0", "pod: set dnc-probe0 up"));

  const auto& enslave = std::get<netcfg::EnslaveToBridge>(plan->steps[5]);
  EXPECT_EQ(enslave.bridge_index, 4) << "the plan is for this bridge, not a newer namesake";
  EXPECT_EQ(std::get<netcfg::CreateVethPair>(plan->steps[0]).mtu, 1500u);
}

TEST(PlanAttachmentTest, DualStackBridgeAddsTheIpv6AddressWithoutDadAndARoute) {
  BridgeFacts bridge = Docker0();
  bridge.ipv6 = BridgeIpv6{Net("fd00:db8:1::/64"), Ip("fd00:db8:1::1")};
  auto plan = PlanAttachment(bridge);
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_EQ(plan->probe_address, Ip("172.17.255.254"));
  EXPECT_EQ(plan->probe_address_v6, Ip("fd00:db8:1:0:ffff:ffff:ffff:ffff"));

  std::vector<std::string> described;
  for (const netcfg::WiringStep& step : plan->steps)
    described.push_back(netcfg::DescribeStep(step));
  EXPECT_THAT(
      described,
      ElementsAre("pod: create veth dnc-probe0 with peer eth0 in the probe namespace, "
                  "MTU 1500",
                  "probe: set lo up", "probe: set eth0 up", "probe: add 172.17.255.254/16 to eth0",
                  "probe: add default route via 172.17.0.1 dev eth0",
                  "probe: add fd00:db8:1:0:ffff:ffff:ffff:ffff/64 to eth0 without DAD",
                  "probe: add default route via fd00:db8:1::1 dev eth0",
                  "pod: enslave dnc-probe0 to bridge docker0", "pod: set dnc-probe0 up"));
  const auto& route = std::get<netcfg::AddRoute>(plan->steps[6]);
  EXPECT_EQ(route.destination, Net("::/0"));
  EXPECT_TRUE(std::get<netcfg::AddAddress>(plan->steps[5]).no_dad);
  EXPECT_FALSE(std::get<netcfg::AddAddress>(plan->steps[3]).no_dad);
}

TEST(PlanAttachmentTest, Ipv4OnlyBridgeHasNoIpv6Address) {
  auto plan = PlanAttachment(Docker0());
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->probe_address_v6);
  EXPECT_EQ(plan->steps.size(), 7u);
}

TEST(PlanAttachmentTest, TooSmallIpv6NetworkIsAnError) {
  BridgeFacts bridge = Docker0();
  bridge.ipv6 = BridgeIpv6{Net("fd00::/127"), Ip("fd00::1")};
  auto plan = PlanAttachment(bridge);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.error().Message(), HasSubstr("fd00::/127"));
}

TEST(PlanAttachmentTest, SlotNumbersTheVeth) {
  auto plan = PlanAttachment(Docker0(), 3);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->host_link, "dnc-probe3");
  EXPECT_EQ(std::get<netcfg::CreateVethPair>(plan->steps[0]).name, "dnc-probe3");
}

TEST(PlanAttachmentTest, FollowsTheBridgeMtu) {
  BridgeFacts bridge = Docker0();
  bridge.mtu = 1400;
  EXPECT_EQ(std::get<netcfg::CreateVethPair>(PlanAttachment(bridge)->steps[0]).mtu, 1400u);
}

TEST(PlanAttachmentTest, TooSmallNetworkIsAnError) {
  BridgeFacts bridge = Docker0();
  bridge.network = Net("172.17.0.0/30");
  EXPECT_FALSE(PlanAttachment(bridge).ok());
}

BridgeLookup Present(BridgeFacts facts) {
  return {BridgeLookup::State::kPresent, std::move(facts), ""};
}

TEST(DecideAttachmentTest, Table) {
  const BridgeLookup absent{};
  const BridgeLookup unaddressed{BridgeLookup::State::kNoIpv4Address, std::nullopt, ""};
  BridgeFacts recreated = Docker0();
  recreated.index = 17;
  BridgeFacts readdressed = Docker0();
  readdressed.network = Net("10.10.0.0/16");
  readdressed.gateway = Ip("10.10.0.1");
  BridgeFacts new_mtu = Docker0();
  new_mtu.mtu = 1400;
  BridgeFacts ipv6_added = Docker0();
  ipv6_added.ipv6 = BridgeIpv6{Net("fd00:db8:1::/64"), Ip("fd00:db8:1::1")};

  EXPECT_EQ(DecideAttachment(std::nullopt, absent, false), AttachAction::kStayDetached);
  EXPECT_EQ(DecideAttachment(std::nullopt, unaddressed, false), AttachAction::kStayDetached);
  EXPECT_EQ(DecideAttachment(std::nullopt, Present(Docker0()), false), AttachAction::kAttach);
  EXPECT_EQ(DecideAttachment(Docker0(), Present(Docker0()), true), AttachAction::kKeep);
  EXPECT_EQ(DecideAttachment(Docker0(), Present(Docker0()), false), AttachAction::kReattach)
      << "someone deleted or unplugged the probe's port";
  EXPECT_EQ(DecideAttachment(Docker0(), Present(recreated), false), AttachAction::kReattach);
  EXPECT_EQ(DecideAttachment(Docker0(), Present(readdressed), true), AttachAction::kReattach);
  EXPECT_EQ(DecideAttachment(Docker0(), Present(new_mtu), true), AttachAction::kReattach);
  EXPECT_EQ(DecideAttachment(Docker0(), Present(ipv6_added), true), AttachAction::kReattach)
      << "the probe needs its IPv6 address";
  EXPECT_EQ(DecideAttachment(ipv6_added, Present(ipv6_added), true), AttachAction::kKeep);
  EXPECT_EQ(DecideAttachment(Docker0(), absent, false), AttachAction::kDetach);
  EXPECT_EQ(DecideAttachment(Docker0(), unaddressed, true), AttachAction::kDetach);
}

}  // namespace
}  // namespace dind::egress

// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/ipv6.h"

#include <gtest/gtest.h>

#include "netcfg/detect/daemon_json_plan.h"
#include "netcfg/detect/detection_report.h"
#include "netcfg/detect/detector.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

using testing::FindUpdate;

FamilyEgress EgressOf(const SystemFacts& facts) {
  return FindFamilyEgress(facts.network, FindUplinks(facts.network));
}

TEST(Ipv6ModeTest, ParsesTheThreeModesOnly) {
  EXPECT_EQ(ParseIpv6Mode("auto"), Ipv6Mode::kAuto);
  EXPECT_EQ(ParseIpv6Mode("on"), Ipv6Mode::kOn);
  EXPECT_EQ(ParseIpv6Mode("off"), Ipv6Mode::kOff);
  EXPECT_EQ(ParseIpv6Mode("true"), std::nullopt);
  EXPECT_EQ(ParseIpv6Mode(""), std::nullopt);
}

TEST(FamilyEgressTest, TellsTheThreeKindsOfPod) {
  EXPECT_EQ(EgressOf(testing::PodFacts()).families(), PodFamilies::kIPv4Only);
  EXPECT_EQ(EgressOf(testing::DualStackPodFacts()).families(), PodFamilies::kDualStack);
  EXPECT_EQ(EgressOf(testing::Ipv6OnlyPodFacts()).families(), PodFamilies::kIPv6Only);
  SystemFacts none = testing::PodFacts();
  none.network.routes.clear();
  EXPECT_EQ(EgressOf(none).families(), std::nullopt);
}

TEST(FamilyEgressTest, AnIpv6DefaultRouteWithOnlyLinkLocalAddressesIsNoEgress) {
  // What a router advertisement leaves on an IPv4-only pod's eth0.
  SystemFacts facts = testing::PodFacts();
  facts.network.addresses.push_back(testing::Address(2, "fe80::5/64"));
  facts.network.routes.push_back(testing::Route("::/0", 2, "fe80::1"));
  EXPECT_EQ(EgressOf(facts).families(), PodFamilies::kIPv4Only);
}

TEST(FamilyEgressTest, DockerBridgeAddressesAreNotThePods) {
  SystemFacts facts = testing::PodFacts();
  facts.network.links.push_back(testing::Link(3, "docker0", "bridge", 1500));
  facts.network.addresses.push_back(testing::Address(3, "fd4d:6e63:6667::1/64"));
  facts.network.routes.push_back(testing::Route("::/0", 2, "fe80::1"));
  EXPECT_FALSE(EgressOf(facts).ipv6);
}

TEST(DecideIpv6Test, AutoFollowsThePodsIpv6Egress) {
  const DockerVersion docker27{27, 3, 1};
  auto without = DecideIpv6(Ipv6Mode::kAuto, {.ipv4 = true}, docker27, {});
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->enabled);
  EXPECT_NE(without->reason.find("no IPv6 egress"), std::string::npos) << without->reason;

  auto with = DecideIpv6(Ipv6Mode::kAuto, {.ipv4 = true, .ipv6 = true}, docker27, {});
  ASSERT_TRUE(with.ok());
  EXPECT_TRUE(with->enabled);
  EXPECT_EQ(with->fixed_cidr_v6->ToString(), "fd4d:6e63:6667::/64");
  EXPECT_EQ(with->pool->base.ToString(), "fd4d:6e63:6667:100::/56");
  EXPECT_EQ(with->pool->size, 64);
  EXPECT_FALSE(with->experimental);
}

TEST(DecideIpv6Test, OffWinsOverEgressAndOnOverItsAbsence) {
  const DockerVersion docker27{27, 0, 0};
  auto off = DecideIpv6(Ipv6Mode::kOff, {.ipv4 = true, .ipv6 = true}, docker27, {});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled);
  EXPECT_FALSE(off->fixed_cidr_v6);
  auto on = DecideIpv6(Ipv6Mode::kOn, {.ipv4 = true}, docker27, {});
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->enabled);
  EXPECT_NE(on->reason.find("no IPv6 egress"), std::string::npos) << on->reason;
}

TEST(DecideIpv6Test, DockerdBefore27GetsExperimentalAndAPoolItCanSplit) {
  auto decision = DecideIpv6(Ipv6Mode::kOn, {.ipv6 = true}, {20, 10, 24}, {});
  ASSERT_TRUE(decision.ok());
  EXPECT_TRUE(decision->experimental);
  // moby/moby#42801: before 27 only the last 64 bits of an IPv6 base are split.
  EXPECT_EQ(decision->pool->base.ToString(), "fd4d:6e63:6667:1::/64");
  EXPECT_EQ(decision->pool->size, 80);
  EXPECT_FALSE(decision->fixed_cidr_v6->Overlaps(decision->pool->base));
}

TEST(DecideIpv6Test, TheUlaAvoidsWhatThePodReachesAndFailsWhenNothingIsLeft) {
  std::vector<AvoidedRange> avoided{{*Cidr::Parse("fd4d:6e63:6667:5::/64"), "route via eth0"}};
  auto decision = DecideIpv6(Ipv6Mode::kOn, {.ipv6 = true}, {27, 0, 0}, avoided);
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->fixed_cidr_v6->ToString(), "fd4d:6e63:6668::/64");

  avoided = {{*Cidr::Parse("fd00::/8"), "--avoid"}};
  auto none = DecideIpv6(Ipv6Mode::kOn, {.ipv6 = true}, {27, 0, 0}, avoided);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().Message().find("no free IPv6 ULA"), std::string::npos);
  EXPECT_NE(none.error().Message().find("--ipv6 off"), std::string::npos);
}

TEST(DetectIpv6Test, DualStackPodGetsIpv6KeysForItsDockerd) {
  auto report = Detect(testing::DualStackPodFacts(1450), {.dockerd_version = "20.10.24"});
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_EQ(report->families, PodFamilies::kDualStack);
  const auto updates = PlanDaemonJson(*report);
  EXPECT_EQ(FindUpdate(updates, "ipv6")->value, OrderedJson(true));
  EXPECT_EQ(FindUpdate(updates, "fixed-cidr-v6")->value, OrderedJson("fd4d:6e63:6667::/64"));
  EXPECT_EQ(FindUpdate(updates, "ip6tables")->value, OrderedJson(true));
  EXPECT_EQ(FindUpdate(updates, "experimental")->value, OrderedJson(true));
  EXPECT_EQ(FindUpdate(updates, "default-address-pools")->value->dump(),
            R"([{"base":"172.18.0.0/16","size":24},{"base":"172.19.0.0/16","size":24},)"
            R"({"base":"fd4d:6e63:6667:1::/64","size":80}])");

  auto newer = Detect(testing::DualStackPodFacts(1450), {.dockerd_version = "28.1.1"});
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*newer), "experimental"), nullptr);
}

TEST(DetectIpv6Test, Ipv4OnlyPodAndIpv6OffWriteNoIpv6Key) {
  for (const auto& [facts, mode] : {std::pair(testing::PodFacts(), Ipv6Mode::kAuto),
                                    std::pair(testing::DualStackPodFacts(), Ipv6Mode::kOff)}) {
    auto report = Detect(facts, {.dockerd_version = "27.0", .ipv6 = mode});
    ASSERT_TRUE(report.ok());
    const auto updates = PlanDaemonJson(*report);
    for (const char* key : {"ipv6", "fixed-cidr-v6", "ip6tables", "experimental"}) {
      EXPECT_EQ(FindUpdate(updates, key), nullptr) << key;
    }
  }
}

TEST(DetectIpv6Test, Ipv6OnlyPodIsDetectedWithItsProblemNamed) {
  auto report = Detect(testing::Ipv6OnlyPodFacts(1450), {.dockerd_version = "27.0"});
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_EQ(report->families, PodFamilies::kIPv6Only);
  EXPECT_EQ(report->primary_uplink().interface, "eth0");
  EXPECT_EQ(report->mtu.docker, 1450u);
  EXPECT_TRUE(report->ipv6.enabled);
  bool named = false;
  for (const auto& warning : report->warnings) {
    named = named || (warning.find("IPv6-only") != std::string::npos &&
                      warning.find("NAT64") != std::string::npos);
  }
  EXPECT_TRUE(named) << ReportToText(*report);
  EXPECT_NE(ReportToText(*report).find("families    ipv6-only"), std::string::npos);
}

TEST(DetectIpv6Test, TheNarrowerFamilysUplinkSetsTheDockerMtu) {
  SystemFacts facts = testing::DualStackPodFacts(1500);
  facts.network.links.push_back(testing::Link(3, "wg0", "wireguard", 1420));
  facts.network.addresses.push_back(testing::Address(3, "2001:db8:2::5/64"));
  facts.network.routes = {testing::Route("0.0.0.0/0", 2, "10.244.1.1"), testing::Route("::/0", 3)};
  auto report = Detect(facts, {.dockerd_version = "27.0"});
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_EQ(report->mtu.docker, 1420u);
  EXPECT_NE(report->mtu.reason.find("IPv6 uplink"), std::string::npos) << report->mtu.reason;
}

}  // namespace
}  // namespace dind::netcfg

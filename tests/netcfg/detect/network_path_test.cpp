// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/network_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {
using testing::Link;
using testing::PodFacts;
using testing::Route;

TEST(FindUplinksTest, PicksDefaultRouteInterfaceWithLowestMetricInMainTable) {
  SystemFacts facts = PodFacts();
  facts.network.links.push_back(Link(3, "net1", "macvlan", 9000));
  RouteInfo other_table = Route("0.0.0.0/0", 3, "192.168.5.1", 100);
  RouteInfo worse_metric = Route("0.0.0.0/0", 3, "192.168.5.1");
  worse_metric.priority = 500;
  facts.network.routes.push_back(other_table);
  facts.network.routes.push_back(worse_metric);
  const Uplinks uplinks = FindUplinks(facts.network);
  ASSERT_TRUE(uplinks.ipv4);
  EXPECT_EQ(uplinks.ipv4->interface, "eth0");
  EXPECT_EQ(uplinks.ipv4->gateway->ToString(), "10.244.1.1");
  EXPECT_EQ(uplinks.ipv4->addresses, std::vector<std::string>{"10.244.1.5/24"});
  EXPECT_FALSE(uplinks.ipv6);
}

TEST(FindUplinksTest, FindsIpv6DefaultRouteToo) {
  SystemFacts facts = PodFacts();
  facts.network.routes.push_back(Route("::/0", 2, "fe80::1"));
  EXPECT_EQ(FindUplinks(facts.network).ipv6->interface, "eth0");
}

TEST(FindUplinksTest, NoDefaultRouteMeansNoUplink) {
  SystemFacts facts = PodFacts();
  facts.network.routes.erase(facts.network.routes.begin());
  EXPECT_FALSE(FindUplinks(facts.network).ipv4);
}

TEST(TunnelOverheadTest, KnownEncapsulations) {
  EXPECT_EQ(TunnelOverhead("ipip", std::nullopt), 20u);
  EXPECT_EQ(TunnelOverhead("gre", std::nullopt), 24u);
  EXPECT_EQ(TunnelOverhead("vxlan", Family::kIPv4), 50u);
  EXPECT_EQ(TunnelOverhead("vxlan", Family::kIPv6), 70u);
  EXPECT_EQ(TunnelOverhead("geneve", Family::kIPv6), 70u);
  EXPECT_EQ(TunnelOverhead("wireguard", std::nullopt), 60u);
  EXPECT_EQ(TunnelOverhead("wireguard", Family::kIPv6), 80u);
  EXPECT_FALSE(TunnelOverhead("veth", std::nullopt));
  EXPECT_FALSE(TunnelOverhead("bridge", std::nullopt));
}

Uplink UplinkOf(const SystemFacts& facts) {
  return *FindUplinks(facts.network).ipv4;
}

TEST(DetectOverlayTest, IpipDeviceInNamespaceIsEvidence) {
  SystemFacts facts = PodFacts(1480);
  facts.network.links.push_back(Link(3, "tunl0", "ipip", 1480));
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_EQ(overlay.evidence, "tunnel-device");
  EXPECT_EQ(overlay.kind, "ipip");
  EXPECT_EQ(overlay.overhead_bytes, 20u);
  EXPECT_NE(overlay.detail.find("tunl0"), std::string::npos);
}

TEST(DetectOverlayTest, UplinkThatIsItselfATunnelWinsOverOthers) {
  SystemFacts facts = PodFacts(1420);
  facts.network.links[1].kind = "wireguard";
  facts.network.links.push_back(Link(3, "vxlan.calico", "vxlan", 1450));
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_EQ(overlay.kind, "wireguard");
  EXPECT_EQ(overlay.overhead_bytes, 60u);
}

TEST(DetectOverlayTest, VxlanOverIpv6Costs70) {
  SystemFacts facts = PodFacts(1430);
  LinkInfo vxlan = Link(3, "vxlan0", "vxlan", 1430);
  vxlan.underlay_family = Family::kIPv6;
  facts.network.links.push_back(vxlan);
  EXPECT_EQ(DetectOverlay(facts, UplinkOf(facts)).overhead_bytes, 70u);
}

TEST(DetectOverlayTest, CalicoMtuFileLimitsThePath) {
  SystemFacts facts = PodFacts(1500);
  facts.calico_mtu_file = "1440\n";
  facts.calico_mtu_path = "/var/lib/calico/mtu";
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_EQ(overlay.evidence, "calico-mtu-file");
  EXPECT_EQ(overlay.mtu_limit, 1440u);
  EXPECT_EQ(overlay.overhead_bytes, 60u);
}

TEST(DetectOverlayTest, CniConfigMtuFoundInConflistPlugins) {
  SystemFacts facts = PodFacts(1500);
  facts.cni_config = R"({"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[
      {"type":"calico","mtu":1410,"ipam":{"type":"calico-ipam"}},{"type":"portmap"}]})";
  facts.cni_config_path = "/etc/cni/net.d/10-calico.conflist";
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_EQ(overlay.evidence, "cni-config");
  EXPECT_EQ(overlay.mtu_limit, 1410u);
}

TEST(DetectOverlayTest, MalformedOrTemplatedCniConfigIsIgnored) {
  SystemFacts facts = PodFacts(1500);
  facts.cni_config = R"({"plugins":[{"type":"calico","mtu":"__CNI_MTU__"}]})";
  EXPECT_FALSE(DetectOverlay(facts, UplinkOf(facts)).mtu_limit);
  facts.cni_config = "{not json";
  facts.cni_config_path = "/etc/cni/net.d/10-calico.conflist";
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_FALSE(overlay.mtu_limit);
  ASSERT_EQ(overlay.warnings.size(), 1u);
  EXPECT_THAT(overlay.warnings[0],
              ::testing::HasSubstr("/etc/cni/net.d/10-calico.conflist is not valid JSON"));
}

TEST(DetectOverlayTest, CalicoMtuFileWithoutANumberIsIgnoredWithAWarning) {
  SystemFacts facts = PodFacts(1500);
  facts.calico_mtu_file = "garbage\n";
  facts.calico_mtu_path = "/var/lib/calico/mtu";
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_FALSE(overlay.mtu_limit);
  ASSERT_EQ(overlay.warnings.size(), 1u);
  EXPECT_THAT(overlay.warnings[0],
              ::testing::HasSubstr("/var/lib/calico/mtu does not hold an MTU"));
}

struct InferenceCase {
  Mtu mtu;
  std::uint32_t overhead;
  const char* kind;
  const char* evidence;
};

class InferenceTest : public ::testing::TestWithParam<InferenceCase> {};

TEST_P(InferenceTest, NamesAnEncapsulationOnlyForASingleClearMatch) {
  SystemFacts facts = PodFacts(GetParam().mtu);
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_EQ(overlay.overhead_bytes, GetParam().overhead) << overlay.detail;
  EXPECT_EQ(overlay.kind, GetParam().kind) << overlay.detail;
  EXPECT_EQ(overlay.evidence, GetParam().evidence) << overlay.detail;
  if (overlay.evidence == std::string("inference")) {
    EXPECT_NE(overlay.detail.find("inference, not evidence"), std::string::npos) << overlay.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Mtus, InferenceTest,
    ::testing::Values(InferenceCase{1480, 20, "ipip", "inference"},       // 1500 - ipip
                      InferenceCase{1476, 24, "gre", "inference"},        // 1500 - gre
                      InferenceCase{1450, 50, "vxlan", "inference"},      // 1500 - vxlan
                      InferenceCase{1410, 50, "vxlan", "inference"},      // 1460 - vxlan (GCE)
                      InferenceCase{1420, 80, "wireguard", "inference"},  // 1500 - wg over v6
                      InferenceCase{8951, 50, "vxlan", "inference"},      // 9001 - vxlan (AWS)
                      InferenceCase{1440, 0, "", "inference"},  // 1500 - wg or 1460 - ipip
                      InferenceCase{1400, 0, "", "inference"},  // 1460 - wg, but a round value
                      InferenceCase{8981, 0, "", "inference"},  // 9001 - ipip, or an underlay
                      InferenceCase{1500, 0, "", "none"}, InferenceCase{1300, 0, "", "none"}));

TEST(InferenceTest, SeveralMatchesAreAmbiguousAndListEveryCandidate) {
  SystemFacts facts = PodFacts(1440);
  const auto detail = DetectOverlay(facts, UplinkOf(facts)).detail;
  EXPECT_TRUE(detail.starts_with("ambiguous: uplink MTU 1440")) << detail;
  EXPECT_NE(detail.find("1500 (a common underlay MTU) minus 60 bytes of wireguard"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("1460 (a common underlay MTU) minus 20 bytes of ipip"), std::string::npos)
      << detail;
  EXPECT_NE(detail.find("no overlay is assumed"), std::string::npos) << detail;
}

TEST(InferenceTest, RoundValueIsAWeakMatchNotWireguard) {
  SystemFacts facts = PodFacts(1400);
  const auto overlay = DetectOverlay(facts, UplinkOf(facts));
  EXPECT_TRUE(overlay.detail.starts_with("ambiguous:")) << overlay.detail;
  EXPECT_NE(overlay.detail.find("wireguard"), std::string::npos) << overlay.detail;
  EXPECT_NE(overlay.detail.find("round value often set by hand"), std::string::npos)
      << overlay.detail;
}

TEST(InferenceTest, UplinkThatIsItselfACommonUnderlayMtuIsAmbiguous) {
  SystemFacts facts = PodFacts(8981);
  const auto detail = DetectOverlay(facts, UplinkOf(facts)).detail;
  EXPECT_NE(detail.find("9001 (a common underlay MTU) minus 20 bytes of ipip"), std::string::npos)
      << detail;
  EXPECT_NE(detail.find("or no overlay on a 8981 underlay"), std::string::npos) << detail;
}

TEST(InferenceTest, NoMatchSaysWhyNoOverlayIsAssumed) {
  SystemFacts ethernet = PodFacts(1500);
  EXPECT_NE(DetectOverlay(ethernet, UplinkOf(ethernet)).detail.find("common underlay MTU itself"),
            std::string::npos);
  SystemFacts odd = PodFacts(1300);
  EXPECT_NE(DetectOverlay(odd, UplinkOf(odd)).detail.find("(1500, 1460, 9001, 8981)"),
            std::string::npos);
}

TEST(InferenceTest, EvidenceOutranksInference) {
  SystemFacts facts = PodFacts(1450);
  facts.network.links.push_back(Link(3, "tunl0", "ipip", 1430));
  EXPECT_EQ(DetectOverlay(facts, UplinkOf(facts)).evidence, "tunnel-device");
  facts.network.links.pop_back();
  facts.calico_mtu_file = "1450";
  facts.calico_mtu_path = "/var/lib/calico/mtu";
  EXPECT_EQ(DetectOverlay(facts, UplinkOf(facts)).evidence, "calico-mtu-file");
}

MtuDecision MustDecide(const SystemFacts& facts, MtuOptions options) {
  const Uplink uplink = UplinkOf(facts);
  auto decision = DecideMtu(uplink, DetectOverlay(facts, uplink), options);
  EXPECT_TRUE(decision.ok()) << decision.error().Message();
  return decision.ok() ? *decision : MtuDecision{};
}

TEST(DecideMtuTest, AutoFollowsTheUplink) {
  for (Mtu mtu : {1500u, 1480u, 1450u, 1410u}) {
    EXPECT_EQ(MustDecide(PodFacts(mtu), {}).docker, mtu);
  }
}

TEST(DecideMtuTest, ReserveIsSubtracted) {
  const auto decision = MustDecide(PodFacts(1450), {.override_mtu = {}, .reserve = 50});
  EXPECT_EQ(decision.docker, 1400u);
  EXPECT_NE(decision.reason.find("--reserve 50"), std::string::npos);
}

TEST(DecideMtuTest, NeverAboveTheLowestVisibleLimit) {
  SystemFacts facts = PodFacts(1500);
  facts.calico_mtu_file = "1440";
  facts.calico_mtu_path = "/calico/mtu";
  EXPECT_EQ(MustDecide(facts, {}).docker, 1440u);
  facts.calico_mtu_file.reset();
  facts.network.routes[0].mtu = 1400;  // ip route add default … mtu 1400
  EXPECT_EQ(MustDecide(facts, {}).docker, 1400u);
}

TEST(DecideMtuTest, OverrideWithinRangeIsTaken) {
  const auto decision = MustDecide(PodFacts(1450), {.override_mtu = 1300, .reserve = 0});
  EXPECT_EQ(decision.docker, 1300u);
  EXPECT_EQ(decision.source, "flag");
}

TEST(DecideMtuTest, OverrideOutsideRangeIsBadInput) {
  const SystemFacts facts = PodFacts(1450);
  const Uplink uplink = UplinkOf(facts);
  for (std::uint32_t wanted : {1279u, 1451u, 9000u, 0u}) {
    auto decision = DecideMtu(uplink, DetectOverlay(facts, uplink), {.override_mtu = wanted});
    ASSERT_FALSE(decision.ok()) << wanted;
    EXPECT_EQ(decision.error().ExitCode(), 2);
    EXPECT_NE(decision.error().Message().find("1280"), std::string::npos);
    EXPECT_NE(decision.error().Message().find("1450"), std::string::npos);
  }
}

TEST(DecideMtuTest, ReserveLeavingLessThan1280IsBadInput) {
  const SystemFacts facts = PodFacts(1450);
  const Uplink uplink = UplinkOf(facts);
  auto decision = DecideMtu(uplink, DetectOverlay(facts, uplink), {.reserve = 200});
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.error().ExitCode(), 2);
  EXPECT_NE(decision.error().Message().find("at most 170"), std::string::npos);
}

}  // namespace
}  // namespace dind::netcfg

// SPDX-License-Identifier: Apache-2.0
// The checks on docker's networks, and their `docker` section of /status and `detect --json`.
#include "daemon/pod/docker_networks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/pod/docker_report.h"
#include "tests/mocks/docker_networks.h"

namespace dind::pod {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::Network;
using testing::PodWithBridges;

TEST(NetworksAboveMtuTest, OnlyBridgesAboveTheSafeMtuWithDockersDefaultWhenUnset) {
  const auto findings = NetworksAboveMtu({Network("kind", "bridge", "172.18.0.0/16", std::nullopt),
                                          Network("ok", "bridge", "172.19.0.0/16", 1450),
                                          Network("big", "bridge", "172.20.0.0/16", 9000),
                                          Network("host", "host", "10.0.0.0/8", std::nullopt)},
                                         1450);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].network, "kind");
  EXPECT_EQ(findings[0].mtu, 1500u);
  EXPECT_FALSE(findings[0].mtu_from_option);
  EXPECT_EQ(findings[1].mtu, 9000u);
  EXPECT_TRUE(findings[1].mtu_from_option);
}

TEST(BridgesFromSnapshotTest, Docker0AndBrBridgesWithTheirMtuAndSubnets) {
  const auto bridges = BridgesFromSnapshot(PodWithBridges());
  ASSERT_EQ(bridges.size(), 2u);
  EXPECT_EQ(bridges[0].name, "docker0");
  EXPECT_EQ(bridges[0].driver, "bridge");
  EXPECT_EQ(bridges[0].bridge_name, "docker0");
  EXPECT_EQ(bridges[0].mtu, 1500u);
  EXPECT_EQ(CidrStrings(bridges[0].subnets),
            (std::vector<std::string>{"172.17.0.0/16", "fd00:d0c:e2::/64"}))
      << "no link-local network";
  EXPECT_TRUE(bridges[0].enable_ipv6);
  EXPECT_EQ(bridges[1].name, "br-0123456789ab");
  EXPECT_EQ(bridges[1].mtu, 1450u);
  EXPECT_EQ(CidrStrings(bridges[1].subnets), (std::vector<std::string>{"172.30.0.0/16"}));
  EXPECT_FALSE(bridges[1].enable_ipv6);
}

TEST(MasqueradeSourcesTest, AddsUncoveredBridgeSubnetsOnly) {
  const auto sources =
      MasqueradeSources({*Cidr::Parse("172.17.0.0/16"), *Cidr::Parse("172.18.0.0/16")},
                        {Network("kind", "bridge", "172.18.0.0/24", std::nullopt),
                         Network("ci", "bridge", "10.50.0.0/24", std::nullopt),
                         Network("internal", "bridge", "10.51.0.0/24", std::nullopt, true),
                         Network("overlay", "overlay", "10.52.0.0/24", std::nullopt)});
  std::vector<std::string> text;
  for (const auto& source : sources) text.push_back(source.ToString());
  EXPECT_EQ(text, (std::vector<std::string>{"172.17.0.0/16", "172.18.0.0/16", "10.50.0.0/24"}));
}

TEST(CheckDockerFirewallTest, AnOlderDockerdCallsIptablesAndNeedsNoWarning) {
  const docker::DockerInfo info{.server_version = "24.0.7", .ipv4_forwarding = true};
  const auto firewall = CheckDockerFirewall(info, rules::BackendKind::kLegacy, std::nullopt);
  EXPECT_EQ(firewall.driver, "iptables");
  EXPECT_THAT(firewall.read_from, HasSubstr("no FirewallBackend (dockerd 24.0.7"));
  EXPECT_THAT(firewall.warnings, IsEmpty());
}

TEST(CheckDockerFirewallTest, NftablesWhereTheKernelHonoursOnlyIpTablesIsSaidWithTheFix) {
  docker::DockerInfo info{
      .server_version = "29.0.1", .firewall_driver = "nftables", .ipv4_forwarding = true};
  auto firewall = CheckDockerFirewall(info, rules::BackendKind::kLegacy, std::nullopt);
  EXPECT_EQ(firewall.read_from, "GET /info FirewallBackend");
  ASSERT_EQ(firewall.warnings.size(), 1u);
  EXPECT_THAT(firewall.warnings[0], HasSubstr("honours only ip_tables"));
  EXPECT_THAT(firewall.warnings[0], HasSubstr("\"firewall-backend\": \"nftables\""));
  // Where nf_tables is what the kernel honours, dockerd's nftables is right.
  EXPECT_THAT(CheckDockerFirewall(info, rules::BackendKind::kNft, std::nullopt).warnings,
              IsEmpty());
  EXPECT_THAT(CheckDockerFirewall(info, std::nullopt, std::nullopt).warnings, IsEmpty())
      << "--no-rules: no backend chosen to disagree with";
}

TEST(CheckDockerFirewallTest, ForwardingOffIsSaidPerDriverAndFamily) {
  docker::DockerInfo info{
      .server_version = "29.0.1", .firewall_driver = "nftables", .ipv4_forwarding = false};
  auto firewall = CheckDockerFirewall(info, rules::BackendKind::kNft, /*ipv6_forwarding=*/false);
  ASSERT_EQ(firewall.warnings.size(), 2u);
  EXPECT_THAT(firewall.warnings[0], HasSubstr("net.ipv4.ip_forward=1"));
  EXPECT_THAT(firewall.warnings[1], HasSubstr("net.ipv6.conf.all.forwarding=1"));
  EXPECT_EQ(CheckDockerFirewall(info, rules::BackendKind::kNft, true).warnings.size(), 1u);

  info.firewall_driver = std::nullopt;  // iptables turns forwarding on unless told not to
  firewall = CheckDockerFirewall(info, rules::BackendKind::kNft, false);
  ASSERT_EQ(firewall.warnings.size(), 1u);
  EXPECT_THAT(firewall.warnings[0], HasSubstr("--ip-forward=false"));
}

TEST(DockerStateToJsonTest, KindNetworkIsReportedWithItsMtuOrNull) {
  DockerState docker;
  EXPECT_EQ(DockerStateToJson(docker)["kind_network"], nullptr) << "no kind network";

  docker.networks = {Network("kind", "bridge", "172.18.0.0/16", std::nullopt)};
  docker.mtu_too_high = NetworksAboveMtu(docker.networks, 1450);
  auto kind = DockerStateToJson(docker)["kind_network"];
  EXPECT_EQ(kind["mtu"], 1500) << "no option: dockerd's default";
  EXPECT_EQ(kind["mtu_from_option"], false);
  EXPECT_EQ(kind["above_safe_mtu"], true);

  docker.networks = {Network("kind", "bridge", "172.18.0.0/16", 1450)};
  docker.mtu_too_high = NetworksAboveMtu(docker.networks, 1450);
  kind = DockerStateToJson(docker)["kind_network"];
  EXPECT_EQ(kind["mtu"], 1450);
  EXPECT_EQ(kind["mtu_from_option"], true);
  EXPECT_EQ(kind["above_safe_mtu"], false);
}

TEST(DockerStateToJsonTest, DockerFirewallIsNullUntilInfoAnswers) {
  DockerState docker;
  EXPECT_EQ(DockerStateToJson(docker)["firewall"], nullptr);
  docker.firewall = DockerFirewall{"nftables", "GET /info FirewallBackend", {"a warning"}};
  const auto firewall = DockerStateToJson(docker)["firewall"];
  EXPECT_EQ(firewall["driver"], "nftables");
  EXPECT_EQ(firewall["warnings"][0], "a warning");
}

}  // namespace
}  // namespace dind::pod

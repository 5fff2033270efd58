// SPDX-License-Identifier: Apache-2.0
// Readiness, /status and /metrics as functions of the state.
#include "daemon/sidecar/sidecar_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/sidecar/sidecar_metrics.h"

namespace dind::sidecar {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

docker::DockerNetwork Network(std::string name, std::string driver, std::string subnet,
                              std::optional<std::uint32_t> mtu, bool internal = false) {
  docker::DockerNetwork network;
  network.name = std::move(name);
  network.driver = std::move(driver);
  network.subnets = {*Cidr::Parse(subnet)};
  network.mtu = mtu;
  network.internal = internal;
  network.bridge_name = network.driver == "bridge" ? "br-" + network.name : "";
  return network;
}

SidecarState ReadyState() {
  SidecarState state;
  state.daemon_json = {"/etc/docker/daemon.json", true, "", 1, 1450, false, ""};
  state.rules.backend = rules::BackendKind::kLegacy;
  state.rules.present = true;
  state.rules.spec = {{*Cidr::Parse("172.17.0.0/16")}, "eth0"};
  return state;
}

egress::ProberStatus PassedRound() {
  egress::ProberStatus status;
  status.attachment = egress::AttachStatus::State::kAttached;
  status.rounds = status.rounds_since_attach = 1;
  egress::TargetResult result;
  result.target = *egress::ParseProbeTarget("10.96.0.1:443");
  result.outcome = egress::Outcome::kPassed;
  result.latency = std::chrono::microseconds(1500);
  result.finished_at = Clock::now();
  status.results.push_back(result);
  status.last_round_at = result.finished_at;
  return status;
}

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

TEST(ReadinessTest, FirstReasonWins) {
  SidecarState state = ReadyState();
  const auto egress = PassedRound();
  EXPECT_TRUE(ReadinessOf(state, &egress).ready);

  state.rules.present = false;
  state.rules.missing = {"POSTROUTING does not jump to DIND-NETCFG-POSTROUTING"};
  auto readiness = ReadinessOf(state, &egress);
  EXPECT_FALSE(readiness.ready);
  EXPECT_THAT(readiness.reason, HasSubstr("(legacy): POSTROUTING does not jump"));

  state.daemon_json.written = false;
  state.daemon_json.error = "writing it: No space left on device";
  readiness = ReadinessOf(state, &egress);
  EXPECT_THAT(readiness.reason, HasSubstr("/etc/docker/daemon.json is not written: writing it"));
}

TEST(ReadinessTest, EgressSaysWhatIsMissing) {
  const SidecarState state = ReadyState();
  egress::ProberStatus no_bridge;
  no_bridge.attachment_reason = "no docker bridge docker0 yet: dockerd still starting?";
  EXPECT_EQ(ReadinessOf(state, &no_bridge).reason, no_bridge.attachment_reason);

  auto failed = PassedRound();
  failed.results[0].outcome = egress::Outcome::kFailed;
  failed.results[0].detail = "TCP connect to 10.96.0.1:443 timed out after 2s";
  EXPECT_EQ(ReadinessOf(state, &failed).reason, failed.results[0].detail);
  EXPECT_TRUE(ReadinessOf(state, nullptr).ready) << "--no-probes";
}

TEST(StatusTest, HasEverySection) {
  SidecarState state = ReadyState();
  state.docker.networks = {Network("kind", "bridge", "172.18.0.0/16", std::nullopt)};
  state.docker.mtu_too_high = NetworksAboveMtu(state.docker.networks, 1450);
  const auto egress = PassedRound();
  const auto json = StatusToJson(state, &egress, ReadinessOf(state, &egress));
  EXPECT_EQ(json["ready"], true);
  EXPECT_EQ(json["daemon_json"]["mtu"], 1450);
  EXPECT_EQ(json["rules"]["backend"], "legacy");
  EXPECT_EQ(json["rules"]["sources"][0], "172.17.0.0/16");
  EXPECT_EQ(json["docker"]["mtu_too_high"][0]["network"], "kind");
  EXPECT_EQ(json["egress"]["results"][0]["target"], "tcp 10.96.0.1:443");
  EXPECT_EQ(json["egress"]["results"][0]["latency_ms"], 1.5);
  EXPECT_EQ(json["detection"], nullptr);
  EXPECT_EQ(StatusToJson(state, nullptr, {true, ""})["egress"]["enabled"], false);
}

TEST(StatusTest, KindNetworkIsReportedWithItsMtuOrNull) {
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

TEST(StatusTest, DockerFirewallIsNullUntilInfoAnswers) {
  DockerState docker;
  EXPECT_EQ(DockerStateToJson(docker)["firewall"], nullptr);
  docker.firewall = DockerFirewall{"nftables", "GET /info FirewallBackend", {"a warning"}};
  const auto firewall = DockerStateToJson(docker)["firewall"];
  EXPECT_EQ(firewall["driver"], "nftables");
  EXPECT_EQ(firewall["warnings"][0], "a warning");
}

TEST(SidecarMetricsTest, RendersTheStateAndCountsOnlyWhatIsNew) {
  metrics::Registry registry;
  auto created = SidecarMetrics::Create(registry);
  ASSERT_TRUE(created.ok());
  SidecarMetrics& sidecar_metrics = *created;
  SidecarState state = ReadyState();
  state.rules.repairs = 3;
  state.docker.networks = {Network("kind", "bridge", "172.18.0.0/16", std::nullopt)};
  const auto egress = PassedRound();
  sidecar_metrics.Refresh(state, &egress, {true, ""});
  sidecar_metrics.ObserveRound(egress);
  sidecar_metrics.ObserveRound(egress);  // the same results again: not observed twice
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("dind_netcfg_ready 1\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_rule_repairs_total 3\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_masquerade_backend_info{backend=\"legacy\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("dind_netcfg_docker_network_mtu_bytes{network=\"kind\",bridge=\"br-kind\"} "
                        "1500\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_probe_success{target=\"tcp 10.96.0.1:443\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("dind_netcfg_probe_latency_seconds_count{target=\"tcp 10.96.0.1:443\"} 1\n"));

  state.rules.repairs = 5;
  state.docker.networks.clear();
  sidecar_metrics.Refresh(state, &egress, {true, ""});
  text = registry.Render();
  EXPECT_THAT(text, HasSubstr("dind_netcfg_rule_repairs_total 5\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("network=\"kind\"")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("dind_netcfg_dockerd_firewall_backend_info{")))
      << "nothing before GET /info answered";

  state.docker.firewall = DockerFirewall{"iptables", "", {}};
  sidecar_metrics.Refresh(state, &egress, {true, ""});
  state.docker.firewall = DockerFirewall{"nftables", "", {"one", "two"}};
  sidecar_metrics.Refresh(state, &egress, {true, ""});
  text = registry.Render();
  EXPECT_THAT(text,
              HasSubstr("dind_netcfg_dockerd_firewall_backend_info{driver=\"nftables\"} 1\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("driver=\"iptables\"")))
      << "the old driver's series is gone";
  EXPECT_THAT(text, HasSubstr("dind_netcfg_dockerd_firewall_warnings 2\n"));
}

// A round whose path-MTU probe found a black hole: 1360 gets through, frag-needed never came.
egress::ProberStatus BlackHoleRound() {
  egress::ProberStatus status = PassedRound();
  egress::TargetResult mtu;
  mtu.target = *egress::ParseMtuTarget("10.96.0.10", "--probe-mtu-target");
  mtu.outcome = egress::Outcome::kFailed;
  mtu.detail = "path MTU black hole";
  mtu.path_mtu = 1360;
  mtu.family = Family::kIPv4;
  status.results.push_back(mtu);
  return status;
}

TEST(LowestPathMtuTest, PerFamilyOnlyFromResultsThatMeasuredOne) {
  const egress::ProberStatus status = BlackHoleRound();
  EXPECT_EQ(LowestPathMtu(status, Family::kIPv4), 1360u);
  EXPECT_EQ(LowestPathMtu(status, Family::kIPv6), std::nullopt);
  EXPECT_EQ(LowestPathMtu(PassedRound(), Family::kIPv4), std::nullopt);
}

TEST(ReadinessTest, ABlackHoleTheClampHealsDoesNotKeepThePodUnready) {
  SidecarState state = ReadyState();
  const egress::ProberStatus egress = BlackHoleRound();
  EXPECT_FALSE(ReadinessOf(state, &egress).ready) << "no clamp: the black hole counts";

  state.clamp.plan.clamps = {{*Cidr::Parse("172.17.0.0/16"), 1320, "IPv4 path MTU 1360 …"}};
  const http::Readiness readiness = ReadinessOf(state, &egress);
  EXPECT_TRUE(readiness.ready) << readiness.reason;
  const auto healed = HealedByClamp(egress, state.clamp);
  EXPECT_THAT(healed.results.back().detail, HasSubstr("MSS-clamped"));

  // An IPv6 clamp does not heal an IPv4 black hole.
  state.clamp.plan.clamps = {{*Cidr::Parse("fd4d:6e63:6667::/64"), 1300, "IPv6 …"}};
  EXPECT_FALSE(ReadinessOf(state, &egress).ready);
}

TEST(ReadinessTest, AnIpv6OnlyPodWhoseBridgeHasNoIpv6IsNotReady) {
  SidecarState state = ReadyState();
  state.report = netcfg::DetectionReport{};
  state.report->families = netcfg::PodFamilies::kIPv6Only;
  egress::ProberStatus egress = PassedRound();
  egress.vantage = egress::Vantage{};
  egress.vantage->bridge.name = "docker0";
  const http::Readiness readiness = ReadinessOf(state, &egress);
  EXPECT_FALSE(readiness.ready);
  EXPECT_THAT(readiness.reason, HasSubstr("IPv6-only but docker bridge docker0 has no IPv6"));

  egress.vantage->address_v6 = *IpAddress::Parse("fd4d:6e63:6667::ffff:ffff:ffff:fffe");
  EXPECT_TRUE(ReadinessOf(state, &egress).ready);
}

}  // namespace
}  // namespace dind::sidecar

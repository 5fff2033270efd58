// SPDX-License-Identifier: Apache-2.0
// Readiness, and the path MTU a round measured, as functions of the state.
#include "daemon/sidecar/readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/daemon/sidecar/state_samples.h"

namespace dind::sidecar {
namespace {

using ::testing::HasSubstr;

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

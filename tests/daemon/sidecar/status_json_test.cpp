// SPDX-License-Identifier: Apache-2.0
// GET /status as a function of the state.
#include "daemon/sidecar/status_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/sidecar/readiness.h"
#include "tests/daemon/sidecar/state_samples.h"

namespace dind::sidecar {
namespace {

using ::testing::HasSubstr;

TEST(StatusTest, HasEverySection) {
  SidecarState state = ReadyState();
  state.docker.networks = {Network("kind", "bridge", "172.18.0.0/16", std::nullopt)};
  state.docker.mtu_too_high = pod::NetworksAboveMtu(state.docker.networks, 1450);
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
  EXPECT_EQ(json["preflight"]["enabled"], false);
}

TEST(StatusTest, PreflightListsTheLastRoundsChecksAndWhenItRan) {
  SidecarState state = ReadyState();
  state.preflight.enabled = true;
  auto json = StatusToJson(state, nullptr, {true, ""});
  EXPECT_EQ(json["preflight"]["rounds"], 0);
  EXPECT_EQ(json["preflight"]["ran_at"], nullptr) << "no round has ended: nothing claimed";
  EXPECT_TRUE(json["preflight"]["checks"].empty());

  doctor::CheckResult check{.id = "api-floor", .status = doctor::CheckStatus::kUnknown};
  check.summary = "dockerd did not answer GET /version";
  check.source = "GET /version of unix:///var/run/docker.sock";
  check.fix = "start dockerd";
  state.preflight.checks = {check};
  state.preflight.rounds = 3;
  state.preflight.ran_at = Clock::time_point(std::chrono::seconds(1700000000));
  state.preflight.took = std::chrono::milliseconds(12);
  json = StatusToJson(state, nullptr, {true, ""});
  EXPECT_EQ(json["preflight"]["rounds"], 3);
  EXPECT_EQ(json["preflight"]["ran_at"], 1700000000.0);
  EXPECT_EQ(json["preflight"]["took_ms"], 12);
  EXPECT_EQ(json["preflight"]["summary"]["unknown"], 1);
  EXPECT_EQ(json["preflight"]["checks"][0]["status"], "unknown");
  EXPECT_EQ(json["preflight"]["checks"][0]["fix"], "start dockerd");
  EXPECT_TRUE(json["preflight"]["checks"][0]["observed"].is_object());
}

}  // namespace
}  // namespace dind::sidecar

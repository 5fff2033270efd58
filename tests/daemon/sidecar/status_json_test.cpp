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
}

}  // namespace
}  // namespace dind::sidecar

// SPDX-License-Identifier: Apache-2.0
// /metrics as a function of the state.
#include "daemon/sidecar/sidecar_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/daemon/sidecar/state_samples.h"

namespace dind::sidecar {
namespace {

using ::testing::HasSubstr;

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

  state.docker.firewall = pod::DockerFirewall{"iptables", "", {}};
  sidecar_metrics.Refresh(state, &egress, {true, ""});
  state.docker.firewall = pod::DockerFirewall{"nftables", "", {"one", "two"}};
  sidecar_metrics.Refresh(state, &egress, {true, ""});
  text = registry.Render();
  EXPECT_THAT(text,
              HasSubstr("dind_netcfg_dockerd_firewall_backend_info{driver=\"nftables\"} 1\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("driver=\"iptables\"")))
      << "the old driver's series is gone";
  EXPECT_THAT(text, HasSubstr("dind_netcfg_dockerd_firewall_warnings 2\n"));
}

TEST(SidecarMetricsTest, PreflightHasASeriesPerStatusAndForgetsChecksThatAreGone) {
  metrics::Registry registry;
  auto created = SidecarMetrics::Create(registry);
  ASSERT_TRUE(created.ok());
  SidecarState state = ReadyState();
  created->Refresh(state, nullptr, {true, ""});
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE dind_netcfg_preflight gauge\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("dind_netcfg_preflight{")))
      << "no series before a round";

  state.preflight.enabled = true;
  state.preflight.checks = {{.id = "storage-fs", .status = doctor::CheckStatus::kFail},
                            {.id = "api-floor", .status = doctor::CheckStatus::kUnknown}};
  state.preflight.ran_at = Clock::time_point(std::chrono::seconds(1700000000));
  created->Refresh(state, nullptr, {true, ""});
  text = registry.Render();
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight{check=\"storage-fs\",status=\"fail\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight{check=\"storage-fs\",status=\"ok\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight{check=\"storage-fs\",status=\"warn\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("dind_netcfg_preflight{check=\"storage-fs\",status=\"unknown\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight{check=\"api-floor\",status=\"unknown\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight_last_run_timestamp_seconds 1700000000\n"));

  state.preflight.checks = {{.id = "storage-fs", .status = doctor::CheckStatus::kOk}};
  created->Refresh(state, nullptr, {true, ""});
  text = registry.Render();
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight{check=\"storage-fs\",status=\"fail\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("dind_netcfg_preflight{check=\"storage-fs\",status=\"ok\"} 1\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("check=\"api-floor\""))) << "a check no longer run";
}

}  // namespace
}  // namespace dind::sidecar

// SPDX-License-Identifier: Apache-2.0
// What `detect` reports, judged as doctor's checks (network-mtu, network-overlay,
// iptables-backend, cgroups, address-pools, dockerd-version), on a DetectionReport, a backend
// decision and docker's networks built here.
#include "daemon/doctor/detection_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dind::doctor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Cidr MustCidr(const std::string& text) {
  return Cidr::Parse(text).value();
}

docker::DockerNetwork Bridge(const std::string& name, const std::string& bridge,
                             const std::string& subnet, std::optional<Mtu> mtu) {
  docker::DockerNetwork network;
  network.name = name;
  network.driver = "bridge";
  network.bridge_name = bridge;
  network.subnets = {MustCidr(subnet)};
  network.mtu = mtu;
  return network;
}

rules::BackendEvidence Evidence(rules::BackendKind kind) {
  return rules::BackendEvidence{kind, netcfg::Availability::kYes, "loaded", rules::BackendState{},
                                std::nullopt};
}

rules::BackendDecision Decision(rules::ChoiceStep step, bool nft_proven) {
  rules::BackendDecision decision{.chosen = rules::BackendKind::kNft,
                                  .step = step,
                                  .reason = "nft passed the traffic proof",
                                  .kernel_release = "6.1.0",
                                  .legacy = Evidence(rules::BackendKind::kLegacy),
                                  .nft = Evidence(rules::BackendKind::kNft)};
  if (nft_proven) {
    rules::ProofOutcome passed;
    passed.passed = true;
    passed.detail = "rule counted 1 packet";
    decision.nft.proof = Result<rules::ProofOutcome>(passed);
  }
  return decision;
}

// A pod with eth0 at 1450 behind a VXLAN device, docker MTU 1450, pools clear of the pod's
// network and the service, and a dockerd 28.5.2 that answers with `networks`.
DetectionOutcome Outcome(std::vector<docker::DockerNetwork> networks = {}) {
  netcfg::DetectionReport report;
  report.uplinks.ipv4 = netcfg::Uplink{.interface = "eth0", .mtu = 1450};
  report.overlay = {.overhead_bytes = 50,
                    .kind = "vxlan",
                    .evidence = "tunnel-device",
                    .detail = "vxlan.calico MTU 1450"};
  report.mtu = {.uplink = 1450,
                .path_limit = 1450,
                .path_limit_source = "eth0",
                .docker = 1450,
                .source = "auto",
                .reason = "uplink eth0 MTU 1450"};
  report.cgroup = {.version = "v2", .own_path = "/", .reason = "a cgroup namespace"};
  report.cgroup_nesting.version = "v2";
  report.cgroup_nesting.mode = netcfg::CgroupNestingMode::kV2Split;
  report.cgroup_nesting.reason = "processes move to /init";
  report.cgroup_nesting.read_from = "/proc/self of pid 7, dind-netcfg doctor";
  report.pools.bip = "172.17.0.1/16";
  report.pools.fixed_cidr = MustCidr("172.17.0.0/17");
  report.pools.default_address_pools = {{MustCidr("172.18.0.0/16"), 24}};
  report.pools.avoided = {{MustCidr("10.244.1.0/24"), "address on eth0"},
                          {MustCidr("10.96.0.1/32"), "KUBERNETES_SERVICE_HOST"}};
  report.dockerd =
      netcfg::DecideDockerd(
          "auto",
          netcfg::DockerdVersionText{"28.5.2", "GET /version of unix:///var/run/docker.sock"})
          .value();
  pod::DockerState docker;
  docker.socket = "/var/run/docker.sock";
  docker.api_up = true;
  docker.networks = std::move(networks);
  docker.mtu_too_high = pod::NetworksAboveMtu(docker.networks, report.mtu.docker);
  return DetectionOutcome{.report = std::move(report),
                          .read_by = "dind-netcfg doctor pid 7",
                          .backend = Decision(rules::ChoiceStep::kProof, true),
                          .docker = std::move(docker)};
}

void DockerDown(DetectionOutcome& outcome) {
  outcome.docker.api_up = false;
  outcome.docker.networks.clear();
  outcome.docker.mtu_too_high.clear();
  outcome.docker.error = "connecting to dockerd at /var/run/docker.sock: No such file";
}

TEST(DetectionChecksTest, NetworkMtuOkWhenEveryBridgeFits) {
  const CheckResult result =
      CheckNetworkMtu(Outcome({Bridge("bridge", "docker0", "172.17.0.0/16", 1450)}));
  EXPECT_EQ(result.status, CheckStatus::kOk) << result.summary;
  EXPECT_THAT(result.summary, HasSubstr("docker MTU 1450"));
  EXPECT_THAT(result.source, HasSubstr("GET /networks of unix:///var/run/docker.sock"));
  EXPECT_EQ(result.observed["docker_mtu"], 1450);
}

TEST(DetectionChecksTest, NetworkMtuWarnsForANetworkAboveItWithTheRecreateFix) {
  // KIND's `kind` network made before the MTU was fixed: no option, so dockerd's 1500.
  const CheckResult result =
      CheckNetworkMtu(Outcome({Bridge("bridge", "docker0", "172.17.0.0/16", 1450),
                               Bridge("kind", "br-0123456789ab", "172.18.0.0/24", std::nullopt)}));
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("kind (br-0123456789ab) MTU 1500"));
  EXPECT_THAT(result.summary, Not(HasSubstr("docker0")));
  EXPECT_THAT(result.fix, HasSubstr("--opt com.docker.network.driver.mtu=1450"));
  ASSERT_EQ(result.observed["networks_above"].size(), 1U);
  EXPECT_EQ(result.observed["networks_above"][0]["network"], "kind");
}

TEST(DetectionChecksTest, NetworkMtuIsUnknownNotOkWhenDockerDoesNotAnswer) {
  DetectionOutcome outcome = Outcome();
  DockerDown(outcome);
  const CheckResult result = CheckNetworkMtu(outcome);
  EXPECT_EQ(result.status, CheckStatus::kUnknown);
  EXPECT_THAT(result.summary, HasSubstr("docker MTU 1450"));
  EXPECT_THAT(result.summary, HasSubstr("not checked"));
  EXPECT_THAT(result.fix, HasSubstr("--docker-socket"));
}

TEST(DetectionChecksTest, OverlayWithEvidenceIsOkAndIgnoredSourcesWarn) {
  DetectionOutcome outcome = Outcome();
  CheckResult result = CheckNetworkOverlay(outcome);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("50 bytes of vxlan overlay [tunnel-device]"));

  outcome.report.overlay.warnings = {"/var/lib/calico/mtu holds no number; ignored"};
  result = CheckNetworkOverlay(outcome);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("calico/mtu holds no number"));
  EXPECT_THAT(result.fix, HasSubstr("--mtu"));
}

TEST(DetectionChecksTest, AnAmbiguousInferenceWarnsThatNoOverlayIsAssumed) {
  DetectionOutcome outcome = Outcome();
  outcome.report.overlay = {.overhead_bytes = 0,
                            .evidence = "inference",
                            .detail = "ambiguous: uplink MTU 1450 fits vxlan or geneve"};
  const CheckResult result = CheckNetworkOverlay(outcome);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.fix, HasSubstr("--mtu"));
}

TEST(DetectionChecksTest, BackendProvenIsOkUnprovenWarnsNoneFails) {
  DetectionOutcome outcome = Outcome();
  CheckResult result = CheckIptablesBackend(outcome);
  EXPECT_EQ(result.status, CheckStatus::kOk) << result.summary;
  EXPECT_EQ(result.observed["chosen"], "nft");
  EXPECT_EQ(result.observed["proven"], true);
  EXPECT_THAT(result.source, HasSubstr("traffic proof in throwaway namespaces"));

  rules::BackendDecision unproven = Decision(rules::ChoiceStep::kDefault, false);
  unproven.warnings = {"nft was chosen without proof that this kernel honours it"};
  outcome.backend = unproven;
  result = CheckIptablesBackend(outcome);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_EQ(result.observed["proven"], false);
  EXPECT_THAT(result.fix, HasSubstr("CAP_SYS_ADMIN"));

  rules::BackendDecision split = Decision(rules::ChoiceStep::kProof, true);
  split.split_brain = {"masquerade rules in both backends (legacy: 2, nft: 1)"};
  outcome.backend = split;
  result = CheckIptablesBackend(outcome);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("both backends"));

  outcome.backend = Error::Environment("neither backend is available in kernel 6.1.0",
                                       "load nf_tables or ip_tables");
  result = CheckIptablesBackend(outcome);
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.summary, HasSubstr("neither backend"));
  EXPECT_THAT(result.fix, HasSubstr("nf_tables"));
}

TEST(DetectionChecksTest, CgroupsSayTheNestingAndAnUnknownVersionIsUnknown) {
  DetectionOutcome outcome = Outcome();
  CheckResult result = CheckCgroups(outcome);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("v2-split"));
  EXPECT_EQ(result.source, "/proc/self of pid 7, dind-netcfg doctor");

  outcome.report.cgroup.version = "unknown";
  outcome.report.cgroup.reason = "/sys/fs/cgroup is not mounted";
  result = CheckCgroups(outcome);
  EXPECT_EQ(result.status, CheckStatus::kUnknown);
  EXPECT_THAT(result.summary, HasSubstr("not mounted"));
  EXPECT_FALSE(result.fix.empty());
}

TEST(DetectionChecksTest, PoolsFailWhenADockerNetworkCoversARangeThePodReaches) {
  // ci-net over the service address; kind's own bridge route is no overlap with itself.
  DetectionOutcome outcome = Outcome({Bridge("ci-net", "br-ci", "10.96.0.0/16", std::nullopt),
                                      Bridge("kind", "br-kind", "10.244.1.0/24", std::nullopt)});
  outcome.report.pools.avoided.push_back({MustCidr("10.244.1.0/24"), "route via br-kind"});
  CheckResult result = CheckAddressPools(outcome);
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.summary, HasSubstr("network ci-net 10.96.0.0/16 overlaps 10.96.0.1/32 "
                                        "(KUBERNETES_SERVICE_HOST)"));
  // kind overlaps eth0's address range, which is not its own: that one counts too.
  EXPECT_THAT(result.summary, HasSubstr("network kind 10.244.1.0/24 overlaps 10.244.1.0/24 "
                                        "(address on eth0)"));
  ASSERT_EQ(result.observed["overlaps"].size(), 2U);
  for (const auto& overlap : result.observed["overlaps"]) {
    EXPECT_NE(overlap["reason"], "route via br-kind") << overlap.dump();
  }
  EXPECT_THAT(result.fix, HasSubstr("default-address-pools"));

  result = CheckAddressPools(Outcome({Bridge("bridge", "docker0", "172.17.0.0/16", 1450)}));
  EXPECT_EQ(result.status, CheckStatus::kOk) << result.summary;
  EXPECT_THAT(result.summary, HasSubstr("bip 172.17.0.1/16"));
  EXPECT_THAT(result.summary, HasSubstr("10.96.0.1/32 (KUBERNETES_SERVICE_HOST)"));

  outcome = Outcome();
  DockerDown(outcome);
  EXPECT_EQ(CheckAddressPools(outcome).status, CheckStatus::kUnknown);
}

TEST(DetectionChecksTest, DockerdVersionNamesWhereItCameFrom) {
  DetectionOutcome outcome = Outcome();
  CheckResult result = CheckDockerdVersion(outcome);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("dockerd 28.5.2, the running dockerd"));
  EXPECT_EQ(result.source, "GET /version of unix:///var/run/docker.sock");
  EXPECT_EQ(result.observed["running"], true);

  outcome.report.dockerd =
      netcfg::DecideDockerd(
          "auto", netcfg::DockerdVersionText{"20.10.24", "Go build info of /usr/bin/dockerd"})
          .value();
  result = CheckDockerdVersion(outcome);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("as its binary states"));
  EXPECT_THAT(result.source, HasSubstr("Go build info of /usr/bin/dockerd"));
  EXPECT_EQ(result.observed["running"], false);

  outcome.report.dockerd = netcfg::DecideDockerd("24.0.7", std::nullopt).value();
  result = CheckDockerdVersion(outcome);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_EQ(result.source, "--dockerd-version");

  outcome.report.dockerd = netcfg::DecideDockerd("auto", std::nullopt).value();
  result = CheckDockerdVersion(outcome);
  EXPECT_EQ(result.status, CheckStatus::kUnknown);
  EXPECT_THAT(result.fix, HasSubstr("--docker-socket"));
}

TEST(DetectionChecksTest, AFailedDetectionMakesEveryCheckUnknownWithItsHint) {
  const Result<DetectionOutcome> failed =
      Error::Environment("no way out of this network namespace", "run it in the pod's netns");
  const std::vector<CheckResult> results = JudgeDetection(failed);
  ASSERT_EQ(results.size(), 6U);
  for (const CheckResult& result : results) {
    EXPECT_EQ(result.status, CheckStatus::kUnknown) << result.id;
    EXPECT_EQ(result.summary, "detection failed: no way out of this network namespace");
    EXPECT_EQ(result.fix, "run it in the pod's netns");
  }
  EXPECT_EQ(results.front().id, "network-mtu");
  EXPECT_EQ(results.back().id, "dockerd-version");
}

TEST(DetectionChecksTest, TheGroupAddsNothingWhenTheCallerDidNotDetect) {
  const HostFiles files;
  DoctorContext context{files};
  EXPECT_TRUE(DetectionChecks(context).empty());
  const Result<DetectionOutcome> detected = Outcome();
  context.detection = &detected;
  EXPECT_EQ(DetectionChecks(context).size(), 6U);
}

}  // namespace
}  // namespace dind::doctor

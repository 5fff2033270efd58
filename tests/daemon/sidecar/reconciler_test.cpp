// SPDX-License-Identifier: Apache-2.0
// The sidecar's decisions with a fake detector and an in-memory masquerade backend: daemon.json
// in a temporary directory, rules in a vector.
#include "daemon/sidecar/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

#include "daemon/sidecar/readiness.h"
#include "tests/mocks/docker_networks.h"
#include "tests/mocks/fake_backend.h"
#include "tests/mocks/fake_detector.h"
#include "tests/mocks/fake_netlink_reader.h"
#include "tests/mocks/fake_pod_sysctls.h"
#include "tests/mocks/temp_dir.h"

namespace dind::sidecar {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Json = netcfg::OrderedJson;

using testing::BridgeNetwork;
using testing::DecisionFor;
using testing::FakeBackend;
using testing::FakeDetector;
using testing::FakeNetlinkReader;
using testing::FakePodSysctls;
using testing::LinkAddress;
using testing::PodWithBridges;
using testing::ReadTestFile;
using testing::TempDir;

class ReconcilerTest : public ::testing::Test {
 protected:
  Json ReadDaemonJson() const { return Json::parse(ReadTestFile(path_)); }

  TempDir dir_;
  std::string path_ = dir_ / "daemon.json";
  FakeDetector detector_;
  FakePodSysctls sysctls_;
  pod::ChosenBackend chosen_{std::make_unique<FakeBackend>(),
                             DecisionFor(rules::BackendKind::kNft)};
  FakeBackend& backend_ = static_cast<FakeBackend&>(*chosen_.backend);
};

TEST_F(ReconcilerTest, StartWritesDaemonJsonAndInstallsTheRules) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  EXPECT_EQ(ReadDaemonJson()["mtu"], 1450);
  EXPECT_EQ(ReadDaemonJson()["fixed-cidr"], "172.17.0.0/17");
  ASSERT_TRUE(backend_.installed);
  EXPECT_EQ(CidrStrings(backend_.installed->sources),
            (std::vector<std::string>{"172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16"}));
  EXPECT_EQ(backend_.installed->out_interface, "eth0");
  const SidecarState& state = reconciler.state();
  EXPECT_TRUE(state.daemon_json.written);
  EXPECT_TRUE(state.rules.present);
  EXPECT_FALSE(state.daemon_json.restart_required);
  EXPECT_TRUE(ReadinessOf(state, nullptr).ready);
}

TEST_F(ReconcilerTest, StartTakesOurEarlierRulesOutOfTheBackendNoLongerChosen) {
  auto journal = std::make_shared<std::vector<std::string>>();
  pod::ChosenBackend chosen{std::make_unique<FakeBackend>(rules::BackendKind::kNft, journal),
                            DecisionFor(rules::BackendKind::kNft, /*ours_in_other=*/true)};
  chosen.make_backend =
      [journal](rules::BackendKind kind) -> Result<std::unique_ptr<rules::MasqueradeBackend>> {
    return std::unique_ptr<rules::MasqueradeBackend>(std::make_unique<FakeBackend>(kind, journal));
  };
  Reconciler reconciler(path_, detector_, sysctls_, &chosen);
  ASSERT_TRUE(reconciler.Start().ok());
  // As init does it: the new rules first, so the safety net never has a gap.
  EXPECT_EQ(*journal, (std::vector<std::string>{"nft apply", "legacy remove"}));
}

TEST_F(ReconcilerTest, StartFailsWithTheEnvironmentsReason) {
  detector_.fail = true;
  Reconciler failing_detection(path_, detector_, sysctls_, &chosen_);
  auto started = failing_detection.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.error().Message(), HasSubstr("reading routes"));

  detector_.fail = false;
  backend_.fail_apply = true;
  Reconciler failing_rules(path_, detector_, sysctls_, &chosen_);
  started = failing_rules.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().ExitCode(), 1);
  EXPECT_FALSE(failing_rules.state().rules.present);
  EXPECT_THAT(ReadinessOf(failing_rules.state(), nullptr).reason,
              HasSubstr("Operation not permitted"));
}

TEST_F(ReconcilerTest, AMalformedDaemonJsonIsNeverOverwritten) {
  std::ofstream(path_) << "{\"mtu\": 1500,}";
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  auto started = reconciler.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().ExitCode(), 2);
  std::ifstream file(path_);
  std::string text((std::istreambuf_iterator<char>(file)), {});
  EXPECT_EQ(text, "{\"mtu\": 1500,}");
  EXPECT_THAT(ReadinessOf(reconciler.state(), nullptr).reason, HasSubstr(path_));
}

TEST_F(ReconcilerTest, IntactRulesAreLeftAloneAndLostOnesRepaired) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  const int applies = backend_.applies;
  EXPECT_FALSE(reconciler.CheckRules());
  EXPECT_EQ(backend_.applies, applies);

  backend_.installed.reset();  // someone ran `nft delete table ip dind-netcfg`
  EXPECT_TRUE(reconciler.CheckRules());
  EXPECT_EQ(backend_.applies, applies + 1);
  EXPECT_EQ(reconciler.state().rules.repairs, 1u);
  EXPECT_TRUE(reconciler.state().rules.present);

  backend_.installed->sources.pop_back();                              // one rule deleted
  backend_.installed->sources.push_back(*Cidr::Parse("10.9.0.0/16"));  // and a stale one added
  EXPECT_TRUE(reconciler.CheckRules());
  EXPECT_EQ(CidrStrings(backend_.installed->sources).back(), "172.19.0.0/16");
  EXPECT_EQ(reconciler.state().rules.repairs, 2u);
  EXPECT_EQ(reconciler.state().rules.checks, 3u);
}

TEST_F(ReconcilerTest, PollsReadTheRulesOnlyWhenTheStampMoves) {
  backend_.stamp = 7;
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  EXPECT_FALSE(reconciler.CheckRules());  // in place: remembers the stamp
  const int inspects = backend_.inspects;
  for (int poll = 0; poll < 5; ++poll) EXPECT_FALSE(reconciler.PollRules(60));
  EXPECT_EQ(backend_.inspects, inspects) << "nothing changed: no snapshot";

  backend_.installed.reset();  // someone flushed the chain: the table's header moved
  ++*backend_.stamp;
  EXPECT_TRUE(reconciler.PollRules(60));
  EXPECT_EQ(backend_.inspects, inspects + 1);
  EXPECT_FALSE(reconciler.PollRules(60)) << "our own repair is not seen as a change";
  EXPECT_EQ(backend_.inspects, inspects + 1);

  // A change the stamp cannot see is still found by the periodic full check.
  backend_.installed->sources.pop_back();
  // One poll has passed since the repair's check; the third is a full one.
  EXPECT_FALSE(reconciler.PollRules(3));
  EXPECT_TRUE(reconciler.PollRules(3));
}

TEST_F(ReconcilerTest, WithoutAStampEveryPollReads) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  const int inspects = backend_.inspects;
  EXPECT_FALSE(reconciler.PollRules());
  EXPECT_FALSE(reconciler.PollRules());
  EXPECT_EQ(backend_.inspects, inspects + 2);
}

TEST_F(ReconcilerTest, AFailedRepairMakesItNotReadyAndSaysWhy) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  backend_.installed.reset();
  backend_.fail_apply = true;
  EXPECT_FALSE(reconciler.CheckRules());
  const auto readiness = ReadinessOf(reconciler.state(), nullptr);
  EXPECT_FALSE(readiness.ready);
  EXPECT_THAT(readiness.reason, HasSubstr("does not exist"));
  EXPECT_THAT(readiness.reason, HasSubstr("Operation not permitted"));
}

TEST_F(ReconcilerTest, AnMtuChangeRewritesDaemonJsonAndAsksForARestart) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  detector_.uplink_mtu = 1400;
  // A new route that collides with the pools must not move them under a running dockerd.
  detector_.avoid = {*Cidr::Parse("172.17.0.0/16")};
  reconciler.OnNetworkChanged();
  const Json written = ReadDaemonJson();
  EXPECT_EQ(written["mtu"], 1400);
  EXPECT_EQ(written["bip"], "172.17.0.1/16");
  const auto& file = reconciler.state().daemon_json;
  EXPECT_TRUE(file.restart_required);
  EXPECT_THAT(file.restart_reason, HasSubstr("1450 to 1400"));
  EXPECT_THAT(file.restart_reason, HasSubstr("restart dockerd"));
  EXPECT_EQ(file.writes, 2u);

  // Nothing changed: nothing is written.
  reconciler.OnNetworkChanged();
  EXPECT_EQ(reconciler.state().daemon_json.writes, 2u);
}

TEST_F(ReconcilerTest, AFailedRedetectionKeepsTheLastDecision) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  detector_.fail = true;
  reconciler.OnNetworkChanged();
  EXPECT_EQ(reconciler.state().daemon_json.mtu, 1450u);
  EXPECT_TRUE(reconciler.state().rules.present);
}

TEST_F(ReconcilerTest, DockerNetworksAddSourcesAndReportTooHighMtus) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  reconciler.OnDockerNetworks(
      {BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0"),
       BridgeNetwork("kind", "172.18.0.0/24", std::nullopt, "br-0123456789ab"),
       BridgeNetwork("ci", "10.99.0.0/24", 1450, "br-ci")});
  EXPECT_EQ(CidrStrings(backend_.installed->sources),
            (std::vector<std::string>{"172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16",
                                      "10.99.0.0/24"}));
  const auto& docker = reconciler.state().docker;
  EXPECT_TRUE(docker.api_up);
  ASSERT_EQ(docker.mtu_too_high.size(), 1u);
  EXPECT_EQ(docker.mtu_too_high[0].network, "kind");
  EXPECT_EQ(docker.mtu_too_high[0].mtu, 1500u);
  EXPECT_FALSE(docker.mtu_too_high[0].mtu_from_option);
  EXPECT_FALSE(reconciler.state().daemon_json.restart_required);

  // The network goes: its subnet leaves the rules.
  reconciler.OnDockerNetworks({BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0")});
  EXPECT_EQ(backend_.installed->sources.size(), 3u);
}

TEST_F(ReconcilerTest, DockerRunningWithAnotherMtuNeedsARestartUntilItRestarts) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  reconciler.OnDockerNetworks({BridgeNetwork("bridge", "172.17.0.0/16", 1500, "docker0")});
  EXPECT_TRUE(reconciler.state().daemon_json.restart_required);
  EXPECT_THAT(reconciler.state().daemon_json.restart_reason, HasSubstr("MTU 1500"));
  reconciler.OnDockerNetworks({BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0")});
  EXPECT_FALSE(reconciler.state().daemon_json.restart_required);
}

TEST_F(ReconcilerTest, WithoutABackendRulesAreNotManaged) {
  Reconciler reconciler(path_, detector_, sysctls_, nullptr);
  ASSERT_TRUE(reconciler.Start().ok());
  EXPECT_FALSE(reconciler.CheckRules());
  EXPECT_TRUE(ReadinessOf(reconciler.state(), nullptr).ready);
  EXPECT_TRUE(reconciler.RemoveRules().ok());
}

TEST_F(ReconcilerTest, RemoveRulesTakesThemAway) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  ASSERT_TRUE(reconciler.RemoveRules().ok());
  EXPECT_FALSE(backend_.installed);
}

// ---- The MSS clamp (--clamp-mss) -------------------------------------------------------------

std::vector<std::string> ClampStrings(const rules::MasqueradeSpec& spec) {
  std::vector<std::string> out;
  for (const auto& clamp : spec.clamps) {
    out.push_back(clamp.network.ToString() + " " + std::to_string(clamp.mss));
  }
  return out;
}

TEST_F(ReconcilerTest, AutoClampsWhileThePathIsNarrowerAndTakesItAwayWhenItIsWhole) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  EXPECT_TRUE(backend_.installed->clamps.empty()) << "nothing measured, nothing clamped";

  reconciler.OnPathMtu(1360, std::nullopt);
  EXPECT_EQ(
      ClampStrings(*backend_.installed),
      (std::vector<std::string>{"172.17.0.0/16 1320", "172.18.0.0/16 1320", "172.19.0.0/16 1320"}));
  const ClampState& clamp = reconciler.state().clamp;
  EXPECT_EQ(clamp.plan.avoiding_docker_mtu, 1360u);
  EXPECT_THAT(clamp.plan.clamps.front().reason, HasSubstr("path MTU 1360"));
  EXPECT_TRUE(reconciler.state().rules.present);

  // The same measurement again changes nothing; a drifted clamp is repaired like a rule.
  const int applies = backend_.applies;
  reconciler.OnPathMtu(1360, std::nullopt);
  EXPECT_EQ(backend_.applies, applies);
  backend_.installed->clamps.pop_back();
  EXPECT_TRUE(reconciler.CheckRules());
  EXPECT_EQ(backend_.installed->clamps.size(), 3u);

  reconciler.OnPathMtu(1450, std::nullopt);
  EXPECT_TRUE(backend_.installed->clamps.empty());
  EXPECT_TRUE(reconciler.state().clamp.plan.clamps.empty());
  EXPECT_FALSE(reconciler.state().clamp.plan.avoiding_docker_mtu);
}

TEST_F(ReconcilerTest, AFixedClampIsInForceFromTheStartAndOffNeverClamps) {
  Reconciler fixed(path_, detector_, sysctls_, &chosen_);
  fixed.set_clamp_mss({sidecar::ClampMssSetting::Mode::kFixed, 1200});
  ASSERT_TRUE(fixed.Start().ok());
  EXPECT_EQ(ClampStrings(*backend_.installed).front(), "172.17.0.0/16 1200");

  Reconciler off(path_, detector_, sysctls_, &chosen_);
  off.set_clamp_mss({sidecar::ClampMssSetting::Mode::kOff, 0});
  ASSERT_TRUE(off.Start().ok());
  off.OnPathMtu(1360, std::nullopt);
  EXPECT_TRUE(backend_.installed->clamps.empty());
}

TEST_F(ReconcilerTest, ANetworkAboveTheSafeMtuHasItsTcpClampedAndItsUdpNamed) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  reconciler.OnDockerNetworks({BridgeNetwork("kind", "172.18.0.0/16", std::nullopt, "br-kind")});
  EXPECT_EQ(ClampStrings(*backend_.installed), (std::vector<std::string>{"172.18.0.0/16 1410"}));
  ASSERT_EQ(reconciler.state().clamp.plan.not_covered.size(), 1u);
  EXPECT_THAT(reconciler.state().clamp.plan.not_covered.front(),
              HasSubstr("recreate it with --opt com.docker.network.driver.mtu=1450"));
}

// ---- Without the Docker API: docker's bridges from netlink ------------------------------------

TEST_F(ReconcilerTest, WithoutTheApiTheBridgesComeFromNetlinkAndOneAboveTheSafeMtuIsClamped) {
  FakeNetlinkReader netlink(PodWithBridges());
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_, &netlink);
  ASSERT_TRUE(reconciler.Start().ok());
  EXPECT_EQ(netlink.reads, 0) << "not read while the API may still answer";
  reconciler.OnDockerUnavailable(
      "docker API /var/run/docker.sock: connect: No such file or directory");

  const pod::DockerState& docker = reconciler.state().docker;
  EXPECT_EQ(docker.networks_from,
            "netlink (docker API unavailable: docker API /var/run/docker.sock: connect: No such "
            "file or directory)");
  EXPECT_FALSE(docker.api_up);
  ASSERT_EQ(docker.mtu_too_high.size(), 1u);
  EXPECT_EQ(docker.mtu_too_high[0].bridge, "docker0");
  EXPECT_EQ(docker.mtu_too_high[0].mtu, 1500u);
  // docker0 is above the safe MTU 1450: its TCP is clamped to fit, per family.
  EXPECT_EQ(ClampStrings(*backend_.installed),
            (std::vector<std::string>{"172.17.0.0/16 1410", "fd00:d0c:e2::/64 1390"}));
  EXPECT_THAT(reconciler.state().clamp.plan.clamps.front().reason,
              HasSubstr("docker network docker0 has MTU 1500, above the safe MTU 1450"));
  // The user network's bridge is masqueraded although no API named it.
  EXPECT_THAT(CidrStrings(backend_.installed->sources), ::testing::Contains("172.30.0.0/16"));
  const Json json = pod::DockerStateToJson(docker);
  EXPECT_EQ(json["networks_from"], docker.networks_from);
  EXPECT_EQ(json["networks"].size(), 2u);
}

TEST_F(ReconcilerTest, WithoutTheApiANewBridgeIsSeenAtTheNextNetworkChangeUntilTheApiAnswers) {
  FakeNetlinkReader netlink(PodWithBridges());
  netlink.snapshot.links[1].mtu = 1450;  // docker0 fine
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_, &netlink);
  ASSERT_TRUE(reconciler.Start().ok());
  reconciler.OnDockerNotFollowed();
  EXPECT_EQ(reconciler.state().docker.networks_from,
            "netlink (docker API not followed: --docker-socket \"\")");
  EXPECT_TRUE(backend_.installed->clamps.empty());

  // A job makes a network at 1500 (an old Docker ignores default-network-opts).
  netlink.snapshot.links.push_back(
      {.index = 6, .name = "br-feedfacecafe", .kind = "bridge", .mtu = 1500});
  netlink.snapshot.addresses.push_back(LinkAddress(6, "172.31.0.1", 16));
  reconciler.OnNetworkChanged();
  EXPECT_EQ(ClampStrings(*backend_.installed), (std::vector<std::string>{"172.31.0.0/16 1410"}));

  // The API answers: its networks replace the kernel's, and netlink is not read any more.
  reconciler.set_docker_socket("/var/run/docker.sock");
  reconciler.OnDockerNetworks({BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0")});
  EXPECT_EQ(reconciler.state().docker.networks_from, "docker API /var/run/docker.sock");
  EXPECT_TRUE(backend_.installed->clamps.empty());
  const int reads = netlink.reads;
  reconciler.OnNetworkChanged();
  EXPECT_EQ(netlink.reads, reads);
}

TEST_F(ReconcilerTest, WithoutAReaderOrWhenNetlinkFailsTheApiIsTheOnlySource) {
  Reconciler without(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(without.Start().ok());
  without.OnDockerUnavailable("connect: No such file or directory");
  EXPECT_TRUE(without.state().docker.networks.empty());
  EXPECT_TRUE(without.state().docker.networks_from.empty());

  FakeNetlinkReader failing(PodWithBridges());
  failing.fail = true;
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_, &failing);
  ASSERT_TRUE(reconciler.Start().ok());
  reconciler.OnDockerUnavailable("connect: No such file or directory");
  EXPECT_EQ(failing.reads, 1);
  EXPECT_TRUE(reconciler.state().docker.networks.empty());
}

TEST_F(ReconcilerTest, Ipv6ForwardingIsReadThroughThePodSysctlsWhenANetworkHasIpv6) {
  Reconciler reconciler(path_, detector_, sysctls_, &chosen_);
  ASSERT_TRUE(reconciler.Start().ok());
  sysctls_.ipv6_forwarding = false;
  const docker::DockerInfo info{
      .server_version = "29.0.1", .firewall_driver = "nftables", .ipv4_forwarding = true};
  reconciler.OnDockerInfo(info);
  reconciler.OnDockerNetworks({BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0")});
  EXPECT_EQ(sysctls_.reads, 0) << "no docker network has IPv6: the sysctl says nothing";
  ASSERT_TRUE(reconciler.state().docker.firewall);
  EXPECT_THAT(reconciler.state().docker.firewall->warnings, IsEmpty());

  auto dual = BridgeNetwork("dual", "172.18.0.0/16", 1450, "br-dual");
  dual.enable_ipv6 = true;
  reconciler.OnDockerNetworks({dual});
  EXPECT_GE(sysctls_.reads, 1);
  ASSERT_EQ(reconciler.state().docker.firewall->warnings.size(), 1u);
  EXPECT_THAT(reconciler.state().docker.firewall->warnings[0],
              HasSubstr("net.ipv6.conf.all.forwarding=1"));

  // Turned on (or unreadable: no IPv6 in the kernel): no finding.
  for (const std::optional<bool> forwarding : {std::optional<bool>(true), std::optional<bool>()}) {
    sysctls_.ipv6_forwarding = forwarding;
    reconciler.OnDockerInfo(info);
    EXPECT_THAT(reconciler.state().docker.firewall->warnings, IsEmpty());
  }
}

}  // namespace
}  // namespace dind::sidecar

// SPDX-License-Identifier: Apache-2.0
// --clamp-mss: parsing, and which networks' TCP is clamped to what for each measurement.
#include "daemon/sidecar/mss_clamp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace dind::sidecar {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Cidr Net(const char* text) {
  return Cidr::Parse(text).value();
}

const pod::InputName kFlag{"--clamp-mss", "DIND_NETCFG_CLAMP_MSS"};

TEST(ParseClampMssTest, AutoOffAndBytes) {
  EXPECT_EQ(ParseClampMss("auto", kFlag).value(), ClampMssSetting{});
  EXPECT_EQ(ParseClampMss("off", kFlag)->mode, ClampMssSetting::Mode::kOff);
  const auto fixed = ParseClampMss("1320", kFlag).value();
  EXPECT_EQ(fixed.mode, ClampMssSetting::Mode::kFixed);
  EXPECT_EQ(fixed.fixed_mss, 1320);
}

TEST(ParseClampMssTest, RefusesOtherWordsAndOutOfRangeNamingTheFlag) {
  for (const char* wrong : {"", "on", "1320b", "-5", "535", "65496", "99999999999"}) {
    const auto parsed = ParseClampMss(wrong, kFlag);
    ASSERT_FALSE(parsed.ok()) << wrong;
    EXPECT_EQ(parsed.error().ExitCode(), 2) << wrong;
    EXPECT_THAT(parsed.error().Message(), HasSubstr("--clamp-mss (DIND_NETCFG_CLAMP_MSS) value"))
        << wrong;
  }
  EXPECT_THAT(ParseClampMss("400", kFlag).error().Message(), HasSubstr("for a 1360-byte path"));
}

ClampInputs Pod() {
  ClampInputs inputs;
  inputs.docker_mtu = 1450;
  inputs.sources = {Net("172.17.0.0/16"), Net("172.18.0.0/16"), Net("fd00:db8:1::/64")};
  inputs.networks = {{"bridge", {Net("172.17.0.0/16")}, 1450}};
  return inputs;
}

TEST(PlanMssClampsTest, AWholePathNeedsNoClamp) {
  auto inputs = Pod();
  EXPECT_THAT(PlanMssClamps(inputs).clamps, IsEmpty()) << "not measured";
  inputs.path_mtu_ipv4 = 1450;
  inputs.path_mtu_ipv6 = 1500;
  const auto plan = PlanMssClamps(inputs);
  EXPECT_THAT(plan.clamps, IsEmpty());
  EXPECT_EQ(plan.avoiding_docker_mtu, std::nullopt);
}

TEST(PlanMssClampsTest, ABlackHoleBeyondThePodClampsEveryNetworkOfItsFamily) {
  auto inputs = Pod();
  inputs.path_mtu_ipv4 = 1360;  // GitLab.com's case
  const auto plan = PlanMssClamps(inputs);
  ASSERT_EQ(plan.clamps.size(), 2u) << "the IPv6 network is not clamped: its path is whole";
  EXPECT_EQ(plan.clamps[0].network, Net("172.17.0.0/16"));
  EXPECT_EQ(plan.clamps[0].mss, 1320);
  EXPECT_EQ(plan.clamps[1].mss, 1320);
  EXPECT_THAT(plan.clamps[0].reason,
              HasSubstr("IPv4 path MTU 1360 measured beyond the pod, below the docker MTU 1450"));
  EXPECT_EQ(plan.avoiding_docker_mtu, 1360u);
  EXPECT_THAT(plan.not_covered, IsEmpty());
  EXPECT_EQ(DescribeClamp(plan.clamps[0]),
            "TCP of 172.17.0.0/16 clamped to MSS 1320 (IPv4 path MTU 1360 measured beyond the "
            "pod, below the docker MTU 1450)");
}

TEST(PlanMssClampsTest, IPv6SubtractsSixtyBytes) {
  auto inputs = Pod();
  inputs.path_mtu_ipv6 = 1400;
  const auto plan = PlanMssClamps(inputs);
  ASSERT_EQ(plan.clamps.size(), 1u);
  EXPECT_EQ(plan.clamps[0].network, Net("fd00:db8:1::/64"));
  EXPECT_EQ(plan.clamps[0].mss, 1340);
  EXPECT_EQ(plan.avoiding_docker_mtu, 1400u);
}

TEST(PlanMssClampsTest, ANetworkAboveTheSafeMtuIsClampedAndItsUdpIsNamed) {
  auto inputs = Pod();
  inputs.networks.push_back({"kind", {Net("172.18.0.0/24"), Net("fc00:f853:ccd:e793::/64")}, 1500});
  const auto plan = PlanMssClamps(inputs);
  ASSERT_EQ(plan.clamps.size(), 2u);
  EXPECT_EQ(plan.clamps[0], (PlannedClamp{Net("172.18.0.0/24"), 1410,
                                          "docker network kind has MTU 1500, above the safe MTU "
                                          "1450"}));
  EXPECT_EQ(plan.clamps[1].mss, 1390);
  EXPECT_THAT(plan.not_covered,
              ElementsAre("UDP and ICMP of docker network kind (MTU 1500) are not clamped: "
                          "recreate it with --opt com.docker.network.driver.mtu=1450"));
  EXPECT_EQ(plan.avoiding_docker_mtu, std::nullopt) << "the path is not the problem";
}

TEST(PlanMssClampsTest, BothReasonsTakeTheLowerMss) {
  auto inputs = Pod();
  inputs.sources.push_back(Net("172.18.0.0/24"));
  inputs.networks.push_back({"kind", {Net("172.18.0.0/24")}, 1500});
  inputs.path_mtu_ipv4 = 1360;
  const auto plan = PlanMssClamps(inputs);
  const auto kind = std::find_if(plan.clamps.begin(), plan.clamps.end(), [](const auto& clamp) {
    return clamp.network == Net("172.18.0.0/24");
  });
  ASSERT_NE(kind, plan.clamps.end());
  EXPECT_EQ(kind->mss, 1320) << "the path, not the safe MTU, limits it";
  EXPECT_EQ(std::count_if(plan.clamps.begin(), plan.clamps.end(),
                          [](const auto& clamp) { return clamp.network == Net("172.18.0.0/24"); }),
            1)
      << "one clamp per network";
}

TEST(PlanMssClampsTest, FixedClampsEverythingAndOffNothing) {
  auto inputs = Pod();
  inputs.networks.push_back({"kind", {Net("172.18.0.0/24")}, 1500});
  inputs.path_mtu_ipv4 = 1360;
  inputs.setting = {ClampMssSetting::Mode::kFixed, 1200};
  auto plan = PlanMssClamps(inputs);
  ASSERT_EQ(plan.clamps.size(), 3u);
  for (const auto& clamp : plan.clamps) EXPECT_EQ(clamp.mss, 1200) << clamp.network.ToString();
  inputs.setting = {ClampMssSetting::Mode::kOff, 0};
  plan = PlanMssClamps(inputs);
  EXPECT_THAT(plan.clamps, IsEmpty());
  EXPECT_THAT(plan.not_covered, IsEmpty());
}

TEST(PlanMssClampsTest, ANonsensePathIsIgnored) {
  auto inputs = Pod();
  inputs.path_mtu_ipv4 = 40;
  EXPECT_THAT(PlanMssClamps(inputs).clamps, IsEmpty());
}

}  // namespace
}  // namespace dind::sidecar

// SPDX-License-Identifier: Apache-2.0
// Probe targets from flags, the Kubernetes service variables and resolv.conf.
#include "daemon/probe/probe_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::probe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseProbeTargetTest, Ipv4AddressAndPort) {
  auto target = ParseProbeTarget("10.96.0.1:443");
  ASSERT_TRUE(target.ok()) << target.error().Message();
  EXPECT_EQ(target->kind, ProbeKind::kTcpConnect);
  EXPECT_EQ(target->host, "10.96.0.1");
  EXPECT_EQ(target->port, 443);
  EXPECT_EQ(target->origin, "--probe-target");
  EXPECT_EQ(target->Key(), "tcp 10.96.0.1:443");
}

TEST(ParseProbeTargetTest, HostName) {
  auto target = ParseProbeTarget("registry-1.docker.io:443");
  ASSERT_TRUE(target.ok()) << target.error().Message();
  EXPECT_EQ(target->host, "registry-1.docker.io");
  EXPECT_EQ(target->port, 443);
}

TEST(ParseProbeTargetTest, ExtremePorts) {
  EXPECT_EQ(ParseProbeTarget("10.0.0.1:1")->port, 1);
  EXPECT_EQ(ParseProbeTarget("10.0.0.1:65535")->port, 65535);
}

struct BadTarget {
  const char* text;
  const char* complaint;
};

class ParseProbeTargetBadInputTest : public ::testing::TestWithParam<BadTarget> {};

TEST_P(ParseProbeTargetBadInputTest, IsBadInputNamingTheFlagAndValue) {
  auto target = ParseProbeTarget(GetParam().text);
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(target.error().ExitCode(), 2);
  const std::string message = target.error().Message();
  EXPECT_THAT(message, HasSubstr("--probe-target '" + std::string(GetParam().text) + "'"));
  EXPECT_THAT(message, HasSubstr(GetParam().complaint));
}

INSTANTIATE_TEST_SUITE_P(
    Refused, ParseProbeTargetBadInputTest,
    ::testing::Values(BadTarget{"10.96.0.1", "port is missing"},
                      BadTarget{":443", "host is missing"},
                      BadTarget{"10.96.0.1:", "not a number 1..65535"},
                      BadTarget{"10.96.0.1:0", "not a number 1..65535"},
                      BadTarget{"10.96.0.1:65536", "not a number 1..65535"},
                      BadTarget{"10.96.0.1:+443", "not a number 1..65535"},
                      BadTarget{"10.96.0.1:https", "not a number 1..65535"},
                      BadTarget{"300.1.1.1:443", "neither an IPv4 address nor a host name"},
                      BadTarget{"bad_name:443", "neither an IPv4 address nor a host name"},
                      BadTarget{"-lead.example:443", "neither an IPv4 address nor a host name"},
                      BadTarget{"[fd00::1]:443", "IPv6"}, BadTarget{"fd00::1:443", "IPv6"}));

TEST(ParseProbeTargetTest, NamesTheFlagItIsGiven) {
  auto target = ParseProbeTarget("nope", "--extra-target");
  ASSERT_FALSE(target.ok());
  EXPECT_THAT(target.error().Message(), HasSubstr("--extra-target 'nope'"));
}

TEST(ParseMtuTargetTest, Ipv4Only) {
  auto target = ParseMtuTarget("10.0.0.5");
  ASSERT_TRUE(target.ok()) << target.error().Message();
  EXPECT_EQ(target->kind, ProbeKind::kPathMtu);
  EXPECT_EQ(target->Key(), "pmtu 10.0.0.5");

  auto name = ParseMtuTarget("example.com");
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(name.error().Message(), HasSubstr("--probe-mtu-target 'example.com'"));
  EXPECT_THAT(ParseMtuTarget("fd00::1").error().Message(), HasSubstr("IPv6"));
}

TEST(FirstBridgeReachableNameserverTest, SkipsLoopbackAndIpv6) {
  EXPECT_EQ(FirstBridgeReachableNameserver("nameserver 127.0.0.53\n"
                                           "nameserver fd00::10\n"
                                           "nameserver 10.96.0.10\n"
                                           "nameserver 10.96.0.11\n"),
            "10.96.0.10");
  EXPECT_EQ(FirstBridgeReachableNameserver("search default.svc.cluster.local\n"
                                           "nameserver 127.0.0.11\n"),
            std::nullopt);
  EXPECT_EQ(FirstBridgeReachableNameserver(""), std::nullopt);
}

TEST(MakeDefaultTargetsTest, KubernetesPod) {
  auto defaults = MakeDefaultTargets(
      {"10.96.0.1", "443", "search default.svc.cluster.local\nnameserver 10.96.0.10\n"});
  ASSERT_TRUE(defaults.ok()) << defaults.error().Message();
  EXPECT_THAT(
      defaults->targets,
      ElementsAre(ProbeTarget{ProbeKind::kTcpConnect, "10.96.0.1", 443, "KUBERNETES_SERVICE_HOST"},
                  ProbeTarget{ProbeKind::kDnsUdp, "10.96.0.10", 53, "resolv.conf"},
                  ProbeTarget{ProbeKind::kPathMtu, "10.96.0.10", 0, "resolv.conf"}));
  EXPECT_TRUE(defaults->notes.empty());
}

TEST(MakeDefaultTargetsTest, OutsideKubernetesSaysWhyThereIsNoApiProbe) {
  auto defaults = MakeDefaultTargets({std::nullopt, std::nullopt, "nameserver 192.168.1.1\n"});
  ASSERT_TRUE(defaults.ok());
  ASSERT_EQ(defaults->targets.size(), 2u);
  EXPECT_EQ(defaults->targets[0].Key(), "dns 192.168.1.1:53");
  EXPECT_THAT(defaults->notes, ElementsAre(HasSubstr("KUBERNETES_SERVICE_HOST is not set")));
}

TEST(MakeDefaultTargetsTest, NoUsableNameserverOrUnreadableResolvConf) {
  auto loopback = MakeDefaultTargets({"10.96.0.1", "443", "nameserver 127.0.0.53\n"});
  ASSERT_TRUE(loopback.ok());
  EXPECT_EQ(loopback->targets.size(), 1u);
  EXPECT_THAT(loopback->notes, ElementsAre(HasSubstr("no IPv4 nameserver outside 127.0.0.0/8")));

  auto unreadable = MakeDefaultTargets({"10.96.0.1", "443", std::nullopt});
  ASSERT_TRUE(unreadable.ok());
  EXPECT_THAT(unreadable->notes, ElementsAre(HasSubstr("resolv.conf is unreadable")));
}

TEST(MakeDefaultTargetsTest, Ipv6ApiServiceIsANoteNotAnError) {
  auto defaults = MakeDefaultTargets({"fd00:10:96::1", "443", "nameserver 10.96.0.10\n"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->targets.size(), 2u);
  EXPECT_THAT(defaults->notes, ElementsAre(HasSubstr("is IPv6")));
}

TEST(MakeDefaultTargetsTest, MalformedServicePortIsBadInputNamingTheVariables) {
  auto defaults = MakeDefaultTargets({"10.96.0.1", "https", "nameserver 10.96.0.10\n"});
  ASSERT_FALSE(defaults.ok());
  EXPECT_EQ(defaults.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(defaults.error().Message(), HasSubstr("KUBERNETES_SERVICE_HOST/PORT"));
}

}  // namespace
}  // namespace dind::probe

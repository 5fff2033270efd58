// SPDX-License-Identifier: Apache-2.0
// Probe targets from flags, the Kubernetes service variables and resolv.conf.
#include "daemon/egress/probe_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::egress {
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
    ::testing::Values(
        BadTarget{"10.96.0.1", "port is missing"}, BadTarget{":443", "host is missing"},
        BadTarget{"10.96.0.1:", "not a number 1..65535"},
        BadTarget{"10.96.0.1:0", "not a number 1..65535"},
        BadTarget{"10.96.0.1:65536", "not a number 1..65535"},
        BadTarget{"10.96.0.1:+443", "not a number 1..65535"},
        BadTarget{"10.96.0.1:https", "not a number 1..65535"},
        BadTarget{"300.1.1.1:443", "neither an IPv4 address nor a host name"},
        BadTarget{"bad_name:443", "neither an IPv4 address nor a host name"},
        BadTarget{"-lead.example:443", "neither an IPv4 address nor a host name"},
        BadTarget{"fd00::1:443", "needs brackets"}, BadTarget{"[fd00::1]", "port is missing"},
        BadTarget{"[fd00::1]:", "port is missing"}, BadTarget{"[fd00::1]443", "port is missing"},
        BadTarget{"[fd00::1:443", "no closing ']'"},
        BadTarget{"[fd00::1]:0", "not a number 1..65535"},
        BadTarget{"[10.0.0.1]:443", "not an IPv6 address"},
        BadTarget{"[example.com]:443", "not an IPv6 address"},
        BadTarget{"[fe80::1]:443", "link-local"},
        BadTarget{"[fe80::1%eth0]:443", "not an IPv6 address"}));

TEST(ParseProbeTargetTest, Ipv6AddressInBrackets) {
  auto target = ParseProbeTarget("[2001:db8::1]:443");
  ASSERT_TRUE(target.ok()) << target.error().Message();
  EXPECT_EQ(target->kind, ProbeKind::kTcpConnect);
  EXPECT_EQ(target->host, "2001:db8::1");
  EXPECT_EQ(target->port, 443);
  EXPECT_EQ(target->family(), Family::kIPv6);
  EXPECT_FALSE(target->skip_without_family) << "a target the user gave must be reached";
  EXPECT_EQ(target->HostPort(), "[2001:db8::1]:443");
  EXPECT_EQ(target->Key(), "tcp [2001:db8::1]:443");
  EXPECT_EQ(ParseProbeTarget("[fd00:db8::ff:1]:8443")->host, "fd00:db8::ff:1");
}

TEST(ProbeTargetTest, FamilyOfAddressesAndNames) {
  EXPECT_EQ(ParseProbeTarget("10.96.0.1:443")->family(), Family::kIPv4);
  EXPECT_EQ(ParseProbeTarget("example.com:443")->family(), Family::kIPv4)
      << "names resolve to IPv4";
  EXPECT_EQ((ProbeTarget{ProbeKind::kDnsUdp, "2001:db8::53", 53, "x"}.Key()),
            "dns [2001:db8::53]:53");
  EXPECT_EQ((ProbeTarget{ProbeKind::kPathMtu, "2001:db8::53", 0, "x"}.Key()), "pmtu 2001:db8::53");
}

TEST(ParseProbeTargetTest, NamesTheFlagItIsGiven) {
  auto target = ParseProbeTarget("nope", "--extra-target");
  ASSERT_FALSE(target.ok());
  EXPECT_THAT(target.error().Message(), HasSubstr("--extra-target 'nope'"));
}

TEST(ParseMtuTargetTest, Ipv4OrIpv6Address) {
  auto target = ParseMtuTarget("10.0.0.5");
  ASSERT_TRUE(target.ok()) << target.error().Message();
  EXPECT_EQ(target->kind, ProbeKind::kPathMtu);
  EXPECT_EQ(target->Key(), "pmtu 10.0.0.5");

  auto v6 = ParseMtuTarget("2001:db8::5");
  ASSERT_TRUE(v6.ok()) << v6.error().Message();
  EXPECT_EQ(v6->host, "2001:db8::5");
  EXPECT_EQ(v6->family(), Family::kIPv6);
  EXPECT_EQ(ParseMtuTarget("[2001:db8::5]")->host, "2001:db8::5") << "brackets are fine too";

  auto name = ParseMtuTarget("example.com");
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(name.error().Message(), HasSubstr("--probe-mtu-target 'example.com'"));
  EXPECT_THAT(name.error().Message(), HasSubstr("not an IPv4 or IPv6 address"));
  EXPECT_THAT(ParseMtuTarget("fe80::1").error().Message(), HasSubstr("link-local"));
  EXPECT_FALSE(ParseMtuTarget("[2001:db8::5]:443").ok());
}

TEST(FirstBridgeReachableNameserverTest, SkipsLoopbackAndOtherFamilies) {
  EXPECT_EQ(FirstBridgeReachableNameserver("nameserver 127.0.0.53\n"
                                           "nameserver fd00::10\n"
                                           "nameserver 10.96.0.10\n"
                                           "nameserver 10.96.0.11\n"),
            "10.96.0.10");
  EXPECT_EQ(FirstBridgeReachableNameserver("nameserver ::1\n"
                                           "nameserver fe80::1\n"
                                           "nameserver 10.96.0.10\n"
                                           "nameserver fd00::10\n"
                                           "nameserver fd00::11\n",
                                           Family::kIPv6),
            "fd00::10")
      << "loopback and link-local are the pod's own, not reachable from the bridge";
  EXPECT_EQ(FirstBridgeReachableNameserver("nameserver 10.96.0.10\n", Family::kIPv6), std::nullopt);
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
  EXPECT_THAT(loopback->notes, ElementsAre(HasSubstr("no nameserver outside 127.0.0.0/8")));

  auto unreadable = MakeDefaultTargets({"10.96.0.1", "443", std::nullopt});
  ASSERT_TRUE(unreadable.ok());
  EXPECT_THAT(unreadable->notes, ElementsAre(HasSubstr("resolv.conf is unreadable")));
}

TEST(MakeDefaultTargetsTest, Ipv6ApiServiceIsProbedOverIpv6WhenTheBridgeHasIt) {
  auto defaults = MakeDefaultTargets({"fd00:10:96::1", "443", "nameserver 10.96.0.10\n"});
  ASSERT_TRUE(defaults.ok()) << defaults.error().Message();
  ASSERT_EQ(defaults->targets.size(), 3u);
  EXPECT_EQ(defaults->targets[0], (ProbeTarget{ProbeKind::kTcpConnect, "fd00:10:96::1", 443,
                                               "KUBERNETES_SERVICE_HOST", true}));
  EXPECT_TRUE(defaults->notes.empty());
}

TEST(MakeDefaultTargetsTest, DualStackResolvConfGivesBothFamiliesIpv6Skippable) {
  auto defaults =
      MakeDefaultTargets({"10.96.0.1", "443", "nameserver fd00:10:96::a\nnameserver 10.96.0.10\n"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_THAT(
      defaults->targets,
      ElementsAre(ProbeTarget{ProbeKind::kTcpConnect, "10.96.0.1", 443, "KUBERNETES_SERVICE_HOST"},
                  ProbeTarget{ProbeKind::kDnsUdp, "10.96.0.10", 53, "resolv.conf"},
                  ProbeTarget{ProbeKind::kPathMtu, "10.96.0.10", 0, "resolv.conf"},
                  ProbeTarget{ProbeKind::kDnsUdp, "fd00:10:96::a", 53, "resolv.conf", true},
                  ProbeTarget{ProbeKind::kPathMtu, "fd00:10:96::a", 0, "resolv.conf", true}));

  auto v6_only = MakeDefaultTargets({std::nullopt, std::nullopt, "nameserver 2001:db8::53\n"});
  ASSERT_TRUE(v6_only.ok());
  ASSERT_EQ(v6_only->targets.size(), 2u);
  EXPECT_EQ(v6_only->targets[0].Key(), "dns [2001:db8::53]:53");
}

TEST(MakeDefaultTargetsTest, MalformedServicePortIsBadInputNamingTheVariables) {
  auto defaults = MakeDefaultTargets({"10.96.0.1", "https", "nameserver 10.96.0.10\n"});
  ASSERT_FALSE(defaults.ok());
  EXPECT_EQ(defaults.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(defaults.error().Message(), HasSubstr("KUBERNETES_SERVICE_HOST/PORT"));
}

}  // namespace
}  // namespace dind::egress

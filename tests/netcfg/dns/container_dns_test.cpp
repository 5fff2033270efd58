// SPDX-License-Identifier: Apache-2.0
// The resolv.conf model against the behaviour read in moby's source for each release line
// (container_dns.h names the files and tags), on the pods' resolv.conf variants.
#include "netcfg/dns/container_dns.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::netcfg {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr DockerVersion kDocker20{20, 10, 24};
constexpr DockerVersion kDocker26{26, 1, 5};
constexpr DockerVersion kDocker28{28, 5, 2};
constexpr DockerVersion kDocker29{29, 0, 0};

// The kubelet's file for a ClusterFirst pod.
constexpr const char* kKubeletResolvConf =
    "search ci.svc.cluster.local svc.cluster.local cluster.local\n"
    "nameserver 10.96.0.10\n"
    "options ndots:5\n";
constexpr const char* kLoopbackOnly = "nameserver 127.0.0.1\nsearch example.org\n";

ContainerDns Model(DockerVersion version, const std::string& etc, DnsNetworkKind network,
                   bool ipv6 = false, DnsOverrides overrides = {}) {
  return ModelContainerDns({version, {etc, std::nullopt}, ipv6, std::move(overrides)}, network);
}

TEST(DnsReleaseTest, ReleaseLines) {
  EXPECT_EQ(DnsReleaseOf(kDocker20), DnsRelease::k20_10);
  EXPECT_EQ(DnsReleaseOf({25, 0, 5}), DnsRelease::k20_10);
  EXPECT_EQ(DnsReleaseOf(kDocker26), DnsRelease::k26);
  EXPECT_EQ(DnsReleaseOf({27, 5, 1}), DnsRelease::k26);
  EXPECT_EQ(DnsReleaseOf(kDocker28), DnsRelease::k28);
  EXPECT_EQ(DnsReleaseOf(kDocker29), DnsRelease::k28);
}

TEST(ParseResolvConfTest, ReadsLinesAsEachReleaseDoes) {
  const std::string text =
      "# generated\n"
      "nameserver 10.0.0.2 # the first\n"
      "nameserver not-an-ip\n"
      "nameserver fe80::1%eth0\n"
      "domain corp.example\n"
      "options ndots:5\n"
      "options timeout:2\n";
  const auto old = ParseResolvConf(text, DnsRelease::k20_10);
  EXPECT_THAT(old.nameservers, ElementsAre("10.0.0.2", "fe80::1%eth0"));
  EXPECT_THAT(old.search, IsEmpty()) << "20.10 has no 'domain'";
  EXPECT_THAT(old.options, ElementsAre("timeout:2")) << "20.10 keeps the last options line";
  const auto newer = ParseResolvConf(text, DnsRelease::k28);
  EXPECT_THAT(newer.search, ElementsAre("corp.example"));
  EXPECT_THAT(newer.options, ElementsAre("ndots:5", "timeout:2"));
}

TEST(ContainerDnsTest, KubeletFileIsCopiedToTheDefaultBridge) {
  for (const auto version : {kDocker20, kDocker26, kDocker28}) {
    const auto dns = Model(version, kKubeletResolvConf, DnsNetworkKind::kDefaultBridge);
    EXPECT_THAT(dns.file.nameservers, ElementsAre("10.96.0.10"));
    EXPECT_THAT(dns.file.search,
                ElementsAre("ci.svc.cluster.local", "svc.cluster.local", "cluster.local"));
    EXPECT_THAT(dns.file.options, ElementsAre("ndots:5"));
    EXPECT_FALSE(dns.public_fallback);
    EXPECT_EQ(dns.source, kEtcResolvConf);
    EXPECT_EQ(QueriesPerExternalName(dns.file), 4) << "3 search domains, then as written";
  }
}

TEST(ContainerDnsTest, LoopbackOnlyFallsBackToGoogleOnTheDefaultBridge) {
  for (const auto version : {kDocker20, kDocker26, kDocker28}) {
    const auto dns = Model(version, kLoopbackOnly, DnsNetworkKind::kDefaultBridge);
    EXPECT_THAT(dns.file.nameservers, ElementsAre("8.8.8.8", "8.8.4.4"));
    EXPECT_THAT(dns.file.search, ElementsAre("example.org"));
    EXPECT_TRUE(dns.public_fallback);
    const auto v6 = Model(version, kLoopbackOnly, DnsNetworkKind::kDefaultBridge, true);
    EXPECT_THAT(v6.file.nameservers,
                ElementsAre("8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844"));
  }
}

TEST(ContainerDnsTest, EmptyOrMissingFileFallsBackLikeLoopbackOnly) {
  const auto empty = Model(kDocker28, "", DnsNetworkKind::kDefaultBridge);
  EXPECT_TRUE(empty.public_fallback);
  const auto missing = ModelContainerDns({kDocker26, {std::nullopt, std::nullopt}, false, {}},
                                         DnsNetworkKind::kDefaultBridge);
  EXPECT_THAT(missing.file.nameservers, ElementsAre("8.8.8.8", "8.8.4.4"));
}

TEST(ContainerDnsTest, Ipv6NameserversNeedIpv6) {
  const std::string text = "nameserver 127.0.0.1\nnameserver 2001:db8::53\n";
  const auto v4 = Model(kDocker28, text, DnsNetworkKind::kDefaultBridge, false);
  EXPECT_THAT(v4.file.nameservers, ElementsAre("8.8.8.8", "8.8.4.4"));
  EXPECT_TRUE(v4.public_fallback);
  const auto v6 = Model(kDocker28, text, DnsNetworkKind::kDefaultBridge, true);
  EXPECT_THAT(v6.file.nameservers, ElementsAre("2001:db8::53"));
  EXPECT_FALSE(v6.public_fallback);
  const auto old = Model(kDocker20, "nameserver ::1\nnameserver 10.0.0.2\n",
                         DnsNetworkKind::kDefaultBridge, true);
  EXPECT_THAT(old.file.nameservers, ElementsAre("10.0.0.2")) << "::1 is loopback";
}

TEST(ContainerDnsTest, SystemdStubSendsTheDefaultBridgeToResolvedsUpstreams) {
  const PodResolvConf pod{"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
                          "nameserver 192.168.1.1\nsearch lan\n"};
  EXPECT_EQ(DefaultBridgeSource(pod), kSystemdResolvConf);
  const auto bridge =
      ModelContainerDns({kDocker26, pod, false, {}}, DnsNetworkKind::kDefaultBridge);
  EXPECT_THAT(bridge.file.nameservers, ElementsAre("192.168.1.1"));
  EXPECT_EQ(bridge.source, kSystemdResolvConf);
  EXPECT_FALSE(bridge.public_fallback);
  // User networks forward to the stub itself, from the pod's namespace.
  const auto user = ModelContainerDns({kDocker28, pod, false, {}}, DnsNetworkKind::kUserDefined);
  EXPECT_EQ(user.source, kEtcResolvConf);
  EXPECT_THAT(user.upstreams, ElementsAre(DnsUpstream{"127.0.0.53", true}));
  EXPECT_THAT(user.file.options, ElementsAre("edns0", "trust-ad", "ndots:0"));
  // Without the upstream file the default bridge reads nothing: the fallback.
  const PodResolvConf no_file{pod.etc, std::nullopt};
  EXPECT_TRUE(ModelContainerDns({kDocker28, no_file, false, {}}, DnsNetworkKind::kDefaultBridge)
                  .public_fallback);
  // Another loopback address beside it is not the stub.
  EXPECT_EQ(DefaultBridgeSource({"nameserver 127.0.0.53\nnameserver 127.0.0.1\n", pod.systemd}),
            kEtcResolvConf);
}

TEST(ContainerDnsTest, UserNetworkKeepsTheKubeletsSearchAndNdots) {
  for (const auto version : {kDocker20, kDocker26, kDocker28}) {
    const auto dns = Model(version, kKubeletResolvConf, DnsNetworkKind::kUserDefined);
    EXPECT_THAT(dns.file.nameservers, ElementsAre("127.0.0.11"));
    EXPECT_THAT(dns.file.options, ElementsAre("ndots:5")) << "ndots:0 only without ndots";
    EXPECT_EQ(dns.file.search.size(), 3u);
    ASSERT_EQ(dns.upstreams.size(), 1u);
    EXPECT_EQ(dns.upstreams[0].address, "10.96.0.10");
    // 28 queries the pod's nameservers from the pod (moby d29767431c); before, from the
    // container, through the bridge.
    EXPECT_EQ(dns.upstreams[0].from_dockerd_netns, version.major >= 28) << version.ToString();
    EXPECT_FALSE(dns.public_fallback);
  }
  const auto plain = Model(kDocker28, "nameserver 10.0.0.2\n", DnsNetworkKind::kUserDefined);
  EXPECT_THAT(plain.file.options, ElementsAre("ndots:0"));
}

TEST(ContainerDnsTest, UserNetworkLoopbackOnly) {
  // 20.10 and 26 query a loopback nameserver from dockerd's namespace: no fallback.
  for (const auto version : {kDocker20, kDocker26, kDocker28}) {
    const auto dns = Model(version, kLoopbackOnly, DnsNetworkKind::kUserDefined);
    EXPECT_THAT(dns.upstreams, ElementsAre(DnsUpstream{"127.0.0.1", true})) << version.ToString();
    EXPECT_FALSE(dns.public_fallback);
    EXPECT_FALSE(dns.no_external_nameservers);
  }
}

TEST(ContainerDnsTest, UserNetworkWithoutNameservers) {
  const auto old = Model(kDocker20, "search example.org\n", DnsNetworkKind::kUserDefined);
  EXPECT_THAT(old.upstreams,
              ElementsAre(DnsUpstream{"8.8.8.8", false}, DnsUpstream{"8.8.4.4", false}));
  EXPECT_TRUE(old.public_fallback);
  const auto mid = Model(kDocker26, "search example.org\n", DnsNetworkKind::kUserDefined, true);
  EXPECT_EQ(mid.upstreams.size(), 4u);
  EXPECT_TRUE(mid.public_fallback);
  const auto now = Model(kDocker29, "search example.org\n", DnsNetworkKind::kUserDefined);
  EXPECT_THAT(now.upstreams, IsEmpty());
  EXPECT_FALSE(now.public_fallback) << "28 has no fallback for the embedded DNS";
  EXPECT_TRUE(now.no_external_nameservers);
}

TEST(ContainerDnsTest, UserNetworkIpv6NameserversByRelease) {
  const std::string text = "nameserver 10.0.0.2\nnameserver 2001:db8::53\n";
  // 20.10: IPv6 nameservers stay in the file beside 127.0.0.11 (with IPv6), IPv4 upstreams.
  const auto old = Model(kDocker20, text, DnsNetworkKind::kUserDefined, true);
  EXPECT_THAT(old.file.nameservers, ElementsAre("127.0.0.11", "2001:db8::53"));
  EXPECT_THAT(old.upstreams, ElementsAre(DnsUpstream{"10.0.0.2", false}));
  const auto old_v4 = Model(kDocker20, text, DnsNetworkKind::kUserDefined, false);
  EXPECT_THAT(old_v4.file.nameservers, ElementsAre("127.0.0.11"));
  // 26: all upstream; the IPv6 one from the pod when the network has no IPv6.
  const auto mid = Model(kDocker26, text, DnsNetworkKind::kUserDefined, false);
  EXPECT_THAT(mid.file.nameservers, ElementsAre("127.0.0.11"));
  EXPECT_THAT(mid.upstreams,
              ElementsAre(DnsUpstream{"10.0.0.2", false}, DnsUpstream{"2001:db8::53", true}));
  const auto now = Model(kDocker28, text, DnsNetworkKind::kUserDefined, false);
  EXPECT_THAT(now.upstreams,
              ElementsAre(DnsUpstream{"10.0.0.2", true}, DnsUpstream{"2001:db8::53", true}));
}

TEST(ContainerDnsTest, OverridesReplaceTheirList) {
  DnsOverrides servers{{"10.96.0.10"}, {}, {}};
  for (const auto version : {kDocker20, kDocker26, kDocker28}) {
    const auto bridge =
        Model(version, kLoopbackOnly, DnsNetworkKind::kDefaultBridge, false, servers);
    EXPECT_THAT(bridge.file.nameservers, ElementsAre("10.96.0.10"));
    EXPECT_THAT(bridge.file.search, ElementsAre("example.org")) << "search stays the pod's";
    EXPECT_FALSE(bridge.public_fallback);
    const auto user = Model(version, kLoopbackOnly, DnsNetworkKind::kUserDefined, false, servers);
    EXPECT_THAT(user.upstreams, ElementsAre(DnsUpstream{"10.96.0.10", false}))
        << "overrides are queried from the container: " << version.ToString();
  }
  DnsOverrides options{{}, {"."}, {"ndots:1"}};
  const auto user =
      Model(kDocker28, kKubeletResolvConf, DnsNetworkKind::kUserDefined, false, options);
  EXPECT_THAT(user.file.search, IsEmpty()) << "'.' means no search domains";
  EXPECT_THAT(user.file.options, ElementsAre("ndots:1"));
  EXPECT_EQ(QueriesPerExternalName(user.file), 1);
  // A search-only override: 20.10 builds the file unfiltered, loopback and all; 26 on filter.
  DnsOverrides search{{}, {"corp.example"}, {}};
  EXPECT_THAT(Model(kDocker20, kLoopbackOnly, DnsNetworkKind::kDefaultBridge, false, search)
                  .file.nameservers,
              ElementsAre("127.0.0.1"));
  EXPECT_THAT(Model(kDocker26, kLoopbackOnly, DnsNetworkKind::kDefaultBridge, false, search)
                  .file.nameservers,
              ElementsAre("8.8.8.8", "8.8.4.4"));
}

TEST(ContainerDnsTest, InvalidNdotsIsDroppedBeforeTheEmbeddedDnsAddsItsOwn) {
  const auto dns = Model(kDocker28, "nameserver 10.0.0.2\noptions ndots:x rotate\n",
                         DnsNetworkKind::kUserDefined);
  EXPECT_THAT(dns.file.options, ElementsAre("rotate", "ndots:0"));
}

TEST(QueriesTest, NdotsAndSearchLength) {
  EXPECT_EQ(Ndots({}), 1);
  EXPECT_EQ(Ndots({"ndots:5", "ndots:2"}), 2) << "the last one counts";
  EXPECT_EQ(Ndots({"ndots:30"}), 15);
  ResolvConfLines file{
      {}, {"a.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp"}, {"ndots:5"}};
  EXPECT_EQ(QueriesPerExternalName(file, 1), 5);
  EXPECT_EQ(QueriesPerExternalName(file, 5), 1);
  file.options = {};
  EXPECT_EQ(QueriesPerExternalName(file, 1), 1);
  EXPECT_THAT(ClusterDomains(file.search), ElementsAre("cluster.local"));
  EXPECT_THAT(ClusterDomains({"corp.example"}), IsEmpty());
}

TEST(QueriesTest, LoopbackNameservers) {
  EXPECT_TRUE(IsLoopbackNameserver("127.0.0.53"));
  EXPECT_TRUE(IsLoopbackNameserver("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackNameserver("::1"));
  EXPECT_FALSE(IsLoopbackNameserver("10.96.0.10"));
  EXPECT_FALSE(IsLoopbackNameserver("fe80::1%eth0"));
  EXPECT_FALSE(IsLoopbackNameserver("bogus"));
}

}  // namespace
}  // namespace dind::netcfg

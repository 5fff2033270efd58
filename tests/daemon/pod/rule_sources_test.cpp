// SPDX-License-Identifier: Apache-2.0
// What `rules` masquerades: sources from --source, daemon.json or the docker bridges, and the
// out-interface, from injected daemon.json text and netlink snapshots.
#include "daemon/pod/rule_sources.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::pod {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Cidr C(const char* text) {
  return *Cidr::Parse(text);
}

// eth0 10.244.1.5/24 with the default route, docker0 172.17.0.1/16 (plus its link-local
// IPv6), br-1a2b 172.18.0.1/16 and fd00:1::1/64, and an unrelated bridge cni0.
netcfg::NetworkSnapshot Pod() {
  netcfg::NetworkSnapshot network;
  network.links = {{1, "lo", "", 65536, true, 0, 0, std::nullopt},
                   {2, "eth0", "veth", 1450, true, 0, 0, std::nullopt},
                   {3, "docker0", "bridge", 1500, true, 0, 0, std::nullopt},
                   {4, "br-1a2b", "bridge", 1500, true, 0, 0, std::nullopt},
                   {5, "cni0", "bridge", 1500, true, 0, 0, std::nullopt}};
  const auto address = [](int link, const char* text, int prefix) {
    return netcfg::AddressInfo{link, *IpAddress::Parse(text), prefix};
  };
  network.addresses = {address(2, "10.244.1.5", 24),    address(3, "172.17.0.1", 16),
                       address(3, "fe80::42:acff", 64), address(4, "172.18.0.1", 16),
                       address(4, "fd00:1::1", 64),     address(5, "10.88.0.1", 16)};
  netcfg::RouteInfo default_route;
  default_route.destination = C("0.0.0.0/0");
  default_route.gateway = *IpAddress::Parse("10.244.1.1");
  default_route.out_link_index = 2;
  network.routes = {default_route};
  return network;
}

// The names the `rules` command gives its inputs; messages must use them.
const SourceInputNames kNames{{"--source", "DIND_NETCFG_SOURCE"},
                              {"--out-interface", "DIND_NETCFG_OUT_INTERFACE"},
                              {"--daemon-json", "DIND_NETCFG_DAEMON_JSON"}};

SourcesRequest Request(std::optional<std::string> daemon_json, bool given = false) {
  SourcesRequest request;
  request.names = kNames;
  request.daemon_json_path = "/etc/docker/daemon.json";
  request.daemon_json_explicit = given;
  request.daemon_json_text = std::move(daemon_json);
  return request;
}

// ---- daemon.json ---------------------------------------------------------------------------

TEST(DaemonJsonSources, BipNetworkAndEveryPoolBase) {
  const auto networks = DockerNetworksFromDaemonJson(
      R"({"mtu": 1450, "bip": "10.200.0.1/24", "default-address-pools": [
            {"base": "10.201.0.0/16", "size": 24}, {"base": "10.202.0.0/16", "size": 26}]})",
      "d.json", kNames);
  ASSERT_TRUE(networks.ok()) << networks.error().Message();
  EXPECT_THAT(*networks, ElementsAre(C("10.200.0.0/24"), C("10.201.0.0/16"), C("10.202.0.0/16")));
}

TEST(DaemonJsonSources, NeitherKeyIsEmptyNotAnError) {
  const auto networks = DockerNetworksFromDaemonJson(R"({"debug": true})", "d.json", kNames);
  ASSERT_TRUE(networks.ok());
  EXPECT_THAT(*networks, IsEmpty());
}

TEST(DaemonJsonSources, DuplicatesAreDropped) {
  const auto networks = DockerNetworksFromDaemonJson(
      R"({"bip": "172.17.0.1/16", "default-address-pools": [{"base": "172.17.0.0/16"}]})", "d",
      kNames);
  ASSERT_TRUE(networks.ok());
  EXPECT_THAT(*networks, ElementsAre(C("172.17.0.0/16")));
}

TEST(DaemonJsonSources, MalformedInputNamesTheFileAndTheKey) {
  struct Case {
    const char* text;
    std::vector<std::string> named;
  };
  for (const Case& c : {Case{"{not json", {"/x/daemon.json", "not a JSON object"}},
                        Case{"[1]", {"/x/daemon.json", "not a JSON object"}},
                        Case{R"({"bip": 17})", {"/x/daemon.json", "\"bip\"", "17"}},
                        Case{R"({"bip": "172.17.0.1/33"})", {"\"bip\"", "172.17.0.1/33"}},
                        Case{R"({"default-address-pools": {}})", {"default-address-pools"}},
                        Case{R"({"default-address-pools": [{"size": 24}]})",
                             {"default-address-pools[0].base", "missing"}},
                        Case{R"({"default-address-pools": [{"base": "10.0.0.0/8"},
                                {"base": "nonsense"}]})",
                             {"default-address-pools[1].base", "nonsense"}}}) {
    const auto networks = DockerNetworksFromDaemonJson(c.text, "/x/daemon.json", kNames);
    ASSERT_FALSE(networks.ok()) << c.text;
    EXPECT_EQ(networks.error().ExitCode(), 2) << c.text;
    for (const auto& name : c.named) {
      EXPECT_THAT(networks.error().Message(), HasSubstr(name)) << c.text;
    }
  }
}

// ---- Docker bridges ------------------------------------------------------------------------

TEST(BridgeSources, Docker0AndBrNetworksWithoutLinkLocal) {
  std::vector<std::string> bridges;
  const auto networks = DockerBridgeNetworks(Pod(), bridges);
  EXPECT_THAT(networks, ElementsAre(C("172.17.0.0/16"), C("172.18.0.0/16"), C("fd00:1::/64")));
  EXPECT_THAT(bridges, ElementsAre("docker0", "br-1a2b"));
}

TEST(PoolSources, BridgeNetworkThenPoolBases) {
  netcfg::PoolDecision pools;
  pools.bridge_network = C("172.17.0.0/16");
  pools.bip = "172.17.0.1/16";
  pools.default_address_pools = {{C("172.18.0.0/16"), 24}, {C("172.19.0.0/16"), 24}};
  EXPECT_THAT(NetworksFromPools(pools),
              ElementsAre(C("172.17.0.0/16"), C("172.18.0.0/16"), C("172.19.0.0/16")));
}

// ---- Precedence ----------------------------------------------------------------------------

TEST(ResolveSpec, ExplicitSourcesOverrideDaemonJsonAndBridges) {
  SourcesRequest request = Request(R"({"bip": "10.200.0.1/24"})");
  request.explicit_sources = {C("192.168.50.0/24"), C("192.168.50.0/24")};
  const auto resolved = ResolveMasqueradeSpec(request, Pod());
  ASSERT_TRUE(resolved.ok()) << resolved.error().Message();
  EXPECT_THAT(resolved->spec.sources, ElementsAre(C("192.168.50.0/24")));
  EXPECT_EQ(resolved->sources_from, "--source");
  EXPECT_EQ(resolved->spec.out_interface, "eth0");
  EXPECT_THAT(resolved->out_interface_from, HasSubstr("uplink"));
}

TEST(ResolveSpec, DaemonJsonBeatsBridges) {
  const auto resolved = ResolveMasqueradeSpec(Request(R"({"bip": "10.200.0.1/24"})"), Pod());
  ASSERT_TRUE(resolved.ok());
  EXPECT_THAT(resolved->spec.sources, ElementsAre(C("10.200.0.0/24")));
  EXPECT_EQ(resolved->sources_from, "daemon.json /etc/docker/daemon.json");
}

TEST(ResolveSpec, AbsentDefaultDaemonJsonFallsBackToBridges) {
  const auto resolved = ResolveMasqueradeSpec(Request(std::nullopt), Pod());
  ASSERT_TRUE(resolved.ok());
  EXPECT_THAT(resolved->spec.sources,
              ElementsAre(C("172.17.0.0/16"), C("172.18.0.0/16"), C("fd00:1::/64")));
  EXPECT_EQ(resolved->sources_from, "docker bridges docker0, br-1a2b");
}

TEST(ResolveSpec, DaemonJsonWithoutNetworksFallsBackToBridges) {
  const auto resolved = ResolveMasqueradeSpec(Request(R"({"debug": true})"), Pod());
  ASSERT_TRUE(resolved.ok());
  EXPECT_THAT(resolved->sources_from, HasSubstr("docker0"));
}

TEST(ResolveSpec, MissingDaemonJsonGivenExplicitlyIsBadInputNamingIt) {
  SourcesRequest request = Request(std::nullopt, /*given=*/true);
  request.daemon_json_path = "/run/dind/daemon.json";
  const auto resolved = ResolveMasqueradeSpec(request, Pod());
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().ExitCode(), 2);
  EXPECT_THAT(resolved.error().Message(),
              AllOf(HasSubstr("/run/dind/daemon.json"), HasSubstr("does not exist"),
                    HasSubstr("--daemon-json"), HasSubstr("DIND_NETCFG_DAEMON_JSON")));
}

TEST(ResolveSpec, NothingToMasqueradeSaysWhereItLooked) {
  netcfg::NetworkSnapshot bare = Pod();
  std::erase_if(bare.links, [](const auto& link) { return link.name != "eth0"; });
  const auto resolved = ResolveMasqueradeSpec(Request(std::nullopt), bare);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().ExitCode(), 2);
  EXPECT_THAT(resolved.error().Message(), AllOf(HasSubstr("/etc/docker/daemon.json"),
                                                HasSubstr("docker0"), HasSubstr("--source")));
}

// ---- Out-interface -------------------------------------------------------------------------

TEST(OutInterface, ExistingLinkIsTaken) {
  const auto chosen = ResolveOutInterface("cni0", Pod(), kNames.out_interface);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, "cni0");
}

TEST(OutInterface, UnknownLinkIsBadInputNamingItAndListingTheLinks) {
  const auto chosen = ResolveOutInterface("eth9", Pod(), kNames.out_interface);
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.error().ExitCode(), 2);
  EXPECT_THAT(chosen.error().Message(),
              AllOf(HasSubstr("--out-interface"), HasSubstr("DIND_NETCFG_OUT_INTERFACE"),
                    HasSubstr("'eth9'"), HasSubstr("eth0, docker0")));
}

TEST(OutInterface, DefaultIsTheIpv4Uplink) {
  const auto chosen = ResolveOutInterface("", Pod(), kNames.out_interface);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, "eth0");
}

TEST(OutInterface, NoDefaultRouteIsAnEnvironmentErrorPointingToTheFlag) {
  netcfg::NetworkSnapshot no_route = Pod();
  no_route.routes.clear();
  const auto chosen = ResolveOutInterface("", no_route, kNames.out_interface);
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.error().ExitCode(), 1);
  EXPECT_THAT(chosen.error().Message(), HasSubstr("--out-interface"));
}

}  // namespace
}  // namespace dind::pod

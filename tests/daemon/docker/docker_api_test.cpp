// SPDX-License-Identifier: Apache-2.0
#include "daemon/docker/docker_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/daemon/docker/samples.h"

namespace dind::docker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::string_view kSource = "dockerd at /var/run/docker.sock";

Cidr C(std::string_view text) {
  return *Cidr::Parse(text);
}
IpAddress A(std::string_view text) {
  return *IpAddress::Parse(text);
}

std::vector<DockerNetwork> ParseOk(std::string_view json) {
  auto networks = ParseNetworks(json, kSource);
  EXPECT_TRUE(networks.ok()) << networks.error().Message();
  return networks.ok() ? *networks : std::vector<DockerNetwork>{};
}

std::string ParseError(std::string_view json) {
  auto networks = ParseNetworks(json, kSource);
  EXPECT_FALSE(networks.ok()) << json;
  if (networks.ok()) return "";
  EXPECT_EQ(networks.error().kind, ErrorKind::kEnvironment);
  return networks.error().Message();
}

TEST(ParseInfoTest, ReadsTheFirewallOfEveryDockerdVersion) {
  struct Case {
    std::string_view body;
    std::string version;
    std::optional<std::string> firewall_driver;
    bool ipv4_forwarding;
    std::size_t warnings;
  };
  // Recorded from each release (20.10.24, 26.1.5, 28.5.2) and written for the others.
  const std::string info2010 = samples::Recorded("20.10.24", "info");
  const std::string info26 = samples::Recorded("26.1.5", "info");
  const std::string info28 = samples::Recorded("28.5.2", "info");
  for (const Case& want : {Case{info2010, "20.10.24+dfsg1", std::nullopt, true, 0},
                           Case{samples::kInfo24, "24.0.7", std::nullopt, true, 0},
                           Case{info26, "26.1.5+dfsg1", std::nullopt, true, 0},
                           Case{samples::kInfo27, "27.3.1", std::nullopt, true, 2},
                           Case{info28, "28.5.2+dfsg4", "iptables", true, 0},
                           Case{samples::kInfo29Nftables, "29.0.1", "nftables", false, 1}}) {
    auto info = ParseInfo(want.body, kSource);
    ASSERT_TRUE(info.ok()) << info.error().Message();
    EXPECT_EQ(info->server_version, want.version);
    EXPECT_EQ(info->firewall_driver, want.firewall_driver) << want.version;
    EXPECT_EQ(info->ipv4_forwarding, want.ipv4_forwarding) << want.version;
    EXPECT_EQ(info->warnings.size(), want.warnings) << want.version;
  }
}

TEST(ParseInfoTest, WhatIsNotAnObjectIsAnErrorNamingTheSocket) {
  for (std::string_view body : {"[]", "{oops", "\"info\""}) {
    auto info = ParseInfo(body, kSource);
    ASSERT_FALSE(info.ok()) << body;
    EXPECT_THAT(info.error().Message(), HasSubstr("GET /info"));
    EXPECT_THAT(info.error().Message(), HasSubstr(kSource));
  }
  // Fields of an unexpected type are left out, not guessed.
  auto odd =
      ParseInfo(R"({"ServerVersion":29,"FirewallBackend":"nftables","Warnings":"x"})", kSource);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->server_version, "");
  EXPECT_FALSE(odd->firewall_driver);
  EXPECT_THAT(odd->warnings, IsEmpty());
}

TEST(ParseNetworksTest, ReadsDockerd2010NetworkList) {
  const std::vector<DockerNetwork> networks = ParseOk(samples::kNetworks);
  ASSERT_EQ(networks.size(), 5u);

  const DockerNetwork& bridge = networks[0];
  EXPECT_EQ(bridge.name, "bridge");
  EXPECT_EQ(bridge.id, "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566");
  EXPECT_EQ(bridge.driver, "bridge");
  EXPECT_THAT(bridge.subnets, ElementsAre(C("172.17.0.0/16")));
  EXPECT_THAT(bridge.gateways, IsEmpty());  // dockerd does not report docker0's
  EXPECT_EQ(bridge.mtu, 1450u);
  EXPECT_EQ(bridge.bridge_name, "docker0");
  EXPECT_FALSE(bridge.internal);
  EXPECT_FALSE(bridge.enable_ipv6);

  const DockerNetwork& host = networks[1];
  EXPECT_EQ(host.name, "host");
  EXPECT_EQ(host.driver, "host");
  EXPECT_THAT(host.subnets, IsEmpty());
  EXPECT_EQ(host.mtu, std::nullopt);
  EXPECT_EQ(host.bridge_name, "");  // not a bridge network

  const DockerNetwork& kind = networks[2];
  EXPECT_EQ(kind.name, "kind");
  EXPECT_TRUE(kind.enable_ipv6);
  EXPECT_THAT(kind.subnets, ElementsAre(C("172.18.0.0/16"), C("fc00:f853:ccd:e793::/64")));
  EXPECT_THAT(kind.gateways, ElementsAre(A("172.18.0.1")));
  EXPECT_EQ(kind.mtu, 1500u);
  EXPECT_EQ(kind.bridge_name, "br-3c9f1e2d4b5a");  // dockerd's default name

  EXPECT_EQ(networks[3].driver, "null");
  EXPECT_EQ(networks[3].bridge_name, "");

  const DockerNetwork& cache = networks[4];
  EXPECT_EQ(cache.name, "build-cache");
  EXPECT_THAT(cache.subnets, IsEmpty());  // IPAM.Config null
  EXPECT_THAT(cache.gateways, IsEmpty());
  EXPECT_EQ(cache.mtu, std::nullopt);  // Options null
  EXPECT_TRUE(cache.internal);
  EXPECT_EQ(cache.bridge_name, "br-7d8e9fa0b1c2");
}

// The lists each release gave after init's daemon.json and `docker network create --ipv6
// user` (tests/e2e/release_e2e_test.sh): docker0 with the docker MTU 1450 and both families;
// "user" with the MTU from default-network-opts where dockerd applies it (>= 24.0) and none on
// 20.10, which ignores the key; host and none without an IPAM config from 26.1 on.
TEST(ParseNetworksTest, ReadsTheListOfEveryRecordedRelease) {
  for (std::string_view release : samples::kRecordedReleases) {
    SCOPED_TRACE(release);
    const std::string body = samples::Recorded(release, "networks");
    ASSERT_FALSE(body.empty()) << "tests/daemon/docker/releases/" << release << "/networks.json";
    const std::vector<DockerNetwork> networks = ParseOk(body);
    ASSERT_EQ(networks.size(), 4u);
    const auto find = [&networks](std::string_view name) -> const DockerNetwork& {
      for (const auto& network : networks) {
        if (network.name == name) return network;
      }
      ADD_FAILURE() << "no network " << name;
      return networks.front();
    };
    const DockerNetwork& bridge = find("bridge");
    EXPECT_EQ(bridge.bridge_name, "docker0");
    EXPECT_EQ(bridge.mtu, 1450u);
    EXPECT_TRUE(bridge.enable_ipv6);
    EXPECT_THAT(bridge.subnets, ElementsAre(C("172.17.0.0/16"), C("fd4d:6e63:6667::/64")));
    EXPECT_THAT(bridge.gateways, ElementsAre(A("172.17.0.1")));  // from "bip"; none for IPv6

    const DockerNetwork& user = find("user");
    EXPECT_EQ(user.driver, "bridge");
    EXPECT_TRUE(user.enable_ipv6);
    EXPECT_EQ(user.bridge_name, "br-" + user.id.substr(0, 12));
    EXPECT_EQ(user.subnets.size(), 2u);
    EXPECT_EQ(user.gateways.size(), 2u);  // 20.10 and 26.1 write the IPv6 one as "addr/80"
    if (release == "20.10.24") {
      EXPECT_EQ(user.mtu, std::nullopt);
    } else {
      EXPECT_EQ(user.mtu, 1450u);
    }
    EXPECT_EQ(find("host").driver, "host");
    EXPECT_THAT(find("none").subnets, IsEmpty());
  }
}

TEST(ParseNetworksTest, ToleratesMissingOptionalParts) {
  const auto networks = ParseOk(R"([{"Id":"abc","Name":"n","Driver":"bridge"},
                                     {"Id":"def","Name":"m","IPAM":null,"Options":{}},
                                     {"Id":"0123456789abcdef","Name":"o","Driver":"bridge",
                                      "IPAM":{"Config":[{"Subnet":"10.9.0.0/24"},{}]},
                                      "Options":{"com.docker.network.bridge.name":""}}])");
  ASSERT_EQ(networks.size(), 3u);
  EXPECT_EQ(networks[0].bridge_name, "br-abc");  // ids shorter than 12 characters
  EXPECT_EQ(networks[1].driver, "");
  EXPECT_THAT(networks[2].subnets, ElementsAre(C("10.9.0.0/24")));
  EXPECT_THAT(networks[2].gateways, IsEmpty());
  EXPECT_EQ(networks[2].bridge_name, "br-0123456789ab");  // an empty name option is no name
  EXPECT_THAT(ParseOk("[]"), IsEmpty());
}

TEST(ParseNetworksTest, AGatewayWithAPrefixLengthIsReadAsTheAddress) {
  const auto networks = ParseOk(
      R"([{"Id":"a","Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","Gateway":"10.1.0.1/16"}]}}])");
  ASSERT_EQ(networks.size(), 1u);
  EXPECT_THAT(networks[0].gateways, ElementsAre(A("10.1.0.1")));
}

TEST(ParseNetworksTest, GarbageIsAnErrorNamingTheSocket) {
  EXPECT_THAT(ParseError("{oops"), HasSubstr("the network list from " + std::string(kSource) +
                                             " is not JSON (invalid at byte"));
  EXPECT_THAT(ParseError(""), HasSubstr("is not JSON"));
  EXPECT_THAT(ParseError("<html>502 Bad Gateway</html>"), HasSubstr("--docker-socket"));
  EXPECT_THAT(ParseError(R"({"message":"page not found"})"),
              HasSubstr("is a JSON object, not a list of networks"));
  EXPECT_THAT(ParseError("[1]"), HasSubstr("network #1 is not a JSON object"));
  EXPECT_THAT(ParseError(R"([{"Name":"x"}])"), HasSubstr("network #1 has no Id"));
  EXPECT_THAT(ParseError(R"([{"Id":"a","Name":"x"},{"Id":7,"Name":"y"}])"),
              HasSubstr("network #2 has no Id"));
  EXPECT_THAT(ParseError(R"([{"Id":"a"}])"), HasSubstr("network #1 has no Name"));
}

TEST(ParseNetworksTest, BadValuesNameTheNetworkAndTheValue) {
  EXPECT_THAT(ParseError(R"([{"Id":"abc","Name":"ci","IPAM":{"Config":[{"Subnet":"10.0.0/8"}]}}])"),
              HasSubstr("network ci (abc): IPAM subnet \"10.0.0/8\""));
  EXPECT_THAT(ParseError(R"([{"Id":"abc","Name":"ci","IPAM":{"Config":[{"Gateway":"nope"}]}}])"),
              HasSubstr("network ci (abc): IPAM gateway \"nope\""));
  EXPECT_THAT(ParseError(R"([{"Id":"abc","Name":"ci","IPAM":{"Config":{}}}])"),
              HasSubstr("IPAM.Config is object, not a list"));
  for (const char* mtu : {R"("abc")", R"("1500x")", R"("67")", R"("65536")", R"("")", "1500"}) {
    const std::string json = std::string(R"([{"Id":"abc","Name":"ci","Options":{)") +
                             R"("com.docker.network.driver.mtu":)" + mtu + "}}]";
    EXPECT_THAT(ParseError(json), HasSubstr("network ci (abc): option com.docker.network.driver."
                                            "mtu is " +
                                            std::string(mtu) + ", not an MTU"));
  }
}

TEST(ParseNetworksTest, DeeplyNestedOrHugeInputStaysAnError) {
  EXPECT_THAT(ParseError(std::string(100000, '[')), HasSubstr("is not JSON"));
  std::string many = "[";
  for (int i = 0; i < 50000; ++i) many += "1,";
  many.back() = ']';
  EXPECT_THAT(ParseError(many), HasSubstr("network #1 is not a JSON object"));
  EXPECT_THAT(ParseError("[1e99999]"), HasSubstr(std::string(kSource)));
}

TEST(ParseEventTest, ReadsNetworkEvents) {
  auto create = ParseEvent(samples::kCreateEvent, kSource);
  ASSERT_TRUE(create.ok()) << create.error().Message();
  ASSERT_TRUE(create->has_value());
  const NetworkEvent& event = **create;
  EXPECT_EQ(event.action, NetworkAction::kCreate);
  EXPECT_EQ(event.action_text, "create");
  EXPECT_EQ(event.network_id, "9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9");
  EXPECT_EQ(event.network_name, "ci-net");
  EXPECT_EQ(event.driver, "bridge");
  EXPECT_EQ(event.container_id, "");
  EXPECT_EQ(event.time_nano, 1699955123456789012);

  auto connect = ParseEvent(samples::kConnectEvent, kSource);
  ASSERT_TRUE(connect.ok() && connect->has_value());
  EXPECT_EQ((*connect)->action, NetworkAction::kConnect);
  EXPECT_EQ((*connect)->container_id,
            "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00");
  EXPECT_EQ((**ParseEvent(samples::kDisconnectEvent, kSource)).action, NetworkAction::kDisconnect);
  EXPECT_EQ((**ParseEvent(samples::kDestroyEvent, kSource)).action, NetworkAction::kDestroy);
}

TEST(ParseEventTest, OtherEventsAreSkippedNotErrors) {
  auto container = ParseEvent(samples::kContainerEvent, kSource);
  ASSERT_TRUE(container.ok());
  EXPECT_FALSE(container->has_value());
  auto no_actor = ParseEvent(R"({"Type":"network","Action":"create"})", kSource);
  ASSERT_TRUE(no_actor.ok());
  EXPECT_FALSE(no_actor->has_value());
  auto other =
      ParseEvent(R"({"Type":"network","Action":"prune","Actor":{"ID":"x"},"time":5})", kSource);
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->action, NetworkAction::kOther);
  EXPECT_EQ((*other)->action_text, "prune");
  EXPECT_EQ((*other)->time_nano, 5'000'000'000);  // only "time": seconds
}

TEST(ParseEventTest, TextThatIsNotAJsonObjectIsAnError) {
  for (const char* text : {"nope", "[1,2]", "\"network\"", "{\"Type\":"}) {
    auto event = ParseEvent(text, kSource);
    ASSERT_FALSE(event.ok()) << text;
    EXPECT_THAT(event.error().Message(), HasSubstr("an event from " + std::string(kSource)));
  }
}

TEST(ErrorMessageOfTest, PrefersDockerdsMessage) {
  EXPECT_EQ(
      ErrorMessageOf(
          R"({"message":"client version 1.99 is too new. Maximum supported API version is 1.41"})"),
      "client version 1.99 is too new. Maximum supported API version is 1.41");
  EXPECT_EQ(ErrorMessageOf("404 page not found\n"), "404 page not found");
  EXPECT_EQ(ErrorMessageOf(""), "(empty body)");
  EXPECT_EQ(ErrorMessageOf(std::string(300, 'x')), std::string(200, 'x') + "...");
}

TEST(RequestTest, TargetsAndRequestBytes) {
  EXPECT_EQ(NetworksTarget(""), "/networks");
  EXPECT_EQ(NetworksTarget("/v1.41"), "/v1.41/networks");
  EXPECT_EQ(EventsTarget(""), "/events?filters=%7B%22type%22%3A%5B%22network%22%5D%7D");
  EXPECT_EQ(EventsTarget("/v1.41"), "/v1.41/events?filters=%7B%22type%22%3A%5B%22network%22%5D%7D");
  EXPECT_EQ(BuildGetRequest("/networks"),
            "GET /networks HTTP/1.1\r\nHost: docker\r\nUser-Agent: dind-netcfg\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n");
}

// --- JsonObjectSplitter ----------------------------------------------------------------------

std::vector<std::string> FeedAll(JsonObjectSplitter& splitter,
                                 const std::vector<std::string_view>& pieces) {
  std::vector<std::string> objects;
  for (const auto piece : pieces) {
    auto fed = splitter.Feed(piece);
    EXPECT_TRUE(fed.ok()) << fed.error().Message();
    if (fed.ok()) objects.insert(objects.end(), fed->begin(), fed->end());
  }
  return objects;
}

TEST(JsonObjectSplitterTest, SplitsConcatenatedObjects) {
  JsonObjectSplitter splitter;
  EXPECT_THAT(FeedAll(splitter, {"{\"a\":1}\n{\"b\":{\"c\":[1,{}]}}\n  \r\n{}"}),
              ElementsAre("{\"a\":1}", "{\"b\":{\"c\":[1,{}]}}", "{}"));
  EXPECT_FALSE(splitter.mid_object());
}

TEST(JsonObjectSplitterTest, ObjectsCutAtEveryPossiblePointComeOutWhole) {
  const std::string stream =
      std::string(samples::kCreateEvent) + "\n" + std::string(samples::kConnectEvent) + "\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    JsonObjectSplitter splitter;
    const std::string_view view(stream);
    const auto objects = FeedAll(splitter, {view.substr(0, cut), view.substr(cut)});
    ASSERT_THAT(objects, ElementsAre(samples::kCreateEvent, samples::kConnectEvent)) << cut;
  }
}

TEST(JsonObjectSplitterTest, OneByteAtATime) {
  const std::string stream = std::string(samples::kDestroyEvent) + "\n";
  JsonObjectSplitter splitter;
  std::vector<std::string> objects;
  for (const char c : stream) {
    auto fed = splitter.Feed(std::string_view(&c, 1));
    ASSERT_TRUE(fed.ok());
    objects.insert(objects.end(), fed->begin(), fed->end());
    if (objects.empty() && c != '\n') {
      EXPECT_TRUE(splitter.mid_object());
    }
  }
  EXPECT_THAT(objects, ElementsAre(samples::kDestroyEvent));
}

TEST(JsonObjectSplitterTest, BracesAndQuotesInsideStringsDoNotEndObjects) {
  JsonObjectSplitter splitter;
  const std::string tricky = R"({"name":"a}b{c\"}]","x":"\\"})";
  EXPECT_THAT(FeedAll(splitter, {tricky.substr(0, 14), tricky.substr(14), "{}"}),
              ElementsAre(tricky, "{}"));
}

TEST(JsonObjectSplitterTest, SplitMultiByteCharactersStayIntact) {
  const std::string object = "{\"name\":\"réseau-€\"}";
  JsonObjectSplitter splitter;
  const std::size_t inside_euro = object.find("€") + 1;
  EXPECT_THAT(FeedAll(splitter, {std::string_view(object).substr(0, inside_euro),
                                 std::string_view(object).substr(inside_euro)}),
              ElementsAre(object));
}

TEST(JsonObjectSplitterTest, GarbageBetweenObjectsIsAnError) {
  JsonObjectSplitter splitter;
  auto fed = splitter.Feed("{\"a\":1}\nHTTP/1.1 500");
  ASSERT_FALSE(fed.ok());
  EXPECT_THAT(fed.error().Message(), HasSubstr("byte 72 where a JSON object should start"));
  splitter.Reset();
  auto after_reset = splitter.Feed("{}");
  ASSERT_TRUE(after_reset.ok());
  EXPECT_THAT(*after_reset, ElementsAre("{}"));
}

// Found by the docker_api fuzzer: `{"a":1]` used to come out as an object.
TEST(JsonObjectSplitterTest, AMismatchedBracketIsAnError) {
  JsonObjectSplitter splitter;
  auto fed = splitter.Feed(R"({"a":[1}]})");
  ASSERT_FALSE(fed.ok());
  EXPECT_THAT(fed.error().Message(), HasSubstr("'}' where ']' should close a bracket"));
  splitter.Reset();
  fed = splitter.Feed(R"({"a":1])");
  ASSERT_FALSE(fed.ok());
  EXPECT_THAT(fed.error().Message(), HasSubstr("']' where '}' should close a bracket"));
}

TEST(JsonObjectSplitterTest, AnOversizedObjectIsAnError) {
  JsonObjectSplitter splitter(64);
  ASSERT_TRUE(splitter.Feed("{\"a\":\"" + std::string(50, 'x')).ok());
  auto fed = splitter.Feed(std::string(20, 'x'));
  ASSERT_FALSE(fed.ok());
  EXPECT_THAT(fed.error().Message(), HasSubstr("longer than 64 bytes"));
}

}  // namespace
}  // namespace dind::docker

// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dns/dns_flag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::netcfg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr DockerVersion kDocker28{28, 5, 2};

TEST(DnsFlagTest, Parses) {
  EXPECT_EQ(ParseDnsFlag("off")->mode, DnsFlagMode::kOff);
  EXPECT_EQ(ParseDnsFlag("auto")->mode, DnsFlagMode::kAuto);
  const auto list = ParseDnsFlag("10.96.0.10,2001:db8::53");
  ASSERT_TRUE(list.ok()) << list.error().Message();
  EXPECT_EQ(list->mode, DnsFlagMode::kServers);
  EXPECT_THAT(list->servers, ElementsAre("10.96.0.10", "2001:db8::53"));
}

TEST(DnsFlagTest, BadValuesNameTheFlag) {
  for (const char* bad : {"999.1.1.1", "", "10.0.0.1,", ",10.0.0.1", "dns.example", "10.0.0.0/8",
                          "fe80::1%eth0", "Auto"}) {
    const auto parsed = ParseDnsFlag(bad, "--dns (DIND_NETCFG_DNS)");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().ExitCode(), 2) << bad;
    EXPECT_THAT(parsed.error().Message(), HasSubstr("--dns (DIND_NETCFG_DNS)")) << bad;
  }
  EXPECT_THAT(ParseDnsFlag("10.0.0.1,999.1.1.1").error().Message(),
              HasSubstr("'999.1.1.1' is not an IP address"));
}

TEST(DecideDnsTest, OffAndListsAreTakenAsGiven) {
  const DnsPlanInputs inputs{kDocker28, {"nameserver 127.0.0.1\n", std::nullopt}, false, {}};
  EXPECT_FALSE(DecideDns({DnsFlagMode::kOff, {}}, inputs).servers);
  const auto list = DecideDns(*ParseDnsFlag("10.96.0.10"), inputs);
  ASSERT_TRUE(list.servers);
  EXPECT_THAT(*list.servers, ElementsAre("10.96.0.10"));
}

TEST(DecideDnsTest, AutoWritesNothingWhereThePodsNameserversReachTheBridge) {
  const DnsPlanInputs kubelet{kDocker28,
                              {"nameserver 10.96.0.10\nsearch svc.cluster.local\n", std::nullopt},
                              false,
                              "10.96.0.10"};
  const auto decision = DecideDns({DnsFlagMode::kAuto, {}}, kubelet);
  EXPECT_FALSE(decision.servers);
  EXPECT_THAT(decision.reason, HasSubstr("10.96.0.10"));
  // systemd-resolved's stub with its upstream file: dockerd reads the file itself.
  const DnsPlanInputs resolved{
      kDocker28, {"nameserver 127.0.0.53\n", "nameserver 192.168.1.1\n"}, false, {}};
  EXPECT_FALSE(DecideDns({DnsFlagMode::kAuto, {}}, resolved).servers);
}

TEST(DecideDnsTest, AutoWritesAUsableServerInsteadOfTheFallback) {
  // A local dnsmasq in front of systemd-resolved: dockerd would fall back to 8.8.8.8.
  const DnsPlanInputs dnsmasq{
      kDocker28,
      {"nameserver 127.0.0.1\n",
       "nameserver fe80::1%eth0\nnameserver 127.0.0.2\nnameserver 192.168.1.1\n"},
      false,
      {}};
  const auto decision = DecideDns({DnsFlagMode::kAuto, {}}, dnsmasq);
  ASSERT_TRUE(decision.servers) << decision.reason;
  EXPECT_THAT(*decision.servers, ElementsAre("192.168.1.1"));
  EXPECT_THAT(decision.reason, HasSubstr("8.8.8.8"));
  // Otherwise the cluster DNS service.
  const DnsPlanInputs kube{
      kDocker28, {"nameserver 127.0.0.1\n", std::nullopt}, false, "10.96.0.10"};
  EXPECT_THAT(*DecideDns({DnsFlagMode::kAuto, {}}, kube).servers, ElementsAre("10.96.0.10"));
}

TEST(DecideDnsTest, AutoWithoutAnythingUsableWritesNothingAndSaysSo) {
  const DnsPlanInputs none{
      kDocker28, {"nameserver 127.0.0.1\n", "nameserver 127.0.0.1\n"}, false, "127.0.0.1"};
  const auto decision = DecideDns({DnsFlagMode::kAuto, {}}, none);
  EXPECT_FALSE(decision.servers);
  EXPECT_TRUE(decision.unresolved_fallback);
  EXPECT_THAT(decision.reason, HasSubstr("pass --dns"));
  // An IPv6 upstream is usable only when the bridge has IPv6.
  const DnsPlanInputs v6{kDocker28, {"nameserver ::1\n", "nameserver 2001:db8::53\n"}, false, {}};
  EXPECT_FALSE(DecideDns({DnsFlagMode::kAuto, {}}, v6).servers);
  DnsPlanInputs with_v6 = v6;
  with_v6.ipv6 = true;
  EXPECT_THAT(*DecideDns({DnsFlagMode::kAuto, {}}, with_v6).servers, ElementsAre("2001:db8::53"));
}

}  // namespace
}  // namespace dind::netcfg

// SPDX-License-Identifier: Apache-2.0
// The dns-* checks on values (the model itself is tested in tests/netcfg/dns/), and the facts
// read from a root and a daemon.json a test writes.
#include "daemon/doctor/dns_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/mocks/temp_dir.h"

namespace dind::doctor {
namespace {

using ::dind::testing::TempDir;
using ::dind::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::ordered_json;

constexpr const char* kKubelet =
    "search ci.svc.cluster.local svc.cluster.local cluster.local\n"
    "nameserver 10.96.0.10\n"
    "options ndots:5\n";

DnsFacts Facts(std::string etc, netcfg::DockerVersion version = {28, 5, 2}) {
  DnsFacts facts;
  facts.pod.etc = std::move(etc);
  facts.dockerd = version;
  facts.dockerd_source = "GET /version of unix:///var/run/docker.sock";
  facts.daemon_json_source = "/etc/docker/daemon.json (absent)";
  return facts;
}

const CheckResult& Find(const std::vector<CheckResult>& results, const std::string& id) {
  for (const auto& result : results) {
    if (result.id == id) return result;
  }
  ADD_FAILURE() << "no result " << id;
  return results.front();
}

TEST(DnsCheckTest, KubeletPodOnDocker28) {
  const auto results = CheckDns(Facts(kKubelet));
  ASSERT_EQ(results.size(), 3u);
  const auto& conf = Find(results, kDnsResolvConfCheckId);
  EXPECT_EQ(conf.status, CheckStatus::kOk);
  EXPECT_THAT(conf.summary, HasSubstr("default bridge: nameserver 10.96.0.10; search "
                                      "ci.svc.cluster.local"));
  EXPECT_THAT(conf.summary, HasSubstr("nameserver 127.0.0.11"));
  EXPECT_THAT(conf.summary, HasSubstr("10.96.0.10 (from the pod)"));
  EXPECT_THAT(conf.source, HasSubstr("/etc/resolv.conf"));
  EXPECT_THAT(conf.source, HasSubstr("dockerd 28.5.2"));
  EXPECT_EQ(conf.observed["release"], ">= 28");
  EXPECT_EQ(Find(results, kDnsFallbackCheckId).status, CheckStatus::kOk);
  const auto& ndots = Find(results, kDnsNdotsCheckId);
  EXPECT_EQ(ndots.status, CheckStatus::kWarn);
  EXPECT_THAT(ndots.summary, HasSubstr("costs 4 queries"));
  EXPECT_THAT(ndots.summary, HasSubstr("cluster.local"));
  EXPECT_THAT(ndots.fix, HasSubstr("ndots:1"));
  EXPECT_EQ(ndots.observed["queries_per_external_name"], 4);
}

TEST(DnsCheckTest, OlderDockerQueriesThroughTheBridge) {
  const auto results = CheckDns(Facts(kKubelet, {20, 10, 24}));
  EXPECT_THAT(Find(results, kDnsResolvConfCheckId).summary,
              HasSubstr("10.96.0.10 (via the bridge)"));
}

TEST(DnsCheckTest, FallbackIsAWarningUntilTheProberSaysItIsUnreachable) {
  auto facts = Facts("nameserver 127.0.0.1\n");
  auto fallback = Find(CheckDns(facts), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kWarn);
  EXPECT_THAT(fallback.summary, HasSubstr("8.8.8.8, 8.8.4.4 on the default bridge"));
  EXPECT_THAT(fallback.summary, HasSubstr("not verified"));
  EXPECT_THAT(fallback.fix, HasSubstr("the sidecar"));
  EXPECT_THAT(fallback.fix, HasSubstr("asks them itself"));
  EXPECT_THAT(fallback.fix, HasSubstr("--dns auto"));
  EXPECT_EQ(fallback.observed["servers"], Json::parse(R"(["8.8.8.8", "8.8.4.4"])"));
  EXPECT_TRUE(fallback.observed["reachable"].is_null());
  facts.fallback_reachable = false;
  fallback = Find(CheckDns(facts), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kFail);
  EXPECT_THAT(fallback.fix, Not(HasSubstr("asks them itself")));
  EXPECT_THAT(fallback.source, HasSubstr("egress prober from the docker bridge"));
  facts.fallback_reachable = true;
  EXPECT_EQ(Find(CheckDns(facts), kDnsFallbackCheckId).status, CheckStatus::kWarn);
  // A nameserver in daemon.json: no fallback.
  facts.overrides.nameservers = {"10.96.0.10"};
  fallback = Find(CheckDns(facts), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kOk);
  EXPECT_THAT(fallback.summary, HasSubstr("daemon.json"));
}

TEST(DnsCheckTest, FallbackReachableIsAnyAnswerNoneWhenAllFailedUnknownUnprobed) {
  EXPECT_EQ(FallbackReachable({}), std::nullopt);
  EXPECT_EQ(FallbackReachable({{"8.8.8.8", false, "timed out"}, {"8.8.4.4", false, "timed out"}}),
            false);
  EXPECT_EQ(FallbackReachable({{"8.8.8.8", false, "timed out"}, {"8.8.4.4", true, "answered"}}),
            true);
}

// The sidecar hands the prober's results in through the context (the preflight's feed):
// dns-fallback judges by them and names them, from a root a test writes.
TEST(DnsCheckTest, TheProbesFedInDecideTheFallback) {
  TempDir root;
  std::filesystem::create_directories(root / "etc");
  WriteTestFile(root / "etc/resolv.conf", "nameserver 127.0.0.1\n", 0644);
  const HostFiles files(root.path());
  DoctorContext context{files, root / "daemon.json", root / "no.sock", false};
  context.told_dockerd = netcfg::DockerVersion{28, 5, 2};

  auto fallback = Find(DnsChecks(context), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kWarn);
  EXPECT_THAT(fallback.summary, HasSubstr("not verified"));
  EXPECT_EQ(fallback.observed["probed"], Json::array());

  const std::string timeout =
      "DNS query to 8.8.8.8:53 from the docker bridge (probe 172.17.255.254) timed out after 2s";
  context.dns_fallback_probes = {{"8.8.8.8", false, timeout}, {"8.8.4.4", false, "timed out"}};
  fallback = Find(DnsChecks(context), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kFail);
  EXPECT_THAT(fallback.summary, HasSubstr("unreachable from the docker bridge (8.8.8.8 did not, "
                                          "8.8.4.4 did not)"));
  EXPECT_THAT(fallback.source, HasSubstr("the sidecar's egress prober from the docker bridge"));
  EXPECT_EQ(fallback.observed["reachable"], false);
  ASSERT_EQ(fallback.observed["probed"].size(), 2u);
  EXPECT_EQ(fallback.observed["probed"][0]["server"], "8.8.8.8");
  EXPECT_EQ(fallback.observed["probed"][0]["answered"], false);
  EXPECT_EQ(fallback.observed["probed"][0]["detail"], timeout);

  context.dns_fallback_probes[1].answered = true;
  fallback = Find(DnsChecks(context), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kWarn);
  EXPECT_THAT(fallback.summary, HasSubstr("they answer from the docker bridge (8.8.8.8 did not, "
                                          "8.8.4.4 answered), but cluster names do not resolve"));
  EXPECT_EQ(fallback.observed["reachable"], true);

  // The servers the sidecar probes are the ones the check names; IPv6 ones with daemon.json ipv6.
  EXPECT_EQ(DnsFallbackServers(DnsChecks(context)),
            (std::vector<std::string>{"8.8.8.8", "8.8.4.4"}));
  WriteTestFile(root / "daemon.json", R"({"ipv6": true})", 0644);
  EXPECT_EQ(DnsFallbackServers(DnsChecks(context)),
            (std::vector<std::string>{"8.8.8.8", "8.8.4.4", "2001:4860:4860::8888",
                                      "2001:4860:4860::8844"}));
  // No fallback: nothing to probe.
  WriteTestFile(root / "etc/resolv.conf", kKubelet, 0644);
  EXPECT_TRUE(DnsFallbackServers(DnsChecks(context)).empty());
  EXPECT_TRUE(DnsFallbackServers({}).empty());
}

TEST(DnsCheckTest, NoNameserverFailsUserNetworksFrom28) {
  const auto now = CheckDns(Facts("search example.org\n", {29, 0, 0}));
  const auto& conf = Find(now, kDnsResolvConfCheckId);
  EXPECT_EQ(conf.status, CheckStatus::kFail);
  EXPECT_THAT(conf.summary, HasSubstr("NO EXTERNAL NAMESERVERS DEFINED"));
  EXPECT_THAT(Find(now, kDnsFallbackCheckId).summary, Not(HasSubstr("user-defined networks")));
  const auto before = CheckDns(Facts("search example.org\n", {26, 1, 5}));
  EXPECT_EQ(Find(before, kDnsResolvConfCheckId).status, CheckStatus::kOk);
  EXPECT_THAT(Find(before, kDnsFallbackCheckId).summary,
              HasSubstr("the default bridge and user-defined networks"));
}

TEST(DnsCheckTest, UnreadableIsUnknownNeverOk) {
  auto facts = Facts(kKubelet);
  facts.unreadable = "reading /etc/resolv.conf: Permission denied";
  const auto results = CheckDns(facts);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& result : results) EXPECT_EQ(result.status, CheckStatus::kUnknown) << result.id;
}

TEST(DnsCheckTest, UnknownVersionIsModelledAsTheNewestAndSaysSo) {
  auto facts = Facts(kKubelet);
  facts.dockerd.reset();
  facts.dockerd_source = "no answer";
  const auto conf = Find(CheckDns(facts), kDnsResolvConfCheckId);
  EXPECT_THAT(conf.source, HasSubstr("unknown version"));
  EXPECT_THAT(conf.source, HasSubstr("modelled as >= 28"));
}

TEST(DnsCheckTest, ReadsTheRootAndDaemonJson) {
  TempDir root;
  std::filesystem::create_directories(root / "etc");
  std::filesystem::create_directories(root / "run/systemd/resolve");
  WriteTestFile(root / "etc/resolv.conf", "nameserver 127.0.0.53\nsearch lan\n", 0644);
  WriteTestFile(root / "run/systemd/resolve/resolv.conf", "nameserver 192.168.1.1\n", 0644);
  WriteTestFile(root / "daemon.json",
                R"({"dns-opts": ["ndots:1"], "dns-search": ["."], "ipv6": true, "mtu": 1450})",
                0644);
  const HostFiles files(root.path());
  const DoctorContext context{files, root / "daemon.json", root / "no.sock", false};
  const auto facts = ReadDnsFacts(context);
  EXPECT_EQ(facts.pod.etc, "nameserver 127.0.0.53\nsearch lan\n");
  EXPECT_EQ(facts.pod.systemd, "nameserver 192.168.1.1\n");
  EXPECT_FALSE(facts.unreadable);
  EXPECT_EQ(facts.overrides.options, std::vector<std::string>{"ndots:1"});
  EXPECT_EQ(facts.overrides.search, std::vector<std::string>{"."});
  EXPECT_TRUE(facts.overrides.nameservers.empty());
  EXPECT_TRUE(facts.ipv6);
  const auto results = CheckDns(facts);
  EXPECT_THAT(Find(results, kDnsResolvConfCheckId).summary,
              HasSubstr("default bridge: nameserver 192.168.1.1; options ndots:1 (from "
                        "/run/systemd/resolve/resolv.conf)"));
  EXPECT_EQ(Find(results, kDnsNdotsCheckId).status, CheckStatus::kOk);

  // Absent files are an empty resolv.conf to dockerd, not an unknown.
  TempDir empty;
  const HostFiles none(empty.path());
  const auto absent = ReadDnsFacts({none, empty / "daemon.json", empty / "no.sock", false});
  EXPECT_FALSE(absent.unreadable);
  EXPECT_FALSE(absent.pod.etc);
  EXPECT_THAT(absent.daemon_json_source, HasSubstr("(absent)"));
  EXPECT_EQ(Find(CheckDns(absent), kDnsFallbackCheckId).status, CheckStatus::kWarn);
}

}  // namespace
}  // namespace dind::doctor

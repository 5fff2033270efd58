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
  EXPECT_THAT(fallback.fix, HasSubstr("--probe-target 8.8.8.8:53"));
  EXPECT_THAT(fallback.fix, HasSubstr("--dns auto"));
  facts.fallback_reachable = false;
  fallback = Find(CheckDns(facts), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kFail);
  EXPECT_THAT(fallback.fix, Not(HasSubstr("--probe-target")));
  facts.fallback_reachable = true;
  EXPECT_EQ(Find(CheckDns(facts), kDnsFallbackCheckId).status, CheckStatus::kWarn);
  // A nameserver in daemon.json: no fallback.
  facts.overrides.nameservers = {"10.96.0.10"};
  fallback = Find(CheckDns(facts), kDnsFallbackCheckId);
  EXPECT_EQ(fallback.status, CheckStatus::kOk);
  EXPECT_THAT(fallback.summary, HasSubstr("daemon.json"));
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

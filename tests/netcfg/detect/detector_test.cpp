// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/detector.h"

#include <gtest/gtest.h>

#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

const KeyUpdate* FindUpdate(const std::vector<KeyUpdate>& updates, const std::string& first) {
  for (const auto& update : updates) {
    if (update.path.front() == first) return &update;
  }
  return nullptr;
}

TEST(DetectTest, NoUplinkIsAnEnvironmentErrorWithAHint) {
  SystemFacts facts = testing::PodFacts();
  facts.network.routes.clear();
  auto report = Detect(facts, {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().ExitCode(), 1);
  EXPECT_NE(report.error().Message().find("no IPv4 default route, and no IPv6 default route"),
            std::string::npos);
}

TEST(PlanDaemonJsonTest, NewDockerdGetsDefaultNetworkOpts) {
  auto report = Detect(testing::PodFacts(1450), {.dockerd_version = "24.0.7"});
  ASSERT_TRUE(report.ok()) << report.error().Message();
  const auto updates = PlanDaemonJson(*report);
  EXPECT_EQ(FindUpdate(updates, "mtu")->value, OrderedJson(1450));
  const KeyUpdate* opts = FindUpdate(updates, "default-network-opts");
  ASSERT_NE(opts, nullptr);
  EXPECT_EQ(opts->path, (std::vector<std::string>{"default-network-opts", "bridge",
                                                  "com.docker.network.driver.mtu"}));
  EXPECT_EQ(opts->value, OrderedJson("1450")) << "dockerd wants driver options as strings";
  EXPECT_EQ(FindUpdate(updates, "bip")->value, OrderedJson("172.17.0.1/16"));
  EXPECT_EQ(FindUpdate(updates, "default-address-pools")->value->dump(),
            R"([{"base":"172.18.0.0/16","size":24},{"base":"172.19.0.0/16","size":24}])");
  EXPECT_EQ(FindUpdate(updates, "cgroup-parent"), nullptr);
}

TEST(PlanDaemonJsonTest, OldDockerdNeverGetsKeysItDoesNotKnow) {
  auto report = Detect(testing::PodFacts(1450), {.dockerd_version = "20.10.24"});
  ASSERT_TRUE(report.ok());
  const auto updates = PlanDaemonJson(*report);
  const KeyUpdate* opts = FindUpdate(updates, "default-network-opts");
  ASSERT_NE(opts, nullptr);
  EXPECT_FALSE(opts->value) << "the key must be removed, not written";
  EXPECT_FALSE(report->warnings.empty());
}

TEST(ReportToJsonTest, HasTheDocumentedFields) {
  auto report = Detect(testing::PodFacts(1480), {.dockerd_version = "25.0"});
  ASSERT_TRUE(report.ok());
  const auto json = ReportToJson(*report);
  for (const char* key : {"families", "uplink", "overlay", "mtu", "kernel", "cgroup", "pools",
                          "dockerd", "ipv6", "warnings"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["uplink"]["ipv4"]["interface"], "eth0");
  EXPECT_EQ(json["overlay"]["overhead_bytes"], 20);
  EXPECT_EQ(json["mtu"]["docker"], 1480);
  EXPECT_EQ(json["dockerd"]["supports_default_network_opts"], true);
  EXPECT_NE(ReportToText(*report).find("docker MTU  1480"), std::string::npos)
      << ReportToText(*report);
}

}  // namespace
}  // namespace dind::netcfg

// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/daemon_json_plan.h"

#include <gtest/gtest.h>

#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

using testing::FindUpdate;

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

}  // namespace
}  // namespace dind::netcfg

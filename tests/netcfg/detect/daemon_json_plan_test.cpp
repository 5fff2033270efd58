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

// "min-api-version" arrived in docker-v29.0.0 (moby 9b8419f6ed); dockerd <= 28 refuses to start
// with it. So it is written for 29.x only, and removed (never written) below.
TEST(PlanDaemonJsonTest, MinApiVersionWrittenOnlyForDockerd29On) {
  struct Case {
    const char* dockerd;
    bool written;
    const char* reason_part;
  };
  const Case cases[] = {
      {"20.10.24", false, "its floor is 1.12"},
      {"28.5.2", false, "its floor is already 1.24"},
      {"29.0.0", true, "29.0-29.2 default to 1.44"},
      {"29.3.1", true, "29.3 on to 1.40"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.dockerd);
    auto report = Detect(testing::PodFacts(1450),
                         {.dockerd_version = c.dockerd, .min_api_version = ApiVersion{1, 24}});
    ASSERT_TRUE(report.ok()) << report.error().Message();
    EXPECT_EQ(report->dockerd.supports_min_api_version, c.written);
    EXPECT_NE(report->dockerd.min_api_version_reason.find(c.reason_part), std::string::npos)
        << report->dockerd.min_api_version_reason;
    const auto updates = PlanDaemonJson(*report);
    const KeyUpdate* floor = FindUpdate(updates, "min-api-version");
    ASSERT_NE(floor, nullptr);
    if (c.written) {
      EXPECT_EQ(floor->value, OrderedJson("1.24")) << "a string without 'v', as dockerd wants";
    } else {
      EXPECT_FALSE(floor->value) << "dockerd < 29 would refuse to start: removed, not written";
      bool warned = false;
      for (const auto& warning : report->warnings) {
        warned |= warning.find("--min-api-version 1.24") != std::string::npos;
      }
      EXPECT_TRUE(warned) << "the operator is told it is not written";
    }
  }
}

// dockerd refuses a floor above the newest API it serves ("invalid minimum API version (%s): must
// be between %s and %s", fatal at start: moby daemon/server/middleware/version.go @
// docker-v29.0.0). Only the running dockerd's GET /version says that newest (ApiVersion); its
// binary does not.
TEST(PlanDaemonJsonTest, MinApiVersionAboveWhatTheRunningDockerdServesIsBadInput) {
  SystemFacts facts = testing::PodFacts(1450);
  facts.dockerd_version =
      DockerdVersionText{"29.0.1", "GET /version of unix:///var/run/docker.sock", "1.52"};
  auto refused = Detect(facts, {.dockerd_version = "auto", .min_api_version = ApiVersion{1, 53}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().ExitCode(), 2);
  EXPECT_NE(refused.error().Message().find("--min-api-version '1.53' is above 1.52, the newest "
                                           "API version dockerd 29.0.1 serves (GET /version of "
                                           "unix:///var/run/docker.sock ApiVersion)"),
            std::string::npos)
      << refused.error().Message();

  auto newest = Detect(facts, {.dockerd_version = "auto", .min_api_version = ApiVersion{1, 52}});
  ASSERT_TRUE(newest.ok()) << newest.error().Message();
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*newest), "min-api-version")->value, OrderedJson("1.52"));
  EXPECT_EQ(newest->dockerd.min_api_version_reason.find("cannot be checked"), std::string::npos);

  // From the binary (or --dockerd-version) the bound is unknown: written, and said so.
  facts.dockerd_version = DockerdVersionText{"29.0.1", "Go build info of /usr/bin/dockerd", ""};
  for (const char* requested : {"auto", "29.0.1"}) {
    SCOPED_TRACE(requested);
    auto unchecked =
        Detect(facts, {.dockerd_version = requested, .min_api_version = ApiVersion{1, 53}});
    ASSERT_TRUE(unchecked.ok()) << unchecked.error().Message();
    EXPECT_NE(unchecked->dockerd.min_api_version_reason.find(
                  "whether 1.53 is within the API versions dockerd serves cannot be checked"),
              std::string::npos)
        << unchecked->dockerd.min_api_version_reason;
  }
}

TEST(PlanDaemonJsonTest, MinApiVersionAboveTheDefaultFloorOn28NamesTheEnvVariable) {
  auto report = Detect(testing::PodFacts(1450),
                       {.dockerd_version = "28.5.2", .min_api_version = ApiVersion{1, 40}});
  ASSERT_TRUE(report.ok());
  EXPECT_NE(report->dockerd.min_api_version_reason.find("DOCKER_MIN_API_VERSION=1.40"),
            std::string::npos)
      << report->dockerd.min_api_version_reason;
}

TEST(PlanDaemonJsonTest, MinApiVersionNotOwnedWithoutTheFlag) {
  auto report = Detect(testing::PodFacts(1450), {.dockerd_version = "29.0.0"});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->dockerd.supports_min_api_version);
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*report), "min-api-version"), nullptr)
      << "a user's own value is kept";
  EXPECT_TRUE(report->dockerd.min_api_version_reason.empty());
}

TEST(PlanDaemonJsonTest, MinApiVersionBelowTheLowestFloorIsBadInput) {
  auto report = Detect(testing::PodFacts(1450),
                       {.dockerd_version = "29.0.0", .min_api_version = ApiVersion{1, 12}});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().Message().find("below 1.24"), std::string::npos);
}

TEST(ParseApiVersionTest, OnlyOneDotN) {
  EXPECT_EQ(ParseApiVersion("1.24"), (ApiVersion{1, 24}));
  EXPECT_EQ(ParseApiVersion("1.4"), (ApiVersion{1, 4}));
  EXPECT_EQ(ParseApiVersion("1.100"), (ApiVersion{1, 100}));
  for (const char* bad :
       {"", "x", "1", "1.", "v1.24", "1.24.0", " 1.24", "2.0", "1.2x", "1.1000"}) {
    EXPECT_FALSE(ParseApiVersion(bad)) << bad;
  }
  EXPECT_LT((ApiVersion{1, 24}), (ApiVersion{1, 40}));
  EXPECT_LT((ApiVersion{1, 9}), (ApiVersion{1, 24})) << "numeric, not text, order";
  EXPECT_EQ((ApiVersion{1, 44}).ToString(), "1.44");
}

}  // namespace
}  // namespace dind::netcfg

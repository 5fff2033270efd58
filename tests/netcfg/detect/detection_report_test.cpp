// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/detection_report.h"

#include <gtest/gtest.h>

#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

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

TEST(ReportToTextTest, EachUplinkOnItsLineWithItsMtuAndGateway) {
  auto report = Detect(testing::DualStackPodFacts(1450), {.dockerd_version = "25.0"});
  ASSERT_TRUE(report.ok()) << report.error().Message();
  const std::string text = ReportToText(*report);
  EXPECT_NE(text.find("\nuplink      eth0 MTU 1450 via 10.244.1.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nuplink6     eth0 MTU 1450 via fe80::1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace dind::netcfg

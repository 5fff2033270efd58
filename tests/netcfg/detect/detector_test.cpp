// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/detector.h"

#include <gtest/gtest.h>

#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

TEST(DetectTest, NoUplinkIsAnEnvironmentErrorWithAHint) {
  SystemFacts facts = testing::PodFacts();
  facts.network.routes.clear();
  auto report = Detect(facts, {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().ExitCode(), 1);
  EXPECT_NE(report.error().Message().find("no IPv4 default route, and no IPv6 default route"),
            std::string::npos);
}

}  // namespace
}  // namespace dind::netcfg

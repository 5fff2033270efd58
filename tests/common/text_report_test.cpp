// SPDX-License-Identifier: Apache-2.0
#include "common/text_report.h"

#include <gtest/gtest.h>

namespace dind {
namespace {

TEST(ReportLineTest, ValuesStartInColumn13) {
  EXPECT_EQ(ReportLine("docker", "API at /run/docker.sock answers; 3 networks"),
            "docker      API at /run/docker.sock answers; 3 networks\n");
  EXPECT_EQ(ReportLine("  changed", "mtu: 1500 -> 1450"), "  changed   mtu: 1500 -> 1450\n");
  EXPECT_EQ(ReportLine("daemon.json", "/etc/docker/daemon.json written"),
            "daemon.json /etc/docker/daemon.json written\n");
}

TEST(ReportLineTest, ALabelOf12OrMoreGetsOneSpace) {
  EXPECT_EQ(ReportLine("split brain!", "x"), "split brain! x\n");
  EXPECT_EQ(ReportLine("a much longer label", "x"), "a much longer label x\n");
  EXPECT_EQ(ReportLine("", ""), std::string(12, ' ') + "\n");
}

}  // namespace
}  // namespace dind

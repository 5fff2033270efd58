// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "rules/legacy/iptc_nat_tables.h"

namespace dind::rules::legacy {
namespace {

TEST(TableNamesListNatTest, FindsNatOnlyAsAWholeLine) {
  EXPECT_TRUE(TableNamesListNat("filter\nnat\n"));
  EXPECT_TRUE(TableNamesListNat("nat"));
  EXPECT_FALSE(TableNamesListNat(""));
  EXPECT_FALSE(TableNamesListNat("filter\nmangle\n"));
  EXPECT_FALSE(TableNamesListNat("natx\nxnat\n"));
}

}  // namespace
}  // namespace dind::rules::legacy

// SPDX-License-Identifier: Apache-2.0
#include "netcfg/daemon_json/json_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::netcfg::json_text {
namespace {

using ::testing::HasSubstr;

std::string At(std::string_view text, std::size_t offset) {
  return Describe(PositionAtOffset(text, offset));
}

TEST(PositionAtOffsetTest, CountsLinesAndCharacters) {
  const std::string text = "ab\ncé d\n\nx";
  EXPECT_EQ(At(text, 0), "line 1, column 1");
  EXPECT_EQ(At(text, 2), "line 1, column 3");  // the newline itself
  EXPECT_EQ(At(text, 3), "line 2, column 1");
  EXPECT_EQ(At(text, 7), "line 2, column 4");  // 'd' after the 2-byte é
  EXPECT_EQ(At(text, 9), "line 3, column 1");
  EXPECT_EQ(At(text, 10), "line 4, column 1");
  EXPECT_EQ(At(text, 11), "line 4, column 2");   // end of text
  EXPECT_EQ(At(text, 500), "line 4, column 2");  // clamped
  EXPECT_EQ(At("", 0), "line 1, column 1");
}

TEST(ScanJsonTextTest, RecordsKeyPositionsReachableThroughObjectsOnly) {
  const TextScan scan = ScanJsonText("{\"a\": {\"b\": 1},\n \"c\": [{\"d\": 2}], \"e\\u0021\": 0}");
  ASSERT_FALSE(scan.issue.has_value());
  using Path = std::vector<std::string>;
  ASSERT_EQ(scan.key_positions.size(), 4u);
  EXPECT_EQ(Describe(scan.key_positions.at(Path{"a"})), "line 1, column 2");
  EXPECT_EQ(Describe(scan.key_positions.at(Path{"a", "b"})), "line 1, column 8");
  EXPECT_EQ(Describe(scan.key_positions.at(Path{"c"})), "line 2, column 2");
  EXPECT_EQ(Describe(scan.key_positions.at(Path{"e!"})), "line 2, column 19");
}

TEST(ScanJsonTextTest, KeysInsideStringsAndEscapedQuotesDoNotConfuseTheScan) {
  const TextScan scan = ScanJsonText(R"({"a": "x\", \"a\": 1", "b": "{\"a\"}"})");
  EXPECT_FALSE(scan.issue.has_value());
  EXPECT_EQ(scan.key_positions.size(), 2u);
}

TEST(ScanJsonTextTest, ValuesEqualToKeysAreNotDuplicates) {
  EXPECT_FALSE(ScanJsonText(R"({"a": "a", "b": ["a", "a"]})").issue.has_value());
}

TEST(ScanJsonTextTest, ReportsTheFirstDuplicate) {
  const TextScan scan = ScanJsonText(R"({"x": 1, "x": 2, "x": 3})");
  ASSERT_TRUE(scan.issue.has_value());
  EXPECT_EQ(Describe(scan.issue->position), "line 1, column 10");
  EXPECT_THAT(scan.issue->description, HasSubstr("first at line 1, column 2"));
}

TEST(ScanJsonTextTest, IntegerLimitsAreExact) {
  EXPECT_FALSE(ScanJsonText("[18446744073709551615, -9223372036854775808, 0, -0]").issue);
  EXPECT_TRUE(ScanJsonText("[18446744073709551616]").issue);
  EXPECT_TRUE(ScanJsonText("[-9223372036854775809]").issue);
  EXPECT_TRUE(ScanJsonText("[99999999999999999999]").issue);
  // Fractions and exponents are doubles by nature: rounding them is not a surprise.
  EXPECT_FALSE(
      ScanJsonText("[1.8446744073709551616e19, 0.1000000000000000055511151231257827]").issue);
  EXPECT_TRUE(ScanJsonText("[-1e309]").issue);
}

TEST(ScanJsonTextTest, NestingLimit) {
  const std::string ok = std::string(kMaxNestingDepth, '[') + std::string(kMaxNestingDepth, ']');
  EXPECT_FALSE(ScanJsonText(ok).issue);
  const std::string deep = "[" + ok + "]";
  ASSERT_TRUE(ScanJsonText(deep).issue);
  EXPECT_EQ(Describe(ScanJsonText(deep).issue->position),
            "line 1, column " + std::to_string(kMaxNestingDepth + 1));
}

TEST(ScanJsonTextTest, StaysInBoundsOnGarbage) {
  for (const std::string garbage : {"\"", "{\"", "{\"a\\", "}}}]]", "-", "{\"a\":-", "\\"}) {
    EXPECT_FALSE(ScanJsonText(garbage).issue) << garbage;
  }
}

}  // namespace
}  // namespace dind::netcfg::json_text

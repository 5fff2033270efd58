// SPDX-License-Identifier: Apache-2.0
#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dind::log {
namespace {

TEST(LogTest, TextLineQuotesValuesWithSpaces) {
  EXPECT_EQ(FormatLine(Level::kWarn, Format::kText, "T", "rules missing",
                       {{"backend", "nft"}, {"why", "table deleted"}}),
            "T warn rules missing backend=nft why=\"table deleted\"\n");
}

// Found by the http fuzzer: a client's path with invalid UTF-8 made the text format throw.
TEST(LogTest, TextLineNeverThrowsAndKeepsLineBreaksOutOfValues) {
  const std::string line = FormatLine(Level::kError, Format::kText, "T", "handler failed",
                                      {{"path", "/a b\xff"}, {"why", "x\nT error forged"}});
  EXPECT_EQ(line, "T error handler failed path=\"/a b\xef\xbf\xbd\" why=\"x\\nT error forged\"\n");
}

TEST(LogTest, JsonLineIsOneObject) {
  const std::string line =
      FormatLine(Level::kError, Format::kJson, "T", "boom \"x\"", {{"path", "/a b"}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["level"], "error");
  EXPECT_EQ(json["msg"], "boom \"x\"");
  EXPECT_EQ(json["path"], "/a b");
}

TEST(LogTest, ParsesLevels) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", level));
}

}  // namespace
}  // namespace dind::log

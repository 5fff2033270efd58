// SPDX-License-Identifier: Apache-2.0
#include "daemon/http/listen_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::http {
namespace {

using ::testing::HasSubstr;

ListenAddress Parsed(std::string_view text) {
  auto parsed = ParseListenAddress(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().Message());
  return parsed.ok() ? *parsed : ListenAddress{};
}

TEST(ParseListenAddressTest, AcceptsIpv4AndBracketedIpv6) {
  EXPECT_EQ(Parsed("0.0.0.0:9254").ToString(), "0.0.0.0:9254");
  EXPECT_EQ(Parsed("127.0.0.1:80").ToString(), "127.0.0.1:80");
  EXPECT_EQ(Parsed("[::1]:9254").ToString(), "[::1]:9254");
  EXPECT_EQ(Parsed("[::]:1").ToString(), "[::]:1");
  EXPECT_EQ(Parsed("[fd00:0:0::5]:65535").ToString(), "[fd00::5]:65535");
  EXPECT_EQ(Parsed("10.0.0.1:0").port, 0);  // any free port
  EXPECT_FALSE(Parsed("[::1]:9254").address.is_v4());
}

TEST(ParseListenAddressTest, AnEmptyHostMeansAllIpv4Addresses) {
  EXPECT_EQ(Parsed(":9254"), Parsed("0.0.0.0:9254"));
}

TEST(ParseListenAddressTest, TheDefaultParses) {
  EXPECT_EQ(Parsed(kDefaultListenAddress).ToString(), kDefaultListenAddress);
}

TEST(ParseListenAddressTest, RefusesBadInputNamingTheFlagAndTheProblem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"0.0.0.0", "port is missing"},
      {"0.0.0.0:", "port is missing"},
      {"0.0.0.0:65536", "not a number from 0 to 65535"},
      {"0.0.0.0:99999999999", "not a number from 0 to 65535"},
      {"0.0.0.0:-1", "not a number"},
      {"0.0.0.0:+80", "not a number"},
      {"0.0.0.0:80x", "not a number"},
      {"0.0.0.0: 80", "not a number"},
      {"localhost:9254", "\"localhost\" is not an IP address"},
      {"300.1.1.1:9254", "is not an IP address"},
      {"::1:9254", "needs brackets"},
      {"[::1]", "port is missing after ']'"},
      {"[::1]9254", "port is missing after ']'"},
      {"[::1:9254", "has no ']'"},
      {"[127.0.0.1]:80", "brackets are for IPv6"},
      {"[]:80", "is not an IP address"},
  };
  for (const auto& [text, fragment] : cases) {
    auto parsed = ParseListenAddress(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::kBadInput) << text;
    EXPECT_EQ(parsed.error().ExitCode(), 2);
    const std::string message = parsed.error().Message();
    EXPECT_THAT(message, HasSubstr("--listen \"" + text + "\"")) << message;
    EXPECT_THAT(message, HasSubstr(fragment)) << message;
    EXPECT_THAT(message, HasSubstr("e.g. 0.0.0.0:9254")) << message;  // what to write instead
  }
}

}  // namespace
}  // namespace dind::http

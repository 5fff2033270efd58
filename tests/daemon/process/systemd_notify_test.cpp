// SPDX-License-Identifier: Apache-2.0
// The notify protocol's parsing; the datagrams themselves are checked against a real listener
// in run_sidecar_test.sh (STATUS, READY, WATCHDOG, STOPPING).
#include "daemon/process/systemd_notify.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

namespace dind::process {
namespace {

TEST(ParseNotifySocketTest, APathIsNulTerminated) {
  const auto notify = ParseNotifySocket("/run/systemd/notify");
  ASSERT_TRUE(notify);
  EXPECT_STREQ(notify->address.sun_path, "/run/systemd/notify");
  EXPECT_EQ(notify->length, offsetof(sockaddr_un, sun_path) + 20);
}

TEST(ParseNotifySocketTest, AnAbstractNameStartsWithNulAndIsExactlyItsBytes) {
  const auto notify = ParseNotifySocket("@org/systemd/notify");
  ASSERT_TRUE(notify);
  EXPECT_EQ(notify->address.sun_path[0], '\0');
  EXPECT_EQ(std::string(notify->address.sun_path + 1, 18), "org/systemd/notify");
  EXPECT_EQ(notify->length, offsetof(sockaddr_un, sun_path) + 19);
}

TEST(ParseNotifySocketTest, RefusesEmptyRelativeAndTooLong) {
  EXPECT_FALSE(ParseNotifySocket(""));
  EXPECT_FALSE(ParseNotifySocket("@"));
  EXPECT_FALSE(ParseNotifySocket("run/notify"));
  EXPECT_FALSE(ParseNotifySocket("/" + std::string(sizeof(sockaddr_un::sun_path), 'x')));
}

TEST(ParseWatchdogIntervalTest, NeedsAPositiveIntervalForThisProcess) {
  using std::chrono::microseconds;
  EXPECT_EQ(ParseWatchdogInterval("20000000", nullptr, 42), microseconds(20'000'000));
  EXPECT_EQ(ParseWatchdogInterval("20000000", "42", 42), microseconds(20'000'000));
  EXPECT_FALSE(ParseWatchdogInterval("20000000", "41", 42));  // meant for another process
  EXPECT_FALSE(ParseWatchdogInterval(nullptr, nullptr, 42));
  EXPECT_FALSE(ParseWatchdogInterval("0", nullptr, 42));
  EXPECT_FALSE(ParseWatchdogInterval("20s", nullptr, 42));
  EXPECT_FALSE(ParseWatchdogInterval("20000000", "x", 42));
}

}  // namespace
}  // namespace dind::process

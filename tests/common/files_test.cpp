// SPDX-License-Identifier: Apache-2.0
#include "common/files.h"

#include <gtest/gtest.h>

namespace dind {
namespace {

using std::chrono::milliseconds;

TEST(RunAndCaptureTest, ReturnsStandardOutput) {
  EXPECT_EQ(*RunAndCapture({"sh", "-c", "echo out; echo err >&2"}), "out\n");
}

TEST(RunAndCaptureTest, ANonZeroExitOrAMissingProgramIsAnError) {
  auto failed = RunAndCapture({"sh", "-c", "exit 3"});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().Message().find("exited with status 3"), std::string::npos);
  auto missing = RunAndCapture({"/nonexistent/dockerd", "--version"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ENOENT);
}

// A program that never ends (a dockerd stand-in that is a shell script, a stuck modprobe) is
// killed at the timeout instead of holding up detection for good.
TEST(RunAndCaptureTest, AProgramThatHangsIsKilledAtTheTimeout) {
  auto hung = RunAndCapture({"sh", "-c", "echo partial; exec sleep 600"}, milliseconds(200));
  ASSERT_FALSE(hung.ok());
  EXPECT_NE(hung.error().Message().find("did not finish within 200 ms and was killed"),
            std::string::npos)
      << hung.error().Message();
}

}  // namespace
}  // namespace dind

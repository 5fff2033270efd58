// SPDX-License-Identifier: Apache-2.0
#include "common/result.h"

#include <gtest/gtest.h>

namespace dind {
namespace {

Status FailsWith(Error error) {
  return error;
}
Status Propagates(Error error) {
  DIND_RETURN_IF_ERROR(FailsWith(std::move(error)));
  return OkStatus();
}

TEST(ResultTest, ExitCodesFollowTheKind) {
  EXPECT_EQ(Error::BadInput("x").ExitCode(), 2);
  EXPECT_EQ(Error::Usage("x").ExitCode(), 2);
  EXPECT_EQ(Error::Environment("x", EPERM).ExitCode(), 1);
  EXPECT_EQ(Error::Permission("x", EPERM).ExitCode(), 1);
}

TEST(ResultTest, MessageCarriesWhatErrnoAndHint) {
  const Error error = Error::Environment("reading /x", ENOENT, "mount it").Wrap("init");
  EXPECT_EQ(error.Message(), "init: reading /x: No such file or directory (errno 2); mount it");
}

TEST(ResultTest, ReturnIfErrorPropagates) {
  EXPECT_TRUE(Propagates(Error::Environment("x")).error().what == "x");
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
}

// The error policy: a broken invariant aborts with where it broke, it is not thrown.
TEST(ResultDeathTest, ValueOfAnErrorAbortsNamingTheFile) {
  const Result<int> failed = Error::Environment("x");
  EXPECT_DEATH((void)failed.value(),
               "internal error at .*result.h:[0-9]+: value\\(\\) of a Result");
}

TEST(ResultDeathTest, ErrorOfAValueAborts) {
  const Result<int> value = 7;
  EXPECT_DEATH((void)value.error(), "error\\(\\) of a Result that holds a value");
}

TEST(CheckDeathTest, AbortsWithFileLineConditionAndMessage) {
  const int answer = 41;
  EXPECT_DEATH(DIND_CHECK(answer == 42, "the answer is fixed"),
               "result_test.cpp:[0-9]+: the answer is fixed \\(answer == 42\\)");
}

}  // namespace
}  // namespace dind

// SPDX-License-Identifier: Apache-2.0
// `doctor --json` inside a user namespace made with `unshare -U --map-root-user`: the userns
// check reads the real uid_map the kernel wrote for it and says so; outside, the same binary
// agrees with this process's own uid_map.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/daemon/run_cli.h"

namespace dind::cli {
namespace {

using testing::Describe;
using testing::ProcessResult;
using testing::RunProcess;
using Json = nlohmann::ordered_json;

Json UsernsCheck(const ProcessResult& result) {
  Json document = Json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    ADD_FAILURE() << "not JSON\n" << Describe(result);
    return {};
  }
  for (const auto& check : document["checks"]) {
    if (check.value("id", "") == "userns") return check;
  }
  ADD_FAILURE() << "no userns check\n" << Describe(result);
  return {};
}

bool InInitialUserNamespace() {
  std::ifstream map("/proc/self/uid_map");
  std::string inside;
  std::string outside;
  std::string count;
  map >> inside >> outside >> count;
  return inside == "0" && outside == "0" && count == "4294967295";
}

TEST(DoctorUsernsTest, InsideUnshareUTheMappingIsReported) {
  const ProcessResult inside =
      RunProcess({"unshare", "--user", "--map-root-user", DIND_NETCFG_BINARY, "doctor", "--json"});
  ASSERT_TRUE(inside.exit_code == 0 || inside.exit_code == 1) << Describe(inside);
  Json check = UsernsCheck(inside);
  EXPECT_EQ(check["status"], "warn") << check.dump();
  EXPECT_EQ(check["observed"]["user_namespace"], true) << check.dump();
  // --map-root-user maps root to the caller's uid, one id.
  EXPECT_EQ(check["observed"]["uid_map"], Json::array({"0 " + std::to_string(::getuid()) + " 1"}))
      << check.dump();
  EXPECT_THAT(check["summary"].get<std::string>(), ::testing::HasSubstr("module loads"));
  EXPECT_THAT(check["fix"].get<std::string>(), ::testing::HasSubstr("hostUsers: true"));
}

TEST(DoctorUsernsTest, OutsideItAgreesWithThisProcess) {
  const ProcessResult outside = RunProcess({DIND_NETCFG_BINARY, "doctor", "--json"});
  ASSERT_TRUE(outside.exit_code == 0 || outside.exit_code == 1) << Describe(outside);
  Json check = UsernsCheck(outside);
  EXPECT_EQ(check["observed"]["user_namespace"], !InInitialUserNamespace()) << check.dump();
  EXPECT_EQ(check["status"], InInitialUserNamespace() ? "ok" : "warn") << check.dump();
}

}  // namespace
}  // namespace dind::cli

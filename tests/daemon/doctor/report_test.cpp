// SPDX-License-Identifier: Apache-2.0
// The doctor report: aligned text lines with the fix under each that is not ok, the JSON
// document's shape (README "doctor"), and the exit code.
#include "daemon/doctor/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dind::doctor {
namespace {

using ::testing::ElementsAre;

CheckResult Sample(std::string id, CheckStatus status, std::string summary, std::string fix = {}) {
  CheckResult result;
  result.id = std::move(id);
  result.status = status;
  result.summary = std::move(summary);
  result.source = "/proc/x";
  result.fix = std::move(fix);
  return result;
}

std::vector<std::string> LinesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(CheckStatusTest, NamesAreTheReportWords) {
  EXPECT_EQ(CheckStatusName(CheckStatus::kOk), "ok");
  EXPECT_EQ(CheckStatusName(CheckStatus::kWarn), "warn");
  EXPECT_EQ(CheckStatusName(CheckStatus::kFail), "fail");
  EXPECT_EQ(CheckStatusName(CheckStatus::kUnknown), "unknown");
}

TEST(RenderTextTest, AlignsLinesAndPutsTheFixUnderWhatIsNotOk) {
  const std::vector<CheckResult> results = {
      Sample("conntrack", CheckStatus::kOk, "12 of 100", "never shown for ok"),
      Sample("userns", CheckStatus::kWarn, "a user namespace", "set hostUsers: true"),
      Sample("kind-kmsg", CheckStatus::kFail, "/dev/kmsg is missing", "run privileged"),
      Sample("api-floor", CheckStatus::kUnknown, "dockerd does not answer", "start dockerd")};
  EXPECT_THAT(LinesOf(RenderText(results)),
              ElementsAre("ok       conntrack  12 of 100 (/proc/x)",
                          "warn     userns     a user namespace (/proc/x)",
                          "                    fix: set hostUsers: true",
                          "fail     kind-kmsg  /dev/kmsg is missing (/proc/x)",
                          "                    fix: run privileged",
                          "unknown  api-floor  dockerd does not answer (/proc/x)",
                          "                    fix: start dockerd",
                          "4 checks: 1 ok, 1 warn, 1 fail, 1 unknown"));
}

TEST(RenderJsonTest, IsTheDocumentedSchema) {
  CheckResult conntrack = Sample("conntrack", CheckStatus::kWarn, "80 of 100", "raise it");
  conntrack.observed["count"] = 80;
  const auto json = RenderJson({conntrack, Sample("userns", CheckStatus::kOk, "initial")}, "1.2.3");
  EXPECT_EQ(json.dump(),
            R"({"schema":1,"tool":{"name":"dind-netcfg","version":"1.2.3"},)"
            R"("summary":{"ok":1,"warn":1,"fail":0,"unknown":0},"checks":[)"
            R"({"id":"conntrack","status":"warn","summary":"80 of 100","source":"/proc/x",)"
            R"("fix":"raise it","observed":{"count":80}},)"
            R"({"id":"userns","status":"ok","summary":"initial","source":"/proc/x","fix":"",)"
            R"("observed":{}}]})");
}

TEST(ExitCodeTest, OneOnlyWhenACheckFailed) {
  EXPECT_EQ(ExitCode({}), 0);
  EXPECT_EQ(ExitCode({Sample("a", CheckStatus::kOk, ""), Sample("b", CheckStatus::kWarn, ""),
                      Sample("c", CheckStatus::kUnknown, "")}),
            0);
  EXPECT_EQ(ExitCode({Sample("a", CheckStatus::kOk, ""), Sample("b", CheckStatus::kFail, "")}), 1);
}

}  // namespace
}  // namespace dind::doctor

// SPDX-License-Identifier: Apache-2.0
// The preflight: which checks concern which command, the log that says each fail, warn and
// unknown once and again only on a change, and the checks as /status lists them.
#include "daemon/doctor/preflight.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace dind::doctor {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

CheckResult Sample(std::string id, CheckStatus status) {
  CheckResult result;
  result.id = std::move(id);
  result.status = status;
  result.summary = "what " + result.id + " found";
  result.source = "/proc/x (pid 1)";
  result.fix = status == CheckStatus::kOk ? "" : "the fix of " + result.id;
  return result;
}

std::vector<std::string> Ids(const std::vector<CheckResult>& results) {
  std::vector<std::string> ids;
  for (const auto& result : results) ids.push_back(result.id);
  return ids;
}

struct Line {
  log::Level level;
  std::string message;
  log::Fields fields;
  std::string Field(const std::string& name) const {
    for (const auto& [key, value] : fields) {
      if (key == name) return value;
    }
    return "(absent)";
  }
};

struct Recorded {
  std::vector<Line> lines;
  PreflightLog::Sink Sink() {
    return [this](log::Level level, std::string_view message, const log::Fields& fields) {
      lines.push_back({level, std::string(message), fields});
    };
  }
};

TEST(PreflightSelectionTest, InitLeavesOutWhatOnlyTheRunningDockerdAnswers) {
  const std::vector<CheckResult> all = {
      Sample("conntrack", CheckStatus::kOk),      Sample("api-floor", CheckStatus::kUnknown),
      Sample("storage-fs", CheckStatus::kFail),   Sample("storage-driver", CheckStatus::kUnknown),
      Sample("iptables-raw", CheckStatus::kWarn), Sample("dns-fallback", CheckStatus::kWarn)};
  EXPECT_THAT(Ids(SelectPreflight(PreflightFor::kInit, all)),
              ElementsAre("conntrack", "storage-fs", "iptables-raw", "dns-fallback"));
  EXPECT_THAT(Ids(SelectPreflight(PreflightFor::kRun, all)),
              ElementsAre("conntrack", "api-floor", "storage-fs", "storage-driver", "iptables-raw",
                          "dns-fallback"));
  EXPECT_EQ(SelectPreflight(PreflightFor::kEntrypoint, all).size(), all.size());
  // A check doctor gains concerns every command unless it only asks the running dockerd.
  EXPECT_TRUE(PreflightConcerns(PreflightFor::kInit, "some-new-check"));
  EXPECT_FALSE(PreflightConcerns(PreflightFor::kInit, "api-floor"));
}

TEST(PreflightLogTest, SaysEachFailWarnAndUnknownOnceWithItsFix) {
  Recorded recorded;
  PreflightLog log(PreflightFor::kInit, recorded.Sink());
  const std::vector<CheckResult> round = {
      Sample("conntrack", CheckStatus::kOk), Sample("storage-fs", CheckStatus::kFail),
      Sample("dns-ndots", CheckStatus::kWarn), Sample("iptables-raw", CheckStatus::kUnknown)};
  log.Record(round);
  ASSERT_EQ(recorded.lines.size(), 5u);
  const Line& ok = recorded.lines[0];
  EXPECT_EQ(ok.level, log::Level::kDebug) << "an ok at the start is not news";
  EXPECT_EQ(ok.Field("fix"), "(absent)");
  const Line& fail = recorded.lines[1];
  EXPECT_EQ(fail.level, log::Level::kError);
  EXPECT_EQ(fail.message, "preflight: storage-fs fail");
  EXPECT_EQ(fail.Field("check"), "storage-fs");
  EXPECT_EQ(fail.Field("status"), "fail");
  EXPECT_EQ(fail.Field("summary"), "what storage-fs found");
  EXPECT_EQ(fail.Field("source"), "/proc/x (pid 1)");
  EXPECT_EQ(fail.Field("fix"), "the fix of storage-fs");
  EXPECT_EQ(recorded.lines[2].level, log::Level::kWarn);
  EXPECT_EQ(recorded.lines[2].Field("fix"), "the fix of dns-ndots");
  const Line& unknown = recorded.lines[3];
  EXPECT_EQ(unknown.level, log::Level::kInfo);
  EXPECT_EQ(unknown.message, "preflight: iptables-raw could not be checked");
  EXPECT_EQ(unknown.Field("status"), "unknown") << "never said to be ok";
  const Line& counts = recorded.lines[4];
  EXPECT_EQ(counts.message, "preflight checks");
  EXPECT_EQ(counts.Field("command"), "init");
  EXPECT_EQ(counts.Field("checks"), "4");
  EXPECT_EQ(counts.Field("fail"), "1");
  EXPECT_EQ(counts.Field("unknown"), "1");

  recorded.lines.clear();
  log.Record(round);
  EXPECT_THAT(recorded.lines, IsEmpty()) << "the same round again says nothing";
}

TEST(PreflightLogTest, SaysAChangeOnceWithWhatItWas) {
  Recorded recorded;
  PreflightLog log(PreflightFor::kRun, recorded.Sink());
  log.Record({Sample("api-floor", CheckStatus::kUnknown), Sample("userns", CheckStatus::kWarn)});
  recorded.lines.clear();
  // dockerd answers now; the user namespace is what it was.
  log.Record({Sample("api-floor", CheckStatus::kOk), Sample("userns", CheckStatus::kWarn)});
  ASSERT_EQ(recorded.lines.size(), 2u);
  EXPECT_EQ(recorded.lines[0].message, "preflight: api-floor ok");
  EXPECT_EQ(recorded.lines[0].level, log::Level::kInfo) << "a check that clears is news";
  EXPECT_EQ(recorded.lines[0].Field("was"), "unknown");
  EXPECT_EQ(recorded.lines[1].Field("ok"), "1");
  EXPECT_EQ(recorded.lines[1].Field("warn"), "1");
  recorded.lines.clear();
  log.Record({Sample("api-floor", CheckStatus::kOk), Sample("userns", CheckStatus::kWarn)});
  log.Record({Sample("api-floor", CheckStatus::kOk), Sample("userns", CheckStatus::kWarn)});
  EXPECT_THAT(recorded.lines, IsEmpty());
  log.Record({Sample("api-floor", CheckStatus::kWarn), Sample("userns", CheckStatus::kWarn)});
  ASSERT_EQ(recorded.lines.size(), 2u);
  EXPECT_EQ(recorded.lines[0].level, log::Level::kWarn);
  EXPECT_EQ(recorded.lines[0].Field("was"), "ok");
}

TEST(PreflightJsonTest, ListsTheChecksAsDoctorsDocumentDoes) {
  CheckResult result = Sample("conntrack", CheckStatus::kWarn);
  result.observed = {{"count", 80}, {"max", 100}};
  const auto json = PreflightChecksToJson({result});
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0].dump(),
            R"js({"id":"conntrack","status":"warn","summary":"what conntrack found",)js"
            R"js("source":"/proc/x (pid 1)","fix":"the fix of conntrack",)js"
            R"js("observed":{"count":80,"max":100}})js");
  EXPECT_EQ(PreflightChecksToJson({}).dump(), "[]");
}

TEST(PreflightRunTest, AnUnansweredSocketIsUnknownNeverOk) {
  // No dockerd behind this socket: what asks it is unknown, and run keeps it; init leaves it out.
  const std::string socket = ::testing::TempDir() + "/preflight-no-dockerd.sock";
  const auto run = RunPreflight(PreflightFor::kRun, "/nonexistent/daemon.json", socket);
  bool saw_api_floor = false;
  for (const auto& result : run) {
    if (result.id == "api-floor") {
      saw_api_floor = true;
      EXPECT_EQ(result.status, CheckStatus::kUnknown) << result.summary;
    }
  }
  EXPECT_TRUE(saw_api_floor);
  const auto init = RunPreflight(PreflightFor::kInit, "/nonexistent/daemon.json", socket);
  for (const auto& result : init) EXPECT_NE(result.id, "api-floor");
  EXPECT_FALSE(init.empty());
}

// An init container has no dockerd running and often none on its PATH: --dockerd-version is
// the release its checks judge by.
TEST(PreflightRunTest, InitJudgesByTheToldDockerdVersion) {
  const std::string socket = ::testing::TempDir() + "/preflight-no-dockerd.sock";
  const auto told = netcfg::ParseDockerVersion("28.5.2");
  ASSERT_TRUE(told.has_value());
  const auto init = RunPreflight(PreflightFor::kInit, "/nonexistent/daemon.json", socket, told);
  const auto raw = std::find_if(init.begin(), init.end(), [](const CheckResult& result) {
    return result.id == "iptables-raw";
  });
  ASSERT_NE(raw, init.end());
  EXPECT_THAT(raw->source, ::testing::HasSubstr("--dockerd-version"));
  EXPECT_NE(raw->status, CheckStatus::kUnknown) << raw->summary;
}

// The sidecar's feed reaches dns-fallback: what the egress prober found of the fallback servers
// is what the check is judged by and lists (whatever this machine's resolv.conf makes of it).
TEST(PreflightRunTest, TheFeedReachesDnsFallback) {
  const std::string socket = ::testing::TempDir() + "/preflight-no-dockerd.sock";
  PreflightFeed feed;
  feed.dns_fallback = {{"8.8.8.8", false, "DNS query to 8.8.8.8:53 timed out after 2s"}};
  const auto run = RunPreflight(PreflightFor::kRun, "/nonexistent/daemon.json", socket,
                                netcfg::DockerVersion{28, 5, 2}, feed);
  const auto fallback = std::find_if(run.begin(), run.end(), [](const CheckResult& result) {
    return result.id == "dns-fallback";
  });
  ASSERT_NE(fallback, run.end());
  ASSERT_NE(fallback->status, CheckStatus::kUnknown) << fallback->summary;
  EXPECT_EQ(fallback->observed.at("reachable"), false);
  ASSERT_EQ(fallback->observed.at("probed").size(), 1u);
  EXPECT_EQ(fallback->observed.at("probed").at(0).at("server"), "8.8.8.8");
}

}  // namespace
}  // namespace dind::doctor

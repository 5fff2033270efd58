// SPDX-License-Identifier: Apache-2.0
// api-floor on the /version bodies of tests/daemon/docker/releases (20.10, 26.1 and 28.5 as
// recorded; 29.2.1 synthetic, written from moby's VersionResponse), edited for 29.3's 1.40 and a
// lowered floor, and the group end to end against a fake dockerd on a unix socket.
#include "daemon/doctor/api_floor_check.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <thread>

#include "tests/daemon/docker/fake_dockerd.h"
#include "tests/daemon/docker/samples.h"

namespace dind::doctor {
namespace {

const std::string kSocket = "/var/run/docker.sock";

Result<docker::DockerVersionInfo> Parsed(const std::string& body) {
  return docker::ParseVersion(body, "test");
}

// `body` with the first occurrence of every `from` (top level and Engine component) replaced.
std::string Replace(std::string body, const std::string& from, const std::string& to) {
  for (auto at = body.find(from); at != std::string::npos; at = body.find(from, at + to.size())) {
    body.replace(at, from.size(), to);
  }
  return body;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ApiFloorCheckTest, RecordedReleasesBefore29AreOk) {
  for (std::string_view release : docker::samples::kRecordedReleases) {
    SCOPED_TRACE(release);
    const std::string body = docker::samples::Recorded(release, "version");
    ASSERT_FALSE(body.empty());
    const CheckResult result = CheckApiFloor(Parsed(body), kSocket);
    EXPECT_EQ(result.id, "api-floor");
    EXPECT_EQ(result.status, CheckStatus::kOk) << result.summary;
    EXPECT_TRUE(result.fix.empty());
    EXPECT_TRUE(Has(result.source, "GET /version of unix:///var/run/docker.sock (dockerd "))
        << result.source;
    EXPECT_TRUE(Has(result.summary, "before 29.0")) << result.summary;
  }
  const CheckResult old =
      CheckApiFloor(Parsed(docker::samples::Recorded("20.10.24", "version")), kSocket);
  EXPECT_EQ(old.observed["min_api_version"], "1.12");
  EXPECT_EQ(old.observed["api_version"], "1.41");
  EXPECT_EQ(old.observed["version"], "20.10.24+dfsg1");
}

TEST(ApiFloorCheckTest, Docker29DefaultFloorWarnsWithTheLiveValue) {
  const std::string body = docker::samples::Recorded("29.2.1-synthetic", "version");
  ASSERT_FALSE(body.empty());
  const CheckResult result = CheckApiFloor(Parsed(body), kSocket);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_TRUE(Has(result.summary,
                  "clients below API 1.44 (Testcontainers, old docker CLIs, drone runners) get "
                  "HTTP 400"))
      << result.summary;
  EXPECT_TRUE(Has(result.fix, "--min-api-version 1.24")) << result.fix;
  EXPECT_TRUE(Has(result.fix, "\"min-api-version\"")) << result.fix;
  EXPECT_EQ(result.observed["min_api_version"], "1.44");

  // 29.3 lowered the default to 1.40 (moby f96921e5e5): the floor named is the one served.
  const std::string v29_3 =
      Replace(Replace(Replace(body, "29.2.1", "29.3.0"), "\"1.44\"", "\"1.40\""), "1.53", "1.54");
  const CheckResult lower = CheckApiFloor(Parsed(v29_3), kSocket);
  EXPECT_EQ(lower.status, CheckStatus::kWarn);
  EXPECT_TRUE(Has(lower.summary, "clients below API 1.40 ")) << lower.summary;
  EXPECT_FALSE(Has(lower.summary, "1.44")) << lower.summary;
}

TEST(ApiFloorCheckTest, Docker29WithTheFloorLoweredIsOk) {
  const std::string body =
      Replace(docker::samples::Recorded("29.2.1-synthetic", "version"), "\"1.44\"", "\"1.24\"");
  const CheckResult result = CheckApiFloor(Parsed(body), kSocket);
  EXPECT_EQ(result.status, CheckStatus::kOk) << result.summary;
  EXPECT_TRUE(Has(result.summary, "lowered to 1.24")) << result.summary;
}

TEST(ApiFloorCheckTest, NoAnswerOrNoFloorIsUnknownNeverOk) {
  const CheckResult down =
      CheckApiFloor(Error::Environment("connecting to dockerd at /x: No such file"), "/x");
  EXPECT_EQ(down.status, CheckStatus::kUnknown);
  EXPECT_TRUE(Has(down.summary, "No such file")) << down.summary;
  EXPECT_EQ(down.source, "GET /version of unix:///x");
  EXPECT_FALSE(down.fix.empty());

  const CheckResult no_floor =
      CheckApiFloor(Parsed(R"({"Version": "29.0.0", "ApiVersion": "1.52"})"), kSocket);
  EXPECT_EQ(no_floor.status, CheckStatus::kUnknown) << no_floor.summary;

  EXPECT_FALSE(Parsed("not json").ok());
  EXPECT_FALSE(Parsed(R"({"ApiVersion": "1.52"})").ok()) << "no Version: not dockerd's answer";
  EXPECT_FALSE(Parsed("[]").ok());
}

// The group as doctor runs it: a fake dockerd on its own thread answers GET /version.
TEST(ApiFloorChecksTest, AsksTheSocketItIsGiven) {
  boost::asio::io_context io;
  docker::testing::FakeDockerd fake(
      io, {docker::testing::Answer(docker::testing::HttpResponse(
              200, "OK", docker::samples::Recorded("29.2.1-synthetic", "version")))});
  std::thread server([&io] { io.run(); });
  const HostFiles files;
  const std::vector<CheckResult> results =
      ApiFloorChecks(DoctorContext{.files = files, .docker_socket = fake.path()});
  io.stop();
  server.join();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, CheckStatus::kWarn) << results[0].summary;
  EXPECT_TRUE(Has(results[0].source, fake.path() + " (dockerd 29.2.1)")) << results[0].source;
  EXPECT_EQ(fake.targets(), std::vector<std::string>{"/version"});

  const std::vector<CheckResult> missing = ApiFloorChecks(
      DoctorContext{.files = files, .docker_socket = fake.directory() + "/absent.sock"});
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].status, CheckStatus::kUnknown) << missing[0].summary;
}

}  // namespace
}  // namespace dind::doctor

// SPDX-License-Identifier: Apache-2.0
// ConfigureHere, the job init and run's start share: daemon.json first, then the rules.
#include "daemon/pod/configure_here.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mocks/fake_backend.h"
#include "tests/mocks/temp_dir.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::pod {
namespace {

using ::testing::AllOf;
using testing::DecisionFor;
using testing::FakeBackend;
using ::testing::HasSubstr;
using testing::ReadTestFile;
using testing::TempDir;
using testing::WriteTestFile;

netcfg::DetectionReport Report(Mtu uplink_mtu = 1450) {
  netcfg::DetectOptions options;
  options.dockerd_version = "24.0.7";
  return *netcfg::Detect(netcfg::testing::PodFacts(uplink_mtu), options);
}

class ConfigureHereTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) const { WriteTestFile(path_, text, 0644); }
  std::string Read() const { return ReadTestFile(path_); }

  TempDir dir_;
  std::string path_ = dir_ / "daemon.json";
  ChosenBackend chosen_{std::make_unique<FakeBackend>(), DecisionFor(rules::BackendKind::kNft)};
  FakeBackend& backend_ = static_cast<FakeBackend&>(*chosen_.backend);
};

TEST_F(ConfigureHereTest, WritesDaemonJsonThenMasqueradesItsNetworksOutOfTheUplink) {
  Write(R"({"debug": true})");
  auto configured = ConfigureHere(path_, Report(), &chosen_, "--no-rules");
  ASSERT_TRUE(configured.ok()) << configured.error().Message();
  EXPECT_TRUE(configured->daemon_json.written);
  const auto json = netcfg::OrderedJson::parse(Read());
  EXPECT_EQ(json["debug"], true);  // keys dind-netcfg does not own stay
  EXPECT_EQ(json["mtu"], 1450);
  ASSERT_TRUE(configured->rules);
  ASSERT_TRUE(backend_.installed);
  EXPECT_EQ(backend_.installed->out_interface, "eth0");
  EXPECT_EQ(backend_.installed->sources, configured->spec.spec.sources);
  EXPECT_EQ(configured->spec.spec.sources, NetworksFromPools(Report().pools));
}

TEST_F(ConfigureHereTest, WithoutABackendOnlyTheFileIsWritten) {
  auto configured = ConfigureHere(path_, Report(), nullptr, "--no-rules");
  ASSERT_TRUE(configured.ok());
  EXPECT_FALSE(configured->rules);
  EXPECT_EQ(netcfg::OrderedJson::parse(Read())["mtu"], 1450);
}

TEST_F(ConfigureHereTest, ASecondRunChangesNothingInTheFile) {
  ASSERT_TRUE(ConfigureHere(path_, Report(), &chosen_, "").ok());
  auto again = ConfigureHere(path_, Report(), &chosen_, "");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->daemon_json.written);
  EXPECT_TRUE(again->daemon_json.changes.empty());
}

TEST_F(ConfigureHereTest, RulesThatFailSayTheFileIsWrittenAndHowToSkipThem) {
  backend_.fail_apply = true;
  auto configured = ConfigureHere(path_, Report(), &chosen_, "--no-rules");
  ASSERT_TRUE(configured.ok());
  ASSERT_TRUE(configured->rules);
  ASSERT_FALSE(configured->status().ok());
  EXPECT_THAT(configured->status().error().Message(),
              AllOf(HasSubstr("daemon.json " + path_ + " is written"), HasSubstr("--no-rules"),
                    HasSubstr("Operation not permitted")));
  EXPECT_EQ(netcfg::OrderedJson::parse(Read())["mtu"], 1450);
}

TEST_F(ConfigureHereTest, AMalformedFileIsBadInputAndStaysAsItWas) {
  Write("{\"mtu\": 1500,");
  auto checked = CheckExistingDaemonJson(path_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().ExitCode(), 2);
  EXPECT_THAT(checked.error().Message(), HasSubstr(path_));
  EXPECT_FALSE(ConfigureHere(path_, Report(), &chosen_, "").ok());
  EXPECT_EQ(Read(), "{\"mtu\": 1500,");
  EXPECT_FALSE(backend_.installed);  // nothing is applied for a file that was not written
}

TEST_F(ConfigureHereTest, AMissingFileIsFine) {
  EXPECT_TRUE(CheckExistingDaemonJson(path_).ok());
}

}  // namespace
}  // namespace dind::pod

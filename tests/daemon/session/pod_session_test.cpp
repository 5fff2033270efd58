// SPDX-License-Identifier: Apache-2.0
// PodSession from the shared flags as `run` parses them, with --no-rules: it detects in this
// process's namespace (reading only), chooses no backend, and Start writes daemon.json, here to
// a temporary directory the test removes.
#include "daemon/session/pod_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/files.h"
#include "daemon/commands/sidecar_flags.h"

namespace dind::session {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "dind-session-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The shared flags of `run --no-rules --no-probes --mtu 1400 --dockerd-version 24.0.7`.
cli::PodFlags NoRulesFlags(const std::string& daemon_json) {
  cli::PodFlags flags;
  flags.daemon_json = daemon_json;
  flags.no_rules = true;
  flags.detection.mtu = "1400";
  flags.detection.dockerd_version = "24.0.7";
  flags.sidecar.no_probes = true;
  return flags;
}

TEST(PodSessionTest, WithoutRulesItChoosesNoBackendAndStartWritesDaemonJson) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string daemon_json = dir.path() + "/daemon.json";
  auto parsed = cli::ParsePodFlags(NoRulesFlags(daemon_json));
  ASSERT_TRUE(parsed) << parsed.error().Message();
  EXPECT_FALSE(parsed->session.manage_rules);
  EXPECT_FALSE(parsed->session.choose_backend_without_rules);  // the entrypoint's difference
  EXPECT_TRUE(parsed->session.bridges_from_netlink);

  auto session = PodSession::Open(std::move(parsed->session));
  ASSERT_TRUE(session) << session.error().Message();
  EXPECT_FALSE((*session)->backend());
  EXPECT_FALSE(std::filesystem::exists(daemon_json)) << "Open must not write daemon.json";

  const Status started = (*session)->Start();
  ASSERT_TRUE(started) << started.error().Message();
  const auto written = ReadFile(daemon_json);
  ASSERT_TRUE(written) << written.error().Message();
  EXPECT_THAT(*written, HasSubstr("\"mtu\": 1400"));
  EXPECT_EQ((*session)->reconciler().state().daemon_json.writes, 1);
}

TEST(PodSessionTest, TheReportIsHandedOverOnce) {
  TempDir dir;
  auto parsed = cli::ParsePodFlags(NoRulesFlags(dir.path() + "/daemon.json"));
  ASSERT_TRUE(parsed) << parsed.error().Message();
  auto session = PodSession::Open(std::move(parsed->session));
  ASSERT_TRUE(session) << session.error().Message();
  const netcfg::DetectionReport report = (*session)->TakeReport();
  EXPECT_EQ(report.mtu.docker, 1400u);
  EXPECT_DEATH((*session)->TakeReport(), "already handed over");
}

TEST(ParsePodFlagsTest, TheBackendFlagsAreCheckedFirstThenDetectionThenTheSidecars) {
  cli::PodFlags flags = NoRulesFlags("/nonexistent/daemon.json");
  flags.backend.kind = "iptables";
  flags.detection.mtu = "100";
  flags.sidecar.poll_interval = "never";
  auto parsed = cli::ParsePodFlags(flags);
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().Message(), HasSubstr("--backend"));
  flags.backend.kind = "auto";
  parsed = cli::ParsePodFlags(flags);
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().Message(), HasSubstr("--mtu"));
  flags.detection.mtu = "auto";
  parsed = cli::ParsePodFlags(flags);
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().Message(), HasSubstr("--poll-interval"));
  EXPECT_EQ(parsed.error().ExitCode(), 2);
}

TEST(AddPodFlagsTest, EachCommandKeepsItsOwnHelpForTheFlagsThatDiffer) {
  CLI::App app("test");
  auto* command = app.add_subcommand("run", "");
  cli::PodFlags flags;
  cli::AddPodFlags(*command, flags,
                   {.daemon_json = "the json help",
                    .no_rules = "the rules help",
                    .docker_socket = "the socket help"});
  EXPECT_EQ(command->get_option("--daemon-json")->get_description(), "the json help");
  EXPECT_EQ(command->get_option("--no-rules")->get_description(), "the rules help");
  EXPECT_EQ(command->get_option("--docker-socket")->get_description(), "the socket help");
  EXPECT_EQ(command->get_option("--no-rules")->get_envname(), "DIND_NETCFG_NO_RULES");
  EXPECT_EQ(flags.detection.command, "run");
  EXPECT_EQ(flags.backend.command, "run");
}

}  // namespace
}  // namespace dind::session

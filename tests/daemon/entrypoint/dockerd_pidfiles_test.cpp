// SPDX-License-Identifier: Apache-2.0
// The pidfiles an unclean stop leaves: where dockerd will look for them, which are stale, and
// removing those (in a scratch directory, with real processes standing for "running").
#include "daemon/entrypoint/dockerd_pidfiles.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/mocks/temp_dir.h"

namespace dind::entrypoint {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

TEST(DockerdPidfilesTest, DockerdsDefaults) {
  EXPECT_THAT(DockerdPidfiles({"dockerd", "--config-file", "/etc/docker/daemon.json"}, "{}"),
              ElementsAre(Pidfile{"/var/run/docker.pid", "dockerd"},
                          Pidfile{"/var/run/docker/containerd/containerd.pid", "containerd"}));
}

TEST(DockerdPidfilesTest, ArgvWinsOverDaemonJson) {
  const std::string json = R"({"pidfile": "/j/docker.pid", "exec-root": "/j/exec"})";
  EXPECT_THAT(DockerdPidfiles({"dockerd"}, json),
              ElementsAre(Pidfile{"/j/docker.pid", "dockerd"},
                          Pidfile{"/j/exec/containerd/containerd.pid", "containerd"}));
  EXPECT_THAT(DockerdPidfiles({"dockerd", "--pidfile=/a/d.pid", "--exec-root", "/a/x"}, json),
              ElementsAre(Pidfile{"/a/d.pid", "dockerd"},
                          Pidfile{"/a/x/containerd/containerd.pid", "containerd"}));
  EXPECT_EQ(DockerdPidfiles({"dockerd", "-p", "/b/d.pid"}, "not json")[0].path, "/b/d.pid");
}

TEST(JudgePidfileTest, OnlyTheRightProgramRunningKeepsIt) {
  const auto running = [](pid_t pid) -> std::optional<std::string> {
    if (pid == 42) return "dockerd";
    if (pid == 43) return "sleep";  // the pid was reused by something else
    return std::nullopt;
  };
  EXPECT_EQ(JudgePidfile(std::nullopt, "dockerd", running), PidfileVerdict::kAbsent);
  EXPECT_EQ(JudgePidfile("42\n", "dockerd", running), PidfileVerdict::kInUse);
  EXPECT_EQ(JudgePidfile("43", "dockerd", running), PidfileVerdict::kStale);
  EXPECT_EQ(JudgePidfile("44", "dockerd", running), PidfileVerdict::kStale) << "no process";
  EXPECT_EQ(JudgePidfile("", "dockerd", running), PidfileVerdict::kStale);
  EXPECT_EQ(JudgePidfile("4x2", "dockerd", running), PidfileVerdict::kStale);
  EXPECT_EQ(JudgePidfile("-1", "dockerd", running), PidfileVerdict::kStale);
}

void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(RemoveStalePidfilesTest, RemovesStaleKeepsAbsentAndRefusesLive) {
  TempDir dir;
  const Pidfile dockerd{dir / "docker.pid", "dockerd"};
  const Pidfile containerd{dir / "exec/containerd/containerd.pid", "containerd"};
  ASSERT_TRUE(RemoveStalePidfiles({dockerd, containerd}).ok()) << "none there";

  // This test process is alive but is not dockerd: its pid in the file is stale.
  WriteText(dockerd.path, std::to_string(::getpid()) + "\n");
  WriteText(containerd.path, "999999999");
  ASSERT_TRUE(RemoveStalePidfiles({dockerd, containerd}).ok());
  EXPECT_FALSE(std::filesystem::exists(dockerd.path));
  EXPECT_FALSE(std::filesystem::exists(containerd.path));

  // A file naming a running process of that program is in use: kept, and an error says so.
  const Pidfile ours{dir / "ours.pid", "entrypoint_unit"};  // comm is truncated to 15 bytes
  WriteText(ours.path, std::to_string(::getpid()));
  auto in_use = RemoveStalePidfiles({ours});
  ASSERT_FALSE(in_use.ok());
  EXPECT_THAT(in_use.error().Message(), HasSubstr("names a running entrypoint_unit"));
  EXPECT_THAT(in_use.error().Message(), HasSubstr("--dockerd-arg=--pidfile"));
  EXPECT_TRUE(std::filesystem::exists(ours.path));
}

}  // namespace
}  // namespace dind::entrypoint

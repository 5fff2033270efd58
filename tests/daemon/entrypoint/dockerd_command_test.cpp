// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/dockerd_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::entrypoint {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

DockerdLaunch Launch(std::vector<std::string> extra = {}) {
  return {"dockerd", "/etc/docker/daemon.json", "/var/run/docker.sock", std::move(extra)};
}

TEST(DockerdArgvTest, PassesTheFileAndSocketItselfThenTheExtraArguments) {
  auto argv = DockerdArgv(Launch({"--debug", "--storage-driver=vfs"}));
  ASSERT_TRUE(argv.ok());
  EXPECT_THAT(*argv, ElementsAre("dockerd", "--config-file", "/etc/docker/daemon.json", "--host",
                                 "unix:///var/run/docker.sock", "--debug", "--storage-driver=vfs"));
}

TEST(DockerdArgvTest, AnArgumentSettingTheSocketOrFileIsBadInputNamingTheFlagToUse) {
  for (const char* arg : {"--host", "--host=tcp://0.0.0.0:2375", "-H", "-Hunix:///x.sock",
                          "--config-file", "--config-file=/x.json"}) {
    auto argv = DockerdArgv(Launch({arg}));
    ASSERT_FALSE(argv.ok()) << arg;
    EXPECT_EQ(argv.error().ExitCode(), 2) << arg;
    EXPECT_THAT(argv.error().Message(), HasSubstr(std::string("--dockerd-arg ") + arg));
    const bool config = std::string_view(arg).starts_with("--config");
    EXPECT_THAT(argv.error().Message(),
                HasSubstr(config ? "--daemon-json PATH" : "--docker-socket PATH"));
  }
}

TEST(DockerdArgvTest, LookAlikesAreNotTakenForTheSocketFlag) {
  EXPECT_TRUE(DockerdArgv(Launch({"--host-gateway-ip=172.17.0.1"})).ok());
  EXPECT_TRUE(DockerdArgv(Launch({"--config-file-x"})).ok());
}

TEST(ModulesForTest, EachBackendLoadsItsOwnNatModules) {
  EXPECT_THAT(ModulesFor(rules::BackendKind::kNft, false), Contains("nf_tables"));
  EXPECT_THAT(ModulesFor(rules::BackendKind::kNft, false), Not(Contains("ip_tables")));
  EXPECT_THAT(ModulesFor(rules::BackendKind::kLegacy, false), Contains("iptable_nat"));
  EXPECT_THAT(ModulesFor(rules::BackendKind::kLegacy, false), Not(Contains("ip6table_nat")));
  EXPECT_THAT(ModulesFor(rules::BackendKind::kLegacy, true), Contains("ip6table_nat"));
  EXPECT_THAT(ModulesFor(rules::BackendKind::kNft, true), Contains("br_netfilter"));
}

}  // namespace
}  // namespace dind::entrypoint

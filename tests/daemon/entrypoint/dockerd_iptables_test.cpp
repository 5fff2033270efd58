// SPDX-License-Identifier: Apache-2.0
// dockerd's iptables links: planned from what an image has, written into a scratch directory,
// and run through the links on this machine's own xtables binaries when it has them.
#include "daemon/entrypoint/dockerd_iptables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/files.h"
#include "tests/mocks/temp_dir.h"

namespace dind::entrypoint {
namespace {

using rules::BackendKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

// An image's files: is_executable answers from this set.
std::function<bool(const std::string&)> Image(std::set<std::string> files) {
  return [files = std::move(files)](const std::string& path) { return files.count(path) > 0; };
}

std::vector<std::string> Names(const IptablesShimPlan& plan) {
  std::vector<std::string> names;
  for (const auto& link : plan.links) names.push_back(link.name + "=" + link.target);
  return names;
}

TEST(PlanIptablesShimTest, LinksEveryToolToTheMultiBinaryOfTheBackend) {
  auto plan =
      PlanIptablesShim(BackendKind::kLegacy, {"/usr/local/bin", "/usr/sbin"},
                       Image({"/usr/sbin/xtables-legacy-multi", "/usr/sbin/xtables-nft-multi"}));
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_THAT(Names(*plan), ElementsAre("iptables=/usr/sbin/xtables-legacy-multi",
                                        "iptables-save=/usr/sbin/xtables-legacy-multi",
                                        "iptables-restore=/usr/sbin/xtables-legacy-multi",
                                        "ip6tables=/usr/sbin/xtables-legacy-multi",
                                        "ip6tables-save=/usr/sbin/xtables-legacy-multi",
                                        "ip6tables-restore=/usr/sbin/xtables-legacy-multi"));
  EXPECT_TRUE(plan->missing.empty());
}

TEST(PlanIptablesShimTest, TheFirstDirectoryThatHasItWins) {
  auto plan =
      PlanIptablesShim(BackendKind::kNft, {"/usr/local/sbin", "/sbin"},
                       Image({"/sbin/xtables-nft-multi", "/usr/local/sbin/xtables-nft-multi"}));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->links.front().target, "/usr/local/sbin/xtables-nft-multi");
}

TEST(PlanIptablesShimTest, WithoutAMultiBinaryThePerToolNamesAreLinkedAndGapsSaid) {
  // An Alpine-like image: iptables-legacy for IPv4 only.
  auto plan = PlanIptablesShim(BackendKind::kLegacy, {"/sbin"},
                               Image({"/sbin/iptables-legacy", "/sbin/iptables-legacy-save",
                                      "/sbin/iptables-legacy-restore"}));
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_THAT(Names(*plan), ElementsAre("iptables=/sbin/iptables-legacy",
                                        "iptables-save=/sbin/iptables-legacy-save",
                                        "iptables-restore=/sbin/iptables-legacy-restore"));
  EXPECT_THAT(plan->missing, ElementsAre("ip6tables", "ip6tables-save", "ip6tables-restore"));
}

TEST(PlanIptablesShimTest, AnImageWithoutTheBackendIsAnErrorThatSaysWhatToInstall) {
  auto plan = PlanIptablesShim(BackendKind::kLegacy, {"/usr/sbin", "/sbin"},
                               Image({"/usr/sbin/xtables-nft-multi"}));
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.error().Message(), HasSubstr("xtables-legacy-multi"));
  EXPECT_THAT(plan.error().Message(), HasSubstr("/usr/sbin:/sbin"));
  EXPECT_THAT(plan.error().Message(), HasSubstr("install the iptables package"));
}

TEST(IptablesSearchDirsTest, PathFirstThenTheSbinDirectoriesWithoutRepeats) {
  EXPECT_THAT(IptablesSearchDirs("/usr/local/bin:/usr/sbin::/bin"),
              ElementsAre("/usr/local/bin", "/usr/sbin", "/bin", "/usr/local/sbin", "/sbin"));
  EXPECT_THAT(IptablesSearchDirs(""), ElementsAre("/usr/local/sbin", "/usr/sbin", "/sbin"));
}

TEST(PathWithFirstTest, PutsTheShimInFront) {
  EXPECT_EQ(PathWithFirst("/run/dnc/iptables", "/usr/bin:/bin"), "/run/dnc/iptables:/usr/bin:/bin");
  EXPECT_EQ(PathWithFirst("/run/dnc/iptables", ""), "/run/dnc/iptables");
}

TEST(WriteIptablesShimTest, ReplacesTheLinksOfAnEarlierRun) {
  TempDir dir;
  const std::string shim = dir / "iptables";
  IptablesShimPlan nft{
      BackendKind::kNft,
      {{"iptables", "/usr/sbin/xtables-nft-multi"}, {"ip6tables", "/usr/sbin/xtables-nft-multi"}},
      {}};
  ASSERT_TRUE(WriteIptablesShim(shim, nft).ok());
  IptablesShimPlan legacy{BackendKind::kLegacy, {{"iptables", "/sbin/iptables-legacy"}}, {}};
  ASSERT_TRUE(WriteIptablesShim(shim, legacy).ok());
  EXPECT_EQ(std::filesystem::read_symlink(shim + "/iptables"), "/sbin/iptables-legacy");
  EXPECT_FALSE(std::filesystem::is_symlink(shim + "/ip6tables"));
}

TEST(WriteIptablesShimTest, AnUnwritablePlaceSaysWhichAndWhatToDo) {
  auto written = WriteIptablesShim("/proc/self/no-such-dir/iptables",
                                   {BackendKind::kNft, {{"iptables", "/bin/true"}}, {}});
  ASSERT_FALSE(written.ok());
  EXPECT_THAT(written.error().Message(), HasSubstr("/proc/self/no-such-dir/iptables"));
  EXPECT_THAT(written.error().Message(), HasSubstr("--state-dir"));
}

// The links really select the backend: xtables names its mode in --version.
TEST(WriteIptablesShimTest, TheLinkedIptablesIsTheChosenBackend) {
  const auto is_executable = [](const std::string& path) {
    return ::access(path.c_str(), X_OK) == 0;
  };
  for (const auto& [backend, mode] :
       {std::pair{BackendKind::kLegacy, "(legacy)"}, std::pair{BackendKind::kNft, "(nf_tables)"}}) {
    auto plan = PlanIptablesShim(backend, IptablesSearchDirs(""), is_executable);
    if (!plan.ok()) GTEST_SKIP() << "this machine lacks " << plan.error().Message();
    TempDir dir;
    ASSERT_TRUE(WriteIptablesShim(dir.path(), *plan).ok());
    for (const char* tool : {"iptables", "iptables-save"}) {
      auto version = RunAndCapture({dir / tool, "--version"});
      ASSERT_TRUE(version.ok()) << version.error().Message();
      EXPECT_THAT(*version, HasSubstr(mode)) << tool;
    }
  }
}

}  // namespace
}  // namespace dind::entrypoint

// SPDX-License-Identifier: Apache-2.0
// doctor's storage checks on values: statfs numbers, daemon.json texts and /info bodies shaped
// like those of the releases (graphdriver overlay2 and vfs; Docker 29's containerd store).
#include "daemon/doctor/storage_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/mocks/temp_dir.h"

namespace dind::doctor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::uint64_t kGiB = 1ULL << 30;

FsStats Stats(std::int64_t type, std::uint64_t size_bytes, std::uint64_t free_bytes,
              std::uint64_t files = 1000000, std::uint64_t files_free = 900000) {
  FsStats stats;
  stats.statted_path = "/var/lib/docker";
  stats.pid = 42;
  stats.type = type;
  stats.block_size = 4096;
  stats.blocks = size_bytes / 4096;
  stats.blocks_free = free_bytes / 4096;
  stats.blocks_available = free_bytes / 4096;
  stats.files = files;
  stats.files_free = files_free;
  return stats;
}

const DataRoot kDefaultRoot{"/var/lib/docker", "dockerd's default"};
const StoreGuess kContainerd{ImageStore::kContainerd, "dockerd 29.0.1's default"};
const StoreGuess kGraph{ImageStore::kGraphdriver, "dockerd 28.5.2's default"};

// Trimmed from dockerd 28.5.2 (graphdriver overlay2) and 29.0.1 (containerd store) answers.
constexpr char kOverlay2Info[] =
    R"({"ServerVersion":"28.5.2","Driver":"overlay2","DockerRootDir":"/data/docker",
        "DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"],
                        ["Using metacopy","false"],["Native Overlay Diff","true"],
                        ["userxattr","false"]]})";
constexpr char kContainerdInfo[] =
    R"({"ServerVersion":"29.0.1","Driver":"overlayfs","DockerRootDir":"/var/lib/docker",
        "DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]]})";

TEST(StorageCheckTest, NamesFileSystemTypes) {
  EXPECT_EQ(FsTypeName(kOverlayfsMagic), "overlayfs");
  EXPECT_EQ(FsTypeName(kTmpfsMagic), "tmpfs");
  EXPECT_EQ(FsTypeName(0xEF53), "ext2/ext3/ext4");
  EXPECT_EQ(FsTypeName(0x1234), "0x1234");
}

TEST(StorageCheckTest, ParsesInfoOfBothStores) {
  auto graph = ParseStorageInfo(kOverlay2Info, "test");
  ASSERT_TRUE(graph.ok()) << graph.error().Message();
  EXPECT_EQ(graph->driver, "overlay2");
  EXPECT_EQ(graph->docker_root_dir, "/data/docker");
  EXPECT_EQ(graph->backing_filesystem, "extfs");
  EXPECT_FALSE(graph->containerd_store);
  EXPECT_EQ(graph->driver_status.size(), 5u);

  auto containerd = ParseStorageInfo(kContainerdInfo, "test");
  ASSERT_TRUE(containerd.ok());
  EXPECT_TRUE(containerd->containerd_store);
  EXPECT_EQ(containerd->driver, "overlayfs");
  EXPECT_EQ(containerd->backing_filesystem, "");

  EXPECT_FALSE(ParseStorageInfo("[1,2]", "test").ok());
  EXPECT_FALSE(ParseStorageInfo("<html>", "test").ok());
  // Odd DriverStatus entries are skipped, not fatal.
  auto odd = ParseStorageInfo(R"({"Driver":"vfs","DriverStatus":[["a"],5,["b",1]]})", "t");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->driver_status.empty());
}

TEST(StorageCheckTest, DataRootFromInfoThenDaemonJsonThenDefault) {
  const auto info = ParseStorageInfo(kOverlay2Info, "t").value();
  auto from_info = ChooseDataRoot(R"({"data-root":"/elsewhere"})", "/etc/docker/daemon.json", info);
  ASSERT_TRUE(from_info.ok());
  EXPECT_EQ(from_info->path, "/data/docker");
  EXPECT_EQ(from_info->source, "GET /info DockerRootDir");

  auto from_file =
      ChooseDataRoot(R"({"mtu":1400,"data-root":"/elsewhere"})", "/d.json", std::nullopt);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->path, "/elsewhere");
  EXPECT_EQ(from_file->source, "\"data-root\" in /d.json");

  auto by_default = ChooseDataRoot(R"({"mtu":1400})", "/d.json", std::nullopt);
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(by_default->path, "/var/lib/docker");
  auto no_file = ChooseDataRoot(std::nullopt, "/d.json", std::nullopt);
  ASSERT_TRUE(no_file.ok());
  EXPECT_EQ(no_file->path, "/var/lib/docker");
  EXPECT_THAT(no_file->source, HasSubstr("default"));

  auto broken = ChooseDataRoot("{\"data-root\":", "/d.json", std::nullopt);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().Message(), HasSubstr("/d.json"));
  EXPECT_FALSE(ChooseDataRoot(R"({"data-root":5})", "/d.json", std::nullopt).ok());
  EXPECT_FALSE(ChooseDataRoot(R"({"data-root":""})", "/d.json", std::nullopt).ok());
}

TEST(StorageCheckTest, GuessesTheImageStoreLikeDockerd29) {
  const netcfg::DockerVersion v28{28, 5, 2};
  const netcfg::DockerVersion v29{29, 0, 1};
  EXPECT_EQ(GuessImageStore(std::nullopt, v28, std::nullopt, false).store,
            ImageStore::kGraphdriver);
  EXPECT_EQ(GuessImageStore(std::nullopt, v29, std::nullopt, false).store, ImageStore::kContainerd);
  // Earlier graphdriver state in the data-root keeps 29 on the graphdriver store.
  EXPECT_EQ(GuessImageStore(std::nullopt, v29, std::nullopt, true).store, ImageStore::kGraphdriver);
  EXPECT_EQ(GuessImageStore(std::nullopt, v29, R"({"storage-driver":"overlay2"})", false).store,
            ImageStore::kGraphdriver);
  EXPECT_EQ(
      GuessImageStore(std::nullopt, v29, R"({"features":{"containerd-snapshotter":false}})", false)
          .store,
      ImageStore::kGraphdriver);
  EXPECT_EQ(
      GuessImageStore(std::nullopt, v28, R"({"features":{"containerd-snapshotter":true}})", false)
          .store,
      ImageStore::kContainerd);
  EXPECT_EQ(GuessImageStore(std::nullopt, std::nullopt, std::nullopt, false).store,
            ImageStore::kUnknown);
  // The running dockerd's word wins over its version.
  const auto containerd = ParseStorageInfo(kContainerdInfo, "t").value();
  EXPECT_EQ(GuessImageStore(containerd, v28, std::nullopt, true).store, ImageStore::kContainerd);
  const auto graph = ParseStorageInfo(kOverlay2Info, "t").value();
  EXPECT_EQ(GuessImageStore(graph, v29, std::nullopt, false).store, ImageStore::kGraphdriver);
}

TEST(StorageCheckTest, OverlayfsDataRootFailsWithTheEmptyDirFix) {
  const CheckResult containerd =
      CheckStorageFs(kDefaultRoot, Stats(kOverlayfsMagic, 100 * kGiB, 50 * kGiB), kContainerd);
  EXPECT_EQ(containerd.id, "storage-fs");
  EXPECT_EQ(containerd.status, CheckStatus::kFail);
  EXPECT_THAT(containerd.summary, HasSubstr("is on overlayfs"));
  EXPECT_THAT(containerd.summary, HasSubstr("fails at mount time"));
  EXPECT_THAT(containerd.summary, Not(HasSubstr("vfs")));
  EXPECT_THAT(containerd.fix, HasSubstr("emptyDir: {}"));
  EXPECT_THAT(containerd.fix, HasSubstr("mountPath: /var/lib/docker"));
  EXPECT_THAT(containerd.source, HasSubstr("statfs of /var/lib/docker (pid 42)"));

  const CheckResult graph =
      CheckStorageFs(kDefaultRoot, Stats(kOverlayfsMagic, 100 * kGiB, 50 * kGiB), kGraph);
  EXPECT_EQ(graph.status, CheckStatus::kFail);
  EXPECT_THAT(graph.summary, HasSubstr("falls back to vfs"));

  const CheckResult unknown =
      CheckStorageFs(kDefaultRoot, Stats(kOverlayfsMagic, 100 * kGiB, 50 * kGiB), StoreGuess{});
  EXPECT_EQ(unknown.status, CheckStatus::kFail);
  EXPECT_THAT(unknown.summary, HasSubstr("vfs"));
  EXPECT_THAT(unknown.summary, HasSubstr("mount time"));
}

TEST(StorageCheckTest, TmpfsWarnsWithTheMemoryItTakes) {
  const CheckResult result =
      CheckStorageFs(kDefaultRoot, Stats(kTmpfsMagic, 8 * kGiB, 6 * kGiB), kGraph);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("pod's memory limit"));
  EXPECT_THAT(result.summary, HasSubstr("2.0 GiB used now"));
  EXPECT_THAT(result.summary, HasSubstr("8.0 GiB"));
  EXPECT_EQ(result.observed["used_bytes"], 2 * kGiB);
  EXPECT_THAT(result.fix, HasSubstr("medium: Memory"));
}

TEST(StorageCheckTest, OrdinaryFileSystemIsOkAndAMissingDataRootNamesItsAncestor) {
  FsStats stats = Stats(0xEF53, 100 * kGiB, 50 * kGiB);
  stats.statted_path = "/var/lib";
  const CheckResult result = CheckStorageFs(kDefaultRoot, stats, kContainerd);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("not there yet; its ancestor /var/lib"));
  EXPECT_THAT(result.summary, HasSubstr("ext2/ext3/ext4"));
  EXPECT_TRUE(result.fix.empty());
}

TEST(StorageCheckTest, WhatCouldNotBeReadIsUnknown) {
  const Result<FsStats> failed = Error::Environment("statfs /x", EACCES);
  EXPECT_EQ(CheckStorageFs(kDefaultRoot, failed, kGraph).status, CheckStatus::kUnknown);
  EXPECT_EQ(CheckStorageSpace(kDefaultRoot, failed).status, CheckStatus::kUnknown);
  const Result<DataRoot> no_root = Error::BadInput("/d.json is not a JSON object");
  const Result<FsStats> fine = Stats(0xEF53, 100 * kGiB, 50 * kGiB);
  const CheckResult fs = CheckStorageFs(no_root, fine, kGraph);
  EXPECT_EQ(fs.status, CheckStatus::kUnknown);
  EXPECT_THAT(fs.summary, HasSubstr("/d.json"));
  EXPECT_EQ(CheckStorageSpace(no_root, fine).status, CheckStatus::kUnknown);
}

TEST(StorageCheckTest, SpaceAndInodeThresholds) {
  EXPECT_EQ(CheckStorageSpace(kDefaultRoot, Stats(0xEF53, 100 * kGiB, 50 * kGiB)).status,
            CheckStatus::kOk);
  // Below 10 GiB.
  const CheckResult small = CheckStorageSpace(kDefaultRoot, Stats(0xEF53, 20 * kGiB, 5 * kGiB));
  EXPECT_EQ(small.status, CheckStatus::kWarn);
  EXPECT_THAT(small.summary, HasSubstr("5.0 GiB free of 20.0 GiB"));
  EXPECT_THAT(small.fix, HasSubstr("prune"));
  // 20 GiB free, but of 1 TiB: below 10 %.
  EXPECT_EQ(CheckStorageSpace(kDefaultRoot, Stats(0xEF53, 1024 * kGiB, 20 * kGiB)).status,
            CheckStatus::kWarn);
  // Inodes: 4 % free warns, 6 % does not; 0 inodes means no limit.
  const CheckResult inodes =
      CheckStorageSpace(kDefaultRoot, Stats(0xEF53, 100 * kGiB, 50 * kGiB, 1000, 40));
  EXPECT_EQ(inodes.status, CheckStatus::kWarn);
  EXPECT_THAT(inodes.summary, HasSubstr("40 inodes free of 1000"));
  EXPECT_EQ(CheckStorageSpace(kDefaultRoot, Stats(0xEF53, 100 * kGiB, 50 * kGiB, 1000, 60)).status,
            CheckStatus::kOk);
  EXPECT_EQ(CheckStorageSpace(kDefaultRoot, Stats(0x9123683E, 100 * kGiB, 50 * kGiB, 0, 0)).status,
            CheckStatus::kOk);
}

TEST(StorageCheckTest, DriverFromInfo) {
  const std::string source = "GET /info of unix:///run/d.sock";
  const CheckResult ok = CheckStorageDriver(ParseStorageInfo(kOverlay2Info, "t"), source);
  EXPECT_EQ(ok.status, CheckStatus::kOk);
  EXPECT_THAT(ok.summary, HasSubstr("overlay2 (graphdriver store) on extfs"));
  EXPECT_THAT(ok.source, HasSubstr("dockerd 28.5.2"));

  const CheckResult containerd = CheckStorageDriver(ParseStorageInfo(kContainerdInfo, "t"), source);
  EXPECT_EQ(containerd.status, CheckStatus::kOk);
  EXPECT_THAT(containerd.summary, HasSubstr("containerd image store"));

  const CheckResult vfs = CheckStorageDriver(
      ParseStorageInfo(R"({"Driver":"vfs","DockerRootDir":"/d","DriverStatus":[]})", "t"), source);
  EXPECT_EQ(vfs.status, CheckStatus::kFail);
  EXPECT_THAT(vfs.summary, HasSubstr("copied in full"));
  EXPECT_THAT(vfs.fix, HasSubstr("mountPath: /d"));

  const CheckResult native = CheckStorageDriver(
      ParseStorageInfo(
          R"({"Driver":"native","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]]})",
          "t"),
      source);
  EXPECT_EQ(native.status, CheckStatus::kFail);
  EXPECT_THAT(native.summary, HasSubstr("containerd image store"));

  const CheckResult stacked = CheckStorageDriver(
      ParseStorageInfo(
          R"({"Driver":"overlay2","DriverStatus":[["Backing Filesystem","overlayfs"]]})", "t"),
      source);
  EXPECT_EQ(stacked.status, CheckStatus::kFail);
  EXPECT_THAT(stacked.summary, HasSubstr("overlay on overlay"));

  const CheckResult down =
      CheckStorageDriver(Error::Environment("connecting to /run/d.sock", ENOENT), source);
  EXPECT_EQ(down.status, CheckStatus::kUnknown);
  EXPECT_THAT(down.summary, HasSubstr("did not answer"));
}

// The group with the statfs seam: the data-root comes from the daemon.json named, and dockerd
// not answering makes storage-driver unknown, never ok.
class RecordingReader : public FsStatReader {
 public:
  Result<FsStats> Stat(const std::string& path) override {
    asked.push_back(path);
    FsStats stats = Stats(kOverlayfsMagic, 100 * kGiB, 50 * kGiB);
    stats.statted_path = path;
    return stats;
  }
  std::vector<std::string> asked;
};

TEST(StorageCheckTest, GroupReadsDaemonJsonAndStatsItsDataRoot) {
  testing::TempDir dir;
  testing::WriteTestFile(dir / "daemon.json", R"({"data-root": "/srv/docker-data"})", 0644);
  const HostFiles files(dir.path());
  const DoctorContext context{
      .files = files, .daemon_json = dir / "daemon.json", .docker_socket = dir / "no-dockerd.sock"};
  RecordingReader reader;
  const auto results = StorageChecksWith(context, reader);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(reader.asked, std::vector<std::string>{"/srv/docker-data"});
  EXPECT_EQ(results[0].id, "storage-fs");
  EXPECT_EQ(results[0].status, CheckStatus::kFail);
  EXPECT_THAT(results[0].source, HasSubstr("\"data-root\" in " + dir / "daemon.json"));
  EXPECT_EQ(results[1].id, "storage-space");
  EXPECT_EQ(results[1].status, CheckStatus::kOk);
  EXPECT_EQ(results[2].id, "storage-driver");
  EXPECT_EQ(results[2].status, CheckStatus::kUnknown);
  EXPECT_THAT(results[2].source, HasSubstr("no-dockerd.sock"));
}

// Beside dockerd (FactsProcess), its data-root is statted through /proc/PID/root and said as
// dockerd's path, not "not there yet".
TEST(StorageCheckTest, GroupStatsDockerdsDataRootThroughItsRoot) {
  testing::TempDir dir;
  testing::WriteTestFile(dir / "daemon.json", R"({"data-root": "/srv/docker-data"})", 0644);
  const HostFiles files(dir.path());
  DoctorContext context{
      .files = files, .daemon_json = dir / "daemon.json", .docker_socket = dir / "no-dockerd.sock"};
  context.process = FactsProcess{.pid = 77, .name = "dockerd", .chosen_by = "--pid 77"};
  RecordingReader reader;
  const auto results = StorageChecksWith(context, reader);
  EXPECT_EQ(reader.asked, std::vector<std::string>{"/proc/77/root/srv/docker-data"});
  EXPECT_THAT(results[0].summary, HasSubstr("data-root /srv/docker-data is on overlayfs"));
  EXPECT_THAT(results[0].summary, Not(HasSubstr("not there yet")));
  EXPECT_THAT(results[0].source,
              HasSubstr("as dockerd pid 77 sees it, through /proc/77/root (--pid 77)"));
}

// The real reader walks up to the nearest existing ancestor.
TEST(StorageCheckTest, SystemReaderStatsTheNearestExistingAncestor) {
  testing::TempDir dir;
  SystemFsStatReader reader;
  auto stats = reader.Stat(dir / "not/yet/there");
  ASSERT_TRUE(stats.ok()) << stats.error().Message();
  EXPECT_EQ(stats->statted_path, dir.path());
  EXPECT_EQ(stats->pid, ::getpid());
  EXPECT_GT(stats->blocks, 0u);
}

}  // namespace
}  // namespace dind::doctor

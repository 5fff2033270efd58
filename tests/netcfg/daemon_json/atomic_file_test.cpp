// SPDX-License-Identifier: Apache-2.0
#include "netcfg/daemon_json/atomic_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "netcfg/daemon_json/daemon_json.h"
#include "tests/mocks/temp_dir.h"

namespace dind::netcfg {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::dind::testing::ModeOf;
using ::dind::testing::ReadTestFile;
using ::dind::testing::TempDir;
using ::dind::testing::WriteTestFile;

constexpr char kOld[] = "{\n  \"debug\": true\n}\n";
constexpr char kNew[] = "{\n  \"mtu\": 1450\n}\n";

void ExpectWritten(const std::string& path, std::string_view content) {
  const Status status = WriteFileAtomically(path, content);
  ASSERT_TRUE(status.ok()) << status.error().Message();
}

// --- ReadDaemonJson

TEST(ReadDaemonJsonTest, MissingFileIsNullopt) {
  TempDir dir;
  auto result = ReadDaemonJson(dir / "daemon.json");
  ASSERT_TRUE(result.ok()) << result.error().Message();
  EXPECT_FALSE(result->has_value());
}

TEST(ReadDaemonJsonTest, DanglingSymlinkIsNullopt) {
  TempDir dir;
  ASSERT_EQ(::symlink("missing.json", (dir / "daemon.json").c_str()), 0);
  auto result = ReadDaemonJson(dir / "daemon.json");
  ASSERT_TRUE(result.ok()) << result.error().Message();
  EXPECT_FALSE(result->has_value());
}

TEST(ReadDaemonJsonTest, ReturnsTheBytesExactly) {
  TempDir dir;
  const std::string content = std::string("\xEF\xBB\xBF{\"a\": \"\0\"}\r\n", 15);
  WriteTestFile(dir / "daemon.json", content, 0600);
  auto result = ReadDaemonJson(dir / "daemon.json");
  ASSERT_TRUE(result.ok()) << result.error().Message();
  EXPECT_EQ(result->value(), content);
}

TEST(ReadDaemonJsonTest, DirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "daemon.json").c_str(), 0755), 0);
  auto result = ReadDaemonJson(dir / "daemon.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().errnum, EISDIR);
  EXPECT_THAT(result.error().Message(), HasSubstr(dir / "daemon.json"));
}

TEST(ReadDaemonJsonTest, PathThroughAFileIsAnErrorNotAbsent) {
  TempDir dir;
  WriteTestFile(dir / "etc", "", 0644);
  auto result = ReadDaemonJson(dir / "etc/daemon.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().errnum, ENOTDIR);
  EXPECT_THAT(result.error().Message(), HasSubstr(dir / "etc/daemon.json"));
}

TEST(ReadDaemonJsonTest, FifoIsRefusedWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "daemon.json").c_str(), 0600), 0);
  auto result = ReadDaemonJson(dir / "daemon.json");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().Message(), HasSubstr("not a regular file"));
}

TEST(ReadDaemonJsonTest, UnreadableFileIsAPermissionError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads a mode 0000 file anyway";
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0000);
  auto result = ReadDaemonJson(dir / "daemon.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::kPermission);
  EXPECT_EQ(result.error().errnum, EACCES);
}

// --- WriteFileAtomically: success

TEST(WriteFileAtomicallyTest, NewFileGets0644WhateverTheUmask) {
  TempDir dir;
  const mode_t saved_umask = ::umask(077);
  const Status status = WriteFileAtomically(dir / "daemon.json", kNew);
  ::umask(saved_umask);
  ASSERT_TRUE(status.ok()) << status.error().Message();
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), kNew);
  EXPECT_EQ(ModeOf(dir / "daemon.json"), 0644u);
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
}

TEST(WriteFileAtomicallyTest, ReplacesContentAndKeepsTheMode) {
  for (const mode_t mode : {0600, 0640, 0444, 0751}) {
    TempDir dir;
    WriteTestFile(dir / "daemon.json", kOld, mode);
    ASSERT_EQ(ModeOf(dir / "daemon.json"), mode);
    ExpectWritten(dir / "daemon.json", kNew);
    EXPECT_EQ(ReadTestFile(dir / "daemon.json"), kNew);
    EXPECT_EQ(ModeOf(dir / "daemon.json"), mode) << std::oct << mode;
    EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
  }
}

TEST(WriteFileAtomicallyTest, ReplacesTheInodeRatherThanWritingInPlace) {
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0644);
  // A reader holding the old file open keeps seeing a whole old file, never a torn one.
  const int reader = ::open((dir / "daemon.json").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  ExpectWritten(dir / "daemon.json", kNew);
  char buffer[64] = {};
  const ssize_t n = ::pread(reader, buffer, sizeof(buffer), 0);
  ::close(reader);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(n)), kOld);
}

TEST(WriteFileAtomicallyTest, KeepsTheOwner) {
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0640);
  // As root the file can belong to someone else, which is the interesting case.
  const uid_t uid = ::geteuid() == 0 ? 4242 : ::geteuid();
  const gid_t gid = ::geteuid() == 0 ? 4343 : ::getegid();
  ASSERT_EQ(::chown((dir / "daemon.json").c_str(), uid, gid), 0);
  ExpectWritten(dir / "daemon.json", kNew);
  struct stat status {};
  ASSERT_EQ(::stat((dir / "daemon.json").c_str(), &status), 0);
  EXPECT_EQ(status.st_uid, uid);
  EXPECT_EQ(status.st_gid, gid);
  EXPECT_EQ(status.st_mode & 07777, 0640u);
}

TEST(WriteFileAtomicallyTest, WritesThroughARelativeSymlink) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "real").c_str(), 0755), 0);
  WriteTestFile(dir / "real/daemon.json", kOld, 0600);
  ASSERT_EQ(::symlink("real/daemon.json", (dir / "daemon.json").c_str()), 0);
  ExpectWritten(dir / "daemon.json", kNew);
  struct stat link {};
  ASSERT_EQ(::lstat((dir / "daemon.json").c_str(), &link), 0);
  EXPECT_TRUE(S_ISLNK(link.st_mode)) << "the link must stay a link";
  EXPECT_EQ(ReadTestFile(dir / "real/daemon.json"), kNew);
  EXPECT_EQ(ModeOf(dir / "real/daemon.json"), 0600u);
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json", "real"));
}

TEST(WriteFileAtomicallyTest, WritesThroughAKubernetesStyleSymlinkChain) {
  // A projected volume: daemon.json -> ..data/daemon.json, ..data -> ..2024_01_01 (a directory).
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "..2024_01_01").c_str(), 0755), 0);
  WriteTestFile(dir / "..2024_01_01/daemon.json", kOld, 0644);
  ASSERT_EQ(::symlink("..2024_01_01", (dir / "..data").c_str()), 0);
  ASSERT_EQ(::symlink("..data/daemon.json", (dir / "daemon.json").c_str()), 0);
  ASSERT_EQ(::symlink((dir / "daemon.json").c_str(), (dir / "absolute.json").c_str()), 0);
  ExpectWritten(dir / "absolute.json", kNew);
  EXPECT_EQ(ReadTestFile(dir / "..2024_01_01/daemon.json"), kNew);
  EXPECT_THAT(dir.Entries(), ElementsAre("..2024_01_01", "..data", "absolute.json", "daemon.json"));
}

TEST(WriteFileAtomicallyTest, DanglingSymlinkCreatesItsTarget) {
  TempDir dir;
  ASSERT_EQ(::symlink("target.json", (dir / "daemon.json").c_str()), 0);
  ExpectWritten(dir / "daemon.json", kNew);
  EXPECT_EQ(ReadTestFile(dir / "target.json"), kNew);
  EXPECT_EQ(ModeOf(dir / "target.json"), 0644u);
}

TEST(WriteFileAtomicallyTest, SymlinkLoopIsAnError) {
  TempDir dir;
  ASSERT_EQ(::symlink("b", (dir / "a").c_str()), 0);
  ASSERT_EQ(::symlink("a", (dir / "b").c_str()), 0);
  const Status status = WriteFileAtomically(dir / "a", kNew);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, ELOOP);
  EXPECT_THAT(dir.Entries(), ElementsAre("a", "b"));
}

TEST(WriteFileAtomicallyTest, LargeAndEmptyContentRoundTrip) {
  TempDir dir;
  std::string large(3 * 1024 * 1024 + 17, 'x');
  ExpectWritten(dir / "daemon.json", large);
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), large);
  ExpectWritten(dir / "daemon.json", "");
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), "");
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
}

// --- WriteFileAtomically: failures leave the old file and no temporary file

TEST(WriteFileAtomicallyTest, MissingDirectoryIsAnErrorSayingToCreateIt) {
  TempDir dir;
  const std::string path = dir / "etc/docker/daemon.json";
  const Status status = WriteFileAtomically(path, kNew);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, ENOENT);
  EXPECT_THAT(status.error().Message(), AllOf(HasSubstr(path), HasSubstr("mkdir -p")));
  EXPECT_TRUE(dir.Entries().empty());
}

TEST(WriteFileAtomicallyTest, DirectoryThatIsAFileIsAnError) {
  TempDir dir;
  WriteTestFile(dir / "docker", kOld, 0644);
  const Status status = WriteFileAtomically(dir / "docker/daemon.json", kNew);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, ENOTDIR);
  EXPECT_THAT(status.error().Message(), HasSubstr(dir / "docker/daemon.json"));
  EXPECT_EQ(ReadTestFile(dir / "docker"), kOld);
  EXPECT_THAT(dir.Entries(), ElementsAre("docker"));
}

TEST(WriteFileAtomicallyTest, TargetThatIsADirectoryIsLeftAlone) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "daemon.json").c_str(), 0755), 0);
  WriteTestFile(dir / "daemon.json/inside", kOld, 0644);
  const Status status = WriteFileAtomically(dir / "daemon.json", kNew);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, EISDIR);
  EXPECT_EQ(ReadTestFile(dir / "daemon.json/inside"), kOld);
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
}

TEST(WriteFileAtomicallyTest, PathWithoutAFileNameIsRefused) {
  TempDir dir;
  EXPECT_FALSE(WriteFileAtomically(dir.path() + "/", kNew).ok());
  EXPECT_FALSE(WriteFileAtomically("", kNew).ok());
}

// RLIMIT_FSIZE makes write() fail half way with EFBIG, also for root: a real failure after the
// temporary file exists, without mounting anything.
TEST(WriteFileAtomicallyTest, FailedWriteLeavesTheOldFileAndNoTemporaryFile) {
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0600);
  const std::string content(64 * 1024, 'x');

  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit small = saved;
  small.rlim_cur = 1024;
  const sighandler_t saved_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const Status status = WriteFileAtomically(dir / "daemon.json", content);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, saved_handler);

  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, EFBIG);
  EXPECT_THAT(status.error().Message(),
              AllOf(HasSubstr(dir / "daemon.json"), HasSubstr("ulimit -f")));
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), kOld);
  EXPECT_EQ(ModeOf(dir / "daemon.json"), 0600u);
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
}

TEST(WriteFileAtomicallyTest, UnwritableDirectoryIsAPermissionErrorAndKeepsTheOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into a 0555 directory anyway; see root tests";
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0644);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  const Status status = WriteFileAtomically(dir / "daemon.json", kNew);
  ::chmod(dir.path().c_str(), 0755);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kPermission);
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), kOld);
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
}

TEST(DaemonJsonRoundTripTest, ReadMergeWriteTwiceIsStable) {
  TempDir dir;
  const std::string path = dir / "daemon.json";
  WriteTestFile(path, "{\"storage-driver\": \"overlay2\", \"mtu\": 1500}", 0600);
  const std::vector<KeyUpdate> updates = {{{"mtu"}, OrderedJson(1450)}};
  for (int run = 0; run < 2; ++run) {
    auto existing = ReadDaemonJson(path);
    ASSERT_TRUE(existing.ok()) << existing.error().Message();
    auto merged = MergeDaemonJson(*existing, updates, path);
    ASSERT_TRUE(merged.ok()) << merged.error().Message();
    EXPECT_EQ(merged->changes.size(), run == 0 ? 1u : 0u);
    ExpectWritten(path, merged->text);
  }
  EXPECT_EQ(ReadTestFile(path), "{\n  \"storage-driver\": \"overlay2\",\n  \"mtu\": 1450\n}\n");
  EXPECT_EQ(ModeOf(path), 0600u);
}

}  // namespace
}  // namespace dind::netcfg

// SPDX-License-Identifier: Apache-2.0
// The leftovers of a daemon.json write killed before its rename (kill -9, OOM): the next write
// removes them, but never the temporary file of a writer that is still alive (it holds a flock
// on it) and never a file that is not one of ours.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "netcfg/daemon_json/atomic_file.h"
#include "netcfg/daemon_json/daemon_json.h"
#include "tests/mocks/temp_dir.h"

namespace dind::netcfg {
namespace {

using ::testing::ElementsAre;
using ::dind::testing::ReadTestFile;
using ::dind::testing::TempDir;
using ::dind::testing::WriteTestFile;

constexpr char kOld[] = "{\n  \"mtu\": 1400\n}\n";
constexpr char kNew[] = "{\n  \"mtu\": 1420\n}\n";

TEST(StaleTemporaryTest, TheNextWriteRemovesWhatAKilledWriteLeft) {
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0644);
  WriteTestFile(dir / ".daemon.json.tmp-Ab3xQ9", "{\n  \"mt", 0600);  // torn, never renamed
  WriteTestFile(dir / ".daemon.json.tmp-zz0000", "", 0600);

  const Status written = WriteFileAtomically(dir / "daemon.json", kNew);
  ASSERT_TRUE(written.ok()) << written.error().Message();
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), kNew);
  EXPECT_THAT(dir.Entries(), ElementsAre("daemon.json"));
}

TEST(StaleTemporaryTest, ALiveWritersTemporaryFileIsLeftAlone) {
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0644);
  const std::string live = dir / ".daemon.json.tmp-L1ve00";
  WriteTestFile(live, "", 0600);
  // What a concurrent writer holds while it writes: a flock on its temporary file. (Another
  // open file description conflicts even within this process.)
  const int fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);

  const Status written = WriteFileAtomically(dir / "daemon.json", kNew);
  ::close(fd);
  ASSERT_TRUE(written.ok()) << written.error().Message();
  EXPECT_EQ(ReadTestFile(dir / "daemon.json"), kNew);
  EXPECT_THAT(dir.Entries(), ElementsAre(".daemon.json.tmp-L1ve00", "daemon.json"));
}

TEST(StaleTemporaryTest, FilesThatAreNotOursAreLeftAlone) {
  TempDir dir;
  WriteTestFile(dir / "daemon.json", kOld, 0644);
  for (const char* name :
       {".daemon.json.tmp-toolong1", ".daemon.json.tmp-short", ".other.json.tmp-Ab3xQ9",
        "daemon.json.tmp-Ab3xQ9", ".daemon.json.bak-Ab3xQ9"}) {
    WriteTestFile(dir / name, "keep", 0600);
  }

  const Status written = WriteFileAtomically(dir / "daemon.json", kNew);
  ASSERT_TRUE(written.ok()) << written.error().Message();
  EXPECT_THAT(dir.Entries(), ElementsAre(".daemon.json.bak-Ab3xQ9", ".daemon.json.tmp-short",
                                         ".daemon.json.tmp-toolong1", ".other.json.tmp-Ab3xQ9",
                                         "daemon.json", "daemon.json.tmp-Ab3xQ9"));
}

TEST(StaleTemporaryTest, AWriteThroughASymlinkCleansBesideTheTarget) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "real").c_str(), 0755), 0);
  WriteTestFile(dir / "real/daemon.json", kOld, 0644);
  WriteTestFile(dir / "real/.daemon.json.tmp-Ab3xQ9", "{", 0600);
  ASSERT_EQ(::symlink("real/daemon.json", (dir / "daemon.json").c_str()), 0);

  const Status written = WriteFileAtomically(dir / "daemon.json", kNew);
  ASSERT_TRUE(written.ok()) << written.error().Message();
  EXPECT_EQ(ReadTestFile(dir / "real/daemon.json"), kNew);
  EXPECT_FALSE(std::filesystem::exists(dir / "real/.daemon.json.tmp-Ab3xQ9"));
}

}  // namespace
}  // namespace dind::netcfg

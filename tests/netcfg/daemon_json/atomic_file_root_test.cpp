// SPDX-License-Identifier: Apache-2.0
// Failures that need a real file system to say no, even to root: a read-only mount (EROFS) and a
// full one (ENOSPC). Each test mounts its own small tmpfs inside a private mount namespace that
// this process enters once, so nothing is ever visible to (or left in) the machine's mounts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>

#include "netcfg/daemon_json/atomic_file.h"
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

// Enters a private mount namespace once for the whole binary (gtest runs single-threaded, which
// unshare(CLONE_NEWNS) requires).
bool EnterPrivateMountNamespace(std::string* why_not) {
  static const std::string failure = [] {
    if (::geteuid() != 0) return std::string("needs root to mount a tmpfs");
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + std::strerror(errno);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("making / private: ") + std::strerror(errno);
    }
    return std::string();
  }();
  *why_not = failure;
  return failure.empty();
}

class TmpfsTest : public ::testing::Test {
 protected:
  void Mount(const std::string& options) {
    std::string why_not;
    if (!EnterPrivateMountNamespace(&why_not)) GTEST_SKIP() << why_not;
    ASSERT_EQ(::mount("djson-test", dir_.path().c_str(), "tmpfs", 0, options.c_str()), 0)
        << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }

  TempDir dir_;
  bool mounted_ = false;
};

TEST_F(TmpfsTest, ReadOnlyFileSystemLeavesTheOldFileAndSaysToMountReadWrite) {
  Mount("size=1m,mode=0755");
  WriteTestFile(dir_ / "daemon.json", kOld, 0600);
  ASSERT_EQ(::mount(nullptr, dir_.path().c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);

  const Status status = WriteFileAtomically(dir_ / "daemon.json", "{\n  \"mtu\": 1450\n}\n");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, EROFS);
  EXPECT_THAT(status.error().Message(),
              AllOf(HasSubstr(dir_ / "daemon.json"), HasSubstr("read-write")));
  EXPECT_EQ(ReadTestFile(dir_ / "daemon.json"), kOld);
  EXPECT_EQ(ModeOf(dir_ / "daemon.json"), 0600u);
  EXPECT_THAT(dir_.Entries(), ElementsAre("daemon.json"));
}

TEST_F(TmpfsTest, FullFileSystemLeavesTheOldFileAndNoTemporaryFile) {
  Mount("size=64k,mode=0755");
  WriteTestFile(dir_ / "daemon.json", kOld, 0640);

  const Status status = WriteFileAtomically(dir_ / "daemon.json", std::string(1 << 20, 'x'));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, ENOSPC);
  EXPECT_THAT(status.error().Message(),
              AllOf(HasSubstr(dir_ / "daemon.json"), HasSubstr("free space")));
  EXPECT_EQ(ReadTestFile(dir_ / "daemon.json"), kOld);
  EXPECT_EQ(ModeOf(dir_ / "daemon.json"), 0640u);
  EXPECT_THAT(dir_.Entries(), ElementsAre("daemon.json"));

  // Once there is room again the same call succeeds: the failure left nothing in the way.
  ASSERT_TRUE(WriteFileAtomically(dir_ / "daemon.json", "{}\n").ok());
  EXPECT_EQ(ReadTestFile(dir_ / "daemon.json"), "{}\n");
}

}  // namespace
}  // namespace dind::netcfg

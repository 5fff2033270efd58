// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/xtables_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "common/files.h"

namespace dind::rules::legacy {
namespace {

using std::chrono::milliseconds;

// A temporary lock file, so these tests never touch /run/xtables.lock.
class TempLockFile {
 public:
  TempLockFile() {
    char pattern[] = "/tmp/dind-xtables-lock-XXXXXX";
    const int fd = ::mkstemp(pattern);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = pattern;
  }
  ~TempLockFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process that holds the flock on `path` until killed (hold_for == 0) or for hold_for.
class LockHolder {
 public:
  LockHolder(const std::string& path, milliseconds hold_for) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(path.c_str(), O_RDONLY);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
      const char byte = 'x';
      if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
      if (hold_for.count() == 0) {
        while (true) ::pause();
      }
      ::usleep(static_cast<useconds_t>(hold_for.count() * 1000));
      ::_exit(0);
    }
    ::close(ready[1]);
    char byte = 0;
    EXPECT_EQ(::read(ready[0], &byte, 1), 1) << "lock holder did not start";
    ::close(ready[0]);
  }
  ~LockHolder() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

TEST(XtablesLockTest, TimesOutNamingFileAndHolder) {
  TempLockFile file;
  LockHolder holder(file.path(), milliseconds(0));

  const auto start = std::chrono::steady_clock::now();
  auto lock = XtablesLock::Acquire(file.path(), milliseconds(300));
  const auto waited = std::chrono::steady_clock::now() - start;

  ASSERT_FALSE(lock.ok());
  EXPECT_GE(waited, milliseconds(300));
  EXPECT_LT(waited, milliseconds(3000));
  EXPECT_EQ(lock.error().kind, ErrorKind::kEnvironment);
  const std::string message = lock.error().Message();
  EXPECT_NE(message.find(file.path()), std::string::npos) << message;
  EXPECT_NE(message.find("PID " + std::to_string(holder.pid())), std::string::npos) << message;
  // The holder is a fork of this test, so it has our command name.
  std::string comm = ReadFile("/proc/self/comm").value();
  comm.pop_back();
  EXPECT_NE(message.find("(" + comm + ")"), std::string::npos) << message;
  EXPECT_NE(message.find("retry"), std::string::npos) << message;
}

TEST(XtablesLockTest, FindsHolderPidInProcLocks) {
  TempLockFile file;
  EXPECT_EQ(FindFlockHolderOf(file.path()), std::nullopt);
  LockHolder holder(file.path(), milliseconds(0));
  EXPECT_EQ(FindFlockHolderOf(file.path()), holder.pid());
}

TEST(XtablesLockTest, AcquiresOnceTheHolderLetsGo) {
  TempLockFile file;
  LockHolder holder(file.path(), milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  auto lock = XtablesLock::Acquire(file.path(), milliseconds(5000));
  ASSERT_TRUE(lock.ok()) << lock.error().Message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(150));
}

TEST(XtablesLockTest, IsExclusiveUntilReleased) {
  TempLockFile file;
  {
    auto first = XtablesLock::Acquire(file.path(), milliseconds(0));
    ASSERT_TRUE(first.ok()) << first.error().Message();
    // flock conflicts between open files even in one process, as between iptables runs.
    EXPECT_FALSE(XtablesLock::Acquire(file.path(), milliseconds(20)).ok());
    XtablesLock moved = std::move(*first);
    EXPECT_FALSE(XtablesLock::Acquire(file.path(), milliseconds(0)).ok());
  }
  EXPECT_TRUE(XtablesLock::Acquire(file.path(), milliseconds(0)).ok());
}

TEST(XtablesLockTest, CreatesMissingFileAndReportsUnopenablePath) {
  TempLockFile file;
  std::filesystem::remove(file.path());
  EXPECT_TRUE(XtablesLock::Acquire(file.path(), milliseconds(0)).ok());
  EXPECT_TRUE(std::filesystem::exists(file.path()));

  auto missing_dir = XtablesLock::Acquire("/nonexistent-dir/xtables.lock", milliseconds(0));
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.error().Message().find("/nonexistent-dir/xtables.lock"), std::string::npos);
}

TEST(XtablesLockTest, DefaultPathFollowsXtablesLockfile) {
  ::unsetenv("XTABLES_LOCKFILE");
  EXPECT_EQ(XtablesLock::DefaultPath(), "/run/xtables.lock");
  ::setenv("XTABLES_LOCKFILE", "", 1);
  EXPECT_EQ(XtablesLock::DefaultPath(), "/run/xtables.lock");
  ::setenv("XTABLES_LOCKFILE", "/tmp/other.lock", 1);
  EXPECT_EQ(XtablesLock::DefaultPath(), "/tmp/other.lock");
  ::unsetenv("XTABLES_LOCKFILE");
}

TEST(FindFlockHolderTest, MatchesDeviceAndInodeAndSkipsWaiters) {
  const std::string proc_locks =
      "1: POSIX  ADVISORY  WRITE 100 fd:01:4242 0 EOF\n"
      "2: FLOCK  ADVISORY  WRITE 200 fd:01:9999 0 EOF\n"
      "3: FLOCK  ADVISORY  WRITE 300 00:1a:4242 0 EOF\n"
      "3: -> FLOCK  ADVISORY  WRITE 301 fd:01:4242 0 EOF\n"
      "4: FLOCK  ADVISORY  WRITE 400 fd:01:4242 0 EOF\n";
  EXPECT_EQ(FindFlockHolder(proc_locks, 0xfd, 0x01, 4242), 400);
  EXPECT_EQ(FindFlockHolder(proc_locks, 0x00, 0x1a, 4242), 300);
  EXPECT_EQ(FindFlockHolder(proc_locks, 0xfd, 0x01, 1), std::nullopt);
  EXPECT_EQ(FindFlockHolder("", 0, 0, 0), std::nullopt);
  EXPECT_EQ(FindFlockHolder("garbage\n1: FLOCK\n", 0, 0, 0), std::nullopt);
}

}  // namespace
}  // namespace dind::rules::legacy

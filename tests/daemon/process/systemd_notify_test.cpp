// SPDX-License-Identifier: Apache-2.0
// The notify protocol's parsing, and SystemdNotifier's datagrams to a socket of the test's own
// (run_sidecar_test.sh checks them again from the real `run`).
#include "daemon/process/systemd_notify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/scoped_fd.h"

namespace dind::process {
namespace {

TEST(ParseNotifySocketTest, APathIsNulTerminated) {
  const auto notify = ParseNotifySocket("/run/systemd/notify");
  ASSERT_TRUE(notify);
  EXPECT_STREQ(notify->address.sun_path, "/run/systemd/notify");
  EXPECT_EQ(notify->length, offsetof(sockaddr_un, sun_path) + 20);
}

TEST(ParseNotifySocketTest, AnAbstractNameStartsWithNulAndIsExactlyItsBytes) {
  const auto notify = ParseNotifySocket("@org/systemd/notify");
  ASSERT_TRUE(notify);
  EXPECT_EQ(notify->address.sun_path[0], '\0');
  EXPECT_EQ(std::string(notify->address.sun_path + 1, 18), "org/systemd/notify");
  EXPECT_EQ(notify->length, offsetof(sockaddr_un, sun_path) + 19);
}

TEST(ParseNotifySocketTest, RefusesEmptyRelativeAndTooLong) {
  EXPECT_FALSE(ParseNotifySocket(""));
  EXPECT_FALSE(ParseNotifySocket("@"));
  EXPECT_FALSE(ParseNotifySocket("run/notify"));
  EXPECT_FALSE(ParseNotifySocket("/" + std::string(sizeof(sockaddr_un::sun_path), 'x')));
}

TEST(ParseWatchdogIntervalTest, NeedsAPositiveIntervalForThisProcess) {
  using std::chrono::microseconds;
  EXPECT_EQ(ParseWatchdogInterval("20000000", nullptr, 42), microseconds(20'000'000));
  EXPECT_EQ(ParseWatchdogInterval("20000000", "42", 42), microseconds(20'000'000));
  EXPECT_FALSE(ParseWatchdogInterval("20000000", "41", 42));  // meant for another process
  EXPECT_FALSE(ParseWatchdogInterval(nullptr, nullptr, 42));
  EXPECT_FALSE(ParseWatchdogInterval("0", nullptr, 42));
  EXPECT_FALSE(ParseWatchdogInterval("20s", nullptr, 42));
  EXPECT_FALSE(ParseWatchdogInterval("20000000", "x", 42));
}

// A datagram socket standing in for systemd, named in this process's environment for as long as
// it lives (with a watchdog asked of this process).
class FakeSystemd {
 public:
  FakeSystemd() {
    path_ =
        std::filesystem::temp_directory_path() / ("dind-notify-test-" + std::to_string(::getpid()));
    std::filesystem::remove(path_);
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const auto address = ParseNotifySocket(path_.string());
    bound_ = fd_.get() >= 0 && address &&
             ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address->address),
                    address->length) == 0;
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "100000", 1);  // pings every 50 ms
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  }
  ~FakeSystemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    std::filesystem::remove(path_);
  }
  bool bound() const { return bound_; }
  // Every datagram received so far, in order.
  std::vector<std::string> Received() {
    std::vector<std::string> got;
    char buffer[512];
    ssize_t n = 0;
    while ((n = ::recv(fd_.get(), buffer, sizeof(buffer), 0)) >= 0) {
      got.emplace_back(buffer, static_cast<std::size_t>(n));
    }
    return got;
  }

 private:
  std::filesystem::path path_;
  ScopedFd fd_;
  bool bound_ = false;
};

TEST(SystemdNotifierTest, ReadyOnceStatusWhenItChangesAndNoWatchdogAfterStopping) {
  using ::testing::Each;
  using ::testing::ElementsAre;
  using ::testing::IsEmpty;
  using namespace std::chrono_literals;
  FakeSystemd systemd;
  ASSERT_TRUE(systemd.bound());
  boost::asio::io_context io;
  SystemdNotifier notifier(io);
  io.run_for(130ms);  // the first ping at once, then every 50 ms
  const auto pings = systemd.Received();
  EXPECT_GE(pings.size(), 2u);
  EXPECT_THAT(pings, Each(std::string("WATCHDOG=1")));

  notifier.NotifyReady("ready: nested egress verified");
  notifier.NotifyReady("ready: nested egress verified");  // the same status again: nothing
  notifier.NotifyStatus("not ready: probe failed");
  notifier.NotifyStatus("not ready: probe failed");
  notifier.NotifyReady("ready: again");  // READY=1 only the first time
  notifier.NotifyStopping();
  std::vector<std::string> said;
  for (auto& message : systemd.Received()) {
    if (message != "WATCHDOG=1") said.push_back(message);
  }
  EXPECT_THAT(said,
              ElementsAre("READY=1\nSTATUS=ready: nested egress verified",
                          "STATUS=not ready: probe failed", "STATUS=ready: again", "STOPPING=1"));
  io.restart();
  io.run_for(130ms);
  EXPECT_THAT(systemd.Received(), IsEmpty()) << "a watchdog ping after STOPPING=1";
}

TEST(SystemdNotifierTest, OutsideSystemdNothingIsSentAndNothingIsScheduled) {
  ASSERT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  ASSERT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
  boost::asio::io_context io;
  SystemdNotifier notifier(io);
  notifier.NotifyReady("ready");
  EXPECT_EQ(io.poll(), 0u);  // no watchdog timer
}

}  // namespace
}  // namespace dind::process

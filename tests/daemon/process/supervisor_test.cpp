// SPDX-License-Identifier: Apache-2.0
// ProcessSupervisor with real children on a real io_context, driven by this thread. Each test
// owns its supervisor (so its SIGCHLD and signal handlers and the subreaper flag) and must end
// every child it started; TearDown fails a test that leaves one behind. Waits are for a
// condition with a generous deadline; elapsed times are only checked as lower bounds.
#include "daemon/process/supervisor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/daemon/process/child_output.h"

namespace dind::process {
namespace {

using test::ChildOutput;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = ProcessSupervisor::Start(
        io_, [this](int signal_number) { signals_.push_back(signal_number); });
    ASSERT_TRUE(started) << started.error().Message();
    supervisor_ = std::move(started).value();
  }

  void TearDown() override {
    const std::vector<pid_t> left = ChildrenFromProc(::getpid());
    EXPECT_THAT(left, IsEmpty()) << "the test left children behind";
    for (const pid_t pid : left) ::kill(pid, SIGKILL);
    supervisor_.reset();
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
  }

  // Turns the loop until `condition` holds; false after `limit`.
  bool RunUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!condition()) {
      if (Clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(5ms);
    }
    return true;
  }

  // The children still running once this process has none or after `limit`.
  std::vector<pid_t> AwaitNoChildren(std::chrono::milliseconds limit = 10s) {
    std::optional<std::vector<pid_t>> still_running;
    supervisor_->WaitForNoChildren(limit,
                                   [&](const std::vector<pid_t>& still) { still_running = still; });
    EXPECT_TRUE(RunUntil([&] { return still_running.has_value(); }, limit + 10s));
    return still_running.value_or(std::vector<pid_t>{-1});
  }

  pid_t LaunchWatched(LaunchSpec spec, std::optional<ExitStatus>& exit) {
    const auto pid = Launch(spec);
    if (!pid) {
      ADD_FAILURE() << pid.error().Message();
      return -1;
    }
    const Status watched = supervisor_->Watch(*pid, [&exit](const ExitStatus& s) { exit = s; });
    EXPECT_TRUE(watched) << watched.error().Message();
    return *pid;
  }

  boost::asio::io_context io_;
  std::unique_ptr<ProcessSupervisor> supervisor_;
  std::vector<int> signals_;  // what on_signal heard
};

TEST_F(SupervisorTest, WatchReportsTheExitOnceFromTheLoop) {
  const auto pid = Launch({.argv = {"sh", "-c", "exit 7"}});
  ASSERT_TRUE(pid);
  std::vector<ExitStatus> exits;
  ASSERT_TRUE(supervisor_->Watch(*pid, [&](const ExitStatus& s) { exits.push_back(s); }));
  EXPECT_THAT(exits, IsEmpty());  // never from inside Watch
  ASSERT_TRUE(RunUntil([&] { return !exits.empty(); }));
  EXPECT_EQ(exits[0].pid, *pid);
  EXPECT_EQ(exits[0].ShellStatus(), 7);

  EXPECT_THAT(AwaitNoChildren(), IsEmpty());
  EXPECT_EQ(exits.size(), 1u);
  EXPECT_EQ(supervisor_->reaped_orphans(), 0);
}

TEST_F(SupervisorTest, WatchingTwiceRunsBothCallbacks) {
  std::optional<ExitStatus> first;
  const pid_t pid = LaunchWatched({.argv = {"true"}}, first);
  std::optional<ExitStatus> second;
  ASSERT_TRUE(supervisor_->Watch(pid, [&](const ExitStatus& s) { second = s; }));
  ASSERT_TRUE(RunUntil([&] { return first && second; }));
  EXPECT_EQ(second->pid, pid);
}

TEST_F(SupervisorTest, WatchRefusesAProcessThatIsNotAChild) {
  const Status watched = supervisor_->Watch(::getppid(), [](const ExitStatus&) {});
  ASSERT_FALSE(watched);
  EXPECT_THAT(watched.error().Message(), HasSubstr("not a child of this process"));
}

TEST_F(SupervisorTest, AChildReapedBeforeItIsWatchedCountsAsAnOrphan) {
  const auto pid = Launch({.argv = {"true"}});
  ASSERT_TRUE(pid);
  ASSERT_TRUE(RunUntil([&] { return supervisor_->reaped_orphans() == 1; }));
  EXPECT_FALSE(supervisor_->Watch(*pid, [](const ExitStatus&) {}));
}

TEST_F(SupervisorTest, EveryForwardedSignalReachesTheOwnerWithoutATarget) {
  // Each of these would end the test binary if the supervisor did not handle it.
  for (const int signal_number : ProcessSupervisor::kForwardedSignals) {
    ASSERT_EQ(::kill(::getpid(), signal_number), 0);
    ASSERT_TRUE(RunUntil([&] { return !signals_.empty() && signals_.back() == signal_number; }))
        << "signal " << signal_number;
  }
  EXPECT_THAT(signals_, ElementsAreArray(ProcessSupervisor::kForwardedSignals));
}

TEST_F(SupervisorTest, SignalsAreForwardedToTheTargetProcessGroup) {
  // The shell leads its group; its `sleep` children are members and get the signals too. dash
  // runs a trap between commands, so the loop's commands are short (a trap during `wait` can
  // be held until the awaited child ends).
  const char* script =
      "trap 'echo got-USR1' USR1; trap 'echo got-TERM; exit 3' TERM; echo ready; "
      "while :; do sleep 0.02; done";
  ChildOutput output;
  std::optional<ExitStatus> exit;
  const pid_t pid = LaunchWatched(
      {.argv = {"sh", "-c", script}, .new_process_group = true, .output_fd = output.write_fd()},
      exit);
  output.CloseWriteEnd();
  supervisor_->ForwardSignalsTo(pid);
  ASSERT_TRUE(RunUntil([&] { return output.Contains("ready"); }));

  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_TRUE(RunUntil([&] { return output.Contains("got-USR1"); })) << output.Text();
  EXPECT_FALSE(exit);
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  ASSERT_TRUE(RunUntil([&] { return exit.has_value(); }));
  EXPECT_EQ(exit->ShellStatus(), 3);
  EXPECT_THAT(output.Text(), HasSubstr("got-TERM"));
  EXPECT_THAT(signals_, ElementsAre(SIGUSR1, SIGTERM));
  EXPECT_THAT(AwaitNoChildren(), IsEmpty());
}

TEST_F(SupervisorTest, StopGracefullyEndsACooperativeChildWithSigterm) {
  const auto pid = Launch({.argv = {"sleep", "30"}});
  ASSERT_TRUE(pid);
  std::optional<ExitStatus> stopped;
  ASSERT_TRUE(supervisor_->StopGracefully(*pid, 10s, StopScope::kProcess,
                                          [&](const ExitStatus& s) { stopped = s; }));
  ASSERT_TRUE(RunUntil([&] { return stopped.has_value(); }));
  EXPECT_EQ(stopped->signal, SIGTERM);
}

TEST_F(SupervisorTest, StopGracefullyKillsAChildThatIgnoresSigtermAfterTheTimeout) {
  ChildOutput output;
  const auto pid = Launch({.argv = {"sh", "-c", "trap '' TERM; echo ready; exec sleep 30"},
                           .output_fd = output.write_fd()});
  ASSERT_TRUE(pid);
  output.CloseWriteEnd();
  ASSERT_TRUE(RunUntil([&] { return output.Contains("ready"); }));

  const auto started = Clock::now();
  std::optional<ExitStatus> stopped;
  ASSERT_TRUE(supervisor_->StopGracefully(*pid, 200ms, StopScope::kProcess,
                                          [&](const ExitStatus& s) { stopped = s; }));
  ASSERT_TRUE(RunUntil([&] { return stopped.has_value(); }));
  EXPECT_EQ(stopped->signal, SIGKILL);
  EXPECT_GE(Clock::now() - started, 200ms);
}

TEST_F(SupervisorTest, StopGracefullyOfAGroupEndsItsMembersToo) {
  ChildOutput output;
  const auto pid = Launch({.argv = {"sh", "-c", "sleep 30 & echo ready; wait"},
                           .new_process_group = true,
                           .output_fd = output.write_fd()});
  ASSERT_TRUE(pid);
  output.CloseWriteEnd();
  ASSERT_TRUE(RunUntil([&] { return output.Contains("ready"); }));

  std::optional<ExitStatus> stopped;
  ASSERT_TRUE(supervisor_->StopGracefully(*pid, 10s, StopScope::kProcessGroup,
                                          [&](const ExitStatus& s) { stopped = s; }));
  ASSERT_TRUE(RunUntil([&] { return stopped.has_value(); }));
  EXPECT_EQ(stopped->signal, SIGTERM);
  EXPECT_THAT(AwaitNoChildren(), IsEmpty());  // the group's sleep got SIGTERM as well
}

TEST_F(SupervisorTest, AnOrphanedGrandchildIsReapedCountedAndAwaited) {
  if (::getpid() != 1) {
    int subreaper = 0;
    ASSERT_EQ(::prctl(PR_GET_CHILD_SUBREAPER, &subreaper), 0);
    EXPECT_EQ(subreaper, 1);
  }
  std::optional<ExitStatus> shell_exit;
  LaunchWatched({.argv = {"sh", "-c", "sleep 0.2 & exit 0"}}, shell_exit);
  ASSERT_TRUE(RunUntil([&] { return shell_exit.has_value(); }));
  EXPECT_EQ(shell_exit->ShellStatus(), 0);

  // The sleep outlives its shell and is re-parented here; waiting ends only once it is reaped.
  std::optional<int> orphans_at_completion;
  std::optional<std::vector<pid_t>> still_running;
  supervisor_->WaitForNoChildren(10s, [&](const std::vector<pid_t>& still) {
    orphans_at_completion = supervisor_->reaped_orphans();
    still_running = still;
  });
  ASSERT_TRUE(RunUntil([&] { return still_running.has_value(); }, 20s));
  EXPECT_THAT(*still_running, IsEmpty());
  EXPECT_EQ(orphans_at_completion, 1);
}

TEST_F(SupervisorTest, WaitForNoChildrenNamesTheChildrenLeftAtTheTimeout) {
  std::optional<ExitStatus> exit;
  const pid_t pid = LaunchWatched({.argv = {"sleep", "30"}}, exit);
  EXPECT_THAT(AwaitNoChildren(100ms), ElementsAre(pid));
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(RunUntil([&] { return exit.has_value(); }));
}

TEST_F(SupervisorTest, WaitForNoChildrenCompletesOnTheNextTurnWhenThereAreNone) {
  std::optional<std::vector<pid_t>> still_running;
  supervisor_->WaitForNoChildren(10s,
                                 [&](const std::vector<pid_t>& still) { still_running = still; });
  EXPECT_FALSE(still_running);  // never from inside the call
  ASSERT_TRUE(RunUntil([&] { return still_running.has_value(); }));
  EXPECT_THAT(*still_running, IsEmpty());
}

TEST_F(SupervisorTest, ACallbackMayDestroyTheSupervisor) {
  const auto pid = Launch({.argv = {"true"}});
  ASSERT_TRUE(pid);
  bool destroyed = false;
  ASSERT_TRUE(supervisor_->Watch(*pid, [&](const ExitStatus&) {
    supervisor_.reset();
    destroyed = true;
  }));
  ASSERT_TRUE(RunUntil([&] { return destroyed; }));
  io_.run_for(20ms);  // handlers cancelled by the destruction run, and touch nothing
}

TEST(SupervisorLifetimeTest, SignalHandlingAndTheSubreaperFlagEndWithTheSupervisor) {
  if (::getpid() == 1) GTEST_SKIP() << "PID 1 is never made a subreaper";
  const auto subreaper = [] {
    int flag = -1;
    ::prctl(PR_GET_CHILD_SUBREAPER, &flag);
    return flag;
  };
  const auto handler_of = [](int signal_number) {
    struct sigaction action {};
    ::sigaction(signal_number, nullptr, &action);
    return action.sa_handler;
  };
  ASSERT_EQ(subreaper(), 0);
  {
    boost::asio::io_context io;
    auto supervisor = ProcessSupervisor::Start(io, {});
    ASSERT_TRUE(supervisor);
    EXPECT_EQ(subreaper(), 1);
    EXPECT_NE(handler_of(SIGTERM), SIG_DFL);
    EXPECT_NE(handler_of(SIGCHLD), SIG_DFL);
  }
  EXPECT_EQ(subreaper(), 0);
  EXPECT_EQ(handler_of(SIGTERM), SIG_DFL);
  EXPECT_EQ(handler_of(SIGCHLD), SIG_DFL);
}

// `run`'s supervisor: SIGTERM and SIGINT only, no subreaper, and still a reaper.
TEST(SupervisorOptionsTest, OnlyTheNamedSignalsAreHandledAndNoSubreaperIsMade) {
  if (::getpid() == 1) GTEST_SKIP() << "PID 1 is never made a subreaper";
  const auto subreaper = [] {
    int flag = -1;
    ::prctl(PR_GET_CHILD_SUBREAPER, &flag);
    return flag;
  };
  const auto handler_of = [](int signal_number) {
    struct sigaction action {};
    ::sigaction(signal_number, nullptr, &action);
    return action.sa_handler;
  };
  ASSERT_EQ(subreaper(), 0);
  boost::asio::io_context io;
  std::vector<int> heard;
  auto supervisor =
      ProcessSupervisor::Start(io, [&](int signal_number) { heard.push_back(signal_number); },
                               {.signals = {SIGTERM, SIGINT}, .become_subreaper = false});
  ASSERT_TRUE(supervisor) << supervisor.error().Message();
  EXPECT_EQ(subreaper(), 0);
  EXPECT_NE(handler_of(SIGTERM), SIG_DFL);
  EXPECT_NE(handler_of(SIGINT), SIG_DFL);
  EXPECT_NE(handler_of(SIGCHLD), SIG_DFL);
  for (const int other : {SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
    EXPECT_EQ(handler_of(other), SIG_DFL) << "signal " << other;
  }

  const auto turn_until = [&io](const std::function<bool()>& condition) {
    const auto deadline = Clock::now() + 10s;
    while (!condition() && Clock::now() < deadline) {
      if (io.stopped()) io.restart();
      io.run_one_for(5ms);
    }
    return condition();
  };
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  ASSERT_TRUE(turn_until([&] { return !heard.empty(); }));
  EXPECT_THAT(heard, ElementsAre(SIGINT));
  EXPECT_EQ(SignalName(heard.front()), "SIGINT");

  // Exited children are still reaped (and a watched one reported).
  const auto pid = Launch({.argv = {"sh", "-c", "exit 3"}});
  ASSERT_TRUE(pid);
  std::optional<ExitStatus> exit;
  ASSERT_TRUE((*supervisor)->Watch(*pid, [&](const ExitStatus& s) { exit = s; }));
  ASSERT_TRUE(turn_until([&] { return exit.has_value(); }));
  EXPECT_EQ(exit->ShellStatus(), 3);
  EXPECT_THAT(ChildrenFromProc(::getpid()), IsEmpty());
}

TEST(SignalNameTest, NamesASignalOrGivesItsNumber) {
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGWINCH), "SIGWINCH");
  EXPECT_EQ(SignalName(SIGRTMIN + 3), std::to_string(SIGRTMIN + 3));
}

}  // namespace
}  // namespace dind::process

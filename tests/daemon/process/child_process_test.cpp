// SPDX-License-Identifier: Apache-2.0
// Launch with real children (sh, grep, sleep), each waited for synchronously: no supervisor
// and no SIGCHLD handler is alive in these tests.
#include "daemon/process/child_process.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/daemon/process/child_output.h"

namespace dind::process {
namespace {

using test::ChildOutput;
using ::testing::HasSubstr;

ExitStatus WaitFor(pid_t pid) {
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  return ExitStatus::FromWaitStatus(pid, wait_status);
}

// Runs `spec` with its output captured, waits for it, and returns what it wrote.
std::string OutputOf(LaunchSpec spec, ExitStatus* status = nullptr) {
  ChildOutput output;
  spec.output_fd = output.write_fd();
  const auto pid = Launch(spec);
  if (!pid) {
    ADD_FAILURE() << pid.error().Message();
    return {};
  }
  output.CloseWriteEnd();
  const ExitStatus exit_status = WaitFor(*pid);
  if (status != nullptr) *status = exit_status;
  return output.Text();
}

TEST(ExitStatusTest, MapsWaitStatusesToShellStatusesAndWords) {
  const ExitStatus exited = ExitStatus::FromWaitStatus(42, W_EXITCODE(7, 0));
  EXPECT_EQ(exited.pid, 42);
  EXPECT_EQ(exited.code, 7);
  EXPECT_EQ(exited.signal, 0);
  EXPECT_EQ(exited.ShellStatus(), 7);
  EXPECT_EQ(exited.Describe(), "exited with status 7");

  const ExitStatus killed = ExitStatus::FromWaitStatus(42, W_EXITCODE(0, SIGKILL));
  EXPECT_TRUE(killed.killed());
  EXPECT_EQ(killed.code, 0);
  EXPECT_EQ(killed.ShellStatus(), 137);
  EXPECT_EQ(killed.Describe(), "killed by signal 9 (SIGKILL)");

  EXPECT_EQ(ExitStatus::FromWaitStatus(1, W_EXITCODE(0, SIGTERM)).ShellStatus(), 143);
  EXPECT_EQ(ExitStatus::FromWaitStatus(1, W_EXITCODE(0, 0)).Describe(), "exited with status 0");
}

TEST(LaunchTest, ReportsTheRealExitCodeAndKillingSignal) {
  const auto exits = Launch({.argv = {"/bin/sh", "-c", "exit 7"}});
  ASSERT_TRUE(exits) << exits.error().Message();
  EXPECT_EQ(WaitFor(*exits).ShellStatus(), 7);

  const auto killed = Launch({.argv = {"sh", "-c", "kill -KILL $$"}});
  ASSERT_TRUE(killed) << killed.error().Message();
  const ExitStatus status = WaitFor(*killed);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.ShellStatus(), 128 + 9);
}

TEST(LaunchTest, StdoutAndStderrGoToTheOutputDescriptor) {
  ExitStatus status;
  EXPECT_EQ(OutputOf({.argv = {"sh", "-c", "echo out; echo err >&2; exit 4"}}, &status),
            "out\nerr\n");
  EXPECT_EQ(status.code, 4);
}

TEST(LaunchTest, ExtraEnvironmentOverridesTheInheritedOne) {
  ::setenv("DIND_ENTRYPOINT_TEST_KEPT", "inherited", 1);
  ::setenv("DIND_ENTRYPOINT_TEST_REPLACED", "inherited", 1);
  const std::string output =
      OutputOf({.argv = {"sh", "-c", "env | grep ^DIND_ENTRYPOINT_TEST_ | sort"},
                .extra_environment = {"DIND_ENTRYPOINT_TEST_REPLACED=first",
                                      "DIND_ENTRYPOINT_TEST_NEW=new value",
                                      "DIND_ENTRYPOINT_TEST_REPLACED=last"}});
  ::unsetenv("DIND_ENTRYPOINT_TEST_KEPT");
  ::unsetenv("DIND_ENTRYPOINT_TEST_REPLACED");
  EXPECT_EQ(output,
            "DIND_ENTRYPOINT_TEST_KEPT=inherited\n"
            "DIND_ENTRYPOINT_TEST_NEW=new value\n"
            "DIND_ENTRYPOINT_TEST_REPLACED=last\n");
}

TEST(LaunchTest, RunsInTheWorkingDirectory) {
  EXPECT_EQ(OutputOf({.argv = {"pwd"}, .working_directory = "/"}), "/\n");
}

TEST(LaunchTest, LeadsAProcessGroupOfItsOwnOnlyWhenAsked) {
  const auto leader = Launch({.argv = {"sleep", "30"}, .new_process_group = true});
  const auto member = Launch({.argv = {"sleep", "30"}});
  ASSERT_TRUE(leader && member);
  // posix_spawn returns after the exec, so the group is already set.
  EXPECT_EQ(::getpgid(*leader), *leader);
  EXPECT_EQ(::getpgid(*member), ::getpgrp());
  ::kill(*leader, SIGKILL);
  ::kill(*member, SIGKILL);
  EXPECT_EQ(WaitFor(*leader).signal, SIGKILL);
  EXPECT_EQ(WaitFor(*member).signal, SIGKILL);
}

// In a child that is a session leader, with stdin a pseudo-terminal that is its controlling
// terminal (what `docker run -it` gives PID 1) or /dev/null (a pod without tty), launches
// `sh -c CHECK` in a group of its own and returns the shell's status; 100 + a step when the
// set-up failed. A child, so the terminal of whoever runs the test is never touched.
int StatusWithStdin(bool terminal, bool take_terminal, const char* check) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return 100;
  const pid_t session = ::fork();
  if (session == 0) {
    if (::setsid() < 0) ::_exit(101);
    // Opened by a session leader without one, the terminal becomes its controlling terminal.
    const int input = ::open(terminal ? ::ptsname(master) : "/dev/null", O_RDWR);
    if (input < 0 || ::dup2(input, STDIN_FILENO) < 0) ::_exit(102);
    const auto child = Launch(
        {.argv = {"sh", "-c", check}, .new_process_group = true, .take_terminal = take_terminal});
    if (!child) ::_exit(103);
    ::_exit(WaitFor(*child).code);
  }
  const int code = WaitFor(session).code;
  ::close(master);
  return code;
}

TEST(LaunchTest, TakesTheTerminalsForegroundOnlyWhenAskedAndOnlyWithATerminal) {
  // Fields 5 and 8 of /proc/PID/stat: the process group and the terminal's foreground group
  // (-1 without a terminal).
  const char* foreground = "set -- $(cat /proc/$$/stat); [ \"$5\" = \"$8\" ]";
  EXPECT_EQ(StatusWithStdin(true, true, foreground), 0) << "COMMAND leads the foreground group";
  EXPECT_EQ(StatusWithStdin(true, false, foreground), 1) << "dockerd stays in the background";
  EXPECT_EQ(StatusWithStdin(false, true, "exit 0"), 0) << "no terminal: launched all the same";
}

TEST(LaunchTest, StartsWithDefaultSignalsAnEmptyMaskAndOnlyStandardDescriptors) {
  // What an Asio daemon may have: blocked signals, ignored ones, a descriptor without CLOEXEC.
  sigset_t blocked;
  sigset_t previous_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigaddset(&blocked, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &blocked, &previous_mask), 0);
  struct sigaction ignore {};
  struct sigaction previous_hup {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGHUP, &ignore, &previous_hup), 0);
  const int leaked = ::dup(STDERR_FILENO);  // dup() never sets CLOEXEC

  const std::string script =
      "grep -E '^Sig(Blk|Ign):' /proc/self/status; "
      "test -e /proc/self/fd/" +
      std::to_string(leaked) + " && echo fd-inherited || echo fd-closed";
  const std::string output = OutputOf({.argv = {"sh", "-c", script}});

  ::close(leaked);
  ::sigaction(SIGHUP, &previous_hup, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  EXPECT_EQ(output,
            "SigBlk:\t0000000000000000\n"
            "SigIgn:\t0000000000000000\n"
            "fd-closed\n");
}

TEST(LaunchTest, AProgramNotOnPathIsBadInputNamingIt) {
  const auto result = Launch({.argv = {"dind-netcfg-no-such-program", "--flag"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(result.error().ExitCode(), 2);
  EXPECT_THAT(result.error().Message(), HasSubstr("'dind-netcfg-no-such-program' is not on PATH"));
  EXPECT_THAT(result.error().Message(), HasSubstr("give its full path"));
}

TEST(LaunchTest, TheChildsPathIsTheOneSearched) {
  const auto result = Launch({.argv = {"sh", "-c", "true"}, .extra_environment = {"PATH=/nope"}});
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().Message(), HasSubstr("'sh' is not on PATH (/nope)"));
}

TEST(LaunchTest, AMissingPathIsBadInputNamingIt) {
  const auto result = Launch({.argv = {"/nonexistent/dockerd"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(result.error().Message(), HasSubstr("'/nonexistent/dockerd' does not exist"));
}

TEST(LaunchTest, AFileWithoutExecutePermissionIsBadInputNamingIt) {
  std::string path = "/tmp/dind-entrypoint-test-XXXXXX";
  const int fd = ::mkstemp(path.data());  // mode 0600
  ASSERT_GE(fd, 0);
  ::close(fd);
  const auto result = Launch({.argv = {path}});
  ::unlink(path.c_str());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(result.error().Message(), HasSubstr(path + "' is not executable"));
}

TEST(LaunchTest, RefusesAnEmptyCommandAMalformedVariableAndAMissingDirectory) {
  const auto empty = Launch({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::kBadInput);

  const auto variable = Launch({.argv = {"true"}, .extra_environment = {"NO_EQUALS_SIGN"}});
  ASSERT_FALSE(variable);
  EXPECT_THAT(variable.error().Message(), HasSubstr("'NO_EQUALS_SIGN' is not KEY=VALUE"));

  const auto directory = Launch({.argv = {"true"}, .working_directory = "/nonexistent"});
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(directory.error().Message(), HasSubstr("working directory '/nonexistent'"));
}

}  // namespace
}  // namespace dind::process

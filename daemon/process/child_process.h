// SPDX-License-Identifier: Apache-2.0
// Starting the entrypoint's children (dockerd, the CI command) with posix_spawn, and what their
// end looked like. A child starts clean whatever state the entrypoint is in: default signal
// dispositions, an empty signal mask (the parent's Asio loop may block or handle signals), and
// only descriptors 0, 1 and 2 (never the loop's sockets, netlink or the health endpoint).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace dind::process {

struct LaunchSpec {
  // argv[0] is the program: a path when it contains '/' (relative to working_directory when
  // one is set), otherwise a name looked up on the child's PATH.
  std::vector<std::string> argv;
  // "KEY=VALUE" entries added to the inherited environment; a KEY already there is replaced.
  // A PATH given here is also the PATH argv[0] is looked up on.
  std::vector<std::string> extra_environment;
  // The child leads a process group of its own (pgid = its pid), so signals can be sent to it
  // and everything it starts with kill(-pid, …) without reaching the entrypoint.
  bool new_process_group = false;
  // With new_process_group: when stdin is a terminal whose foreground group is the
  // entrypoint's (`docker run -it`), the child's group becomes the foreground one, so an
  // interactive COMMAND can read it and ^C reaches it (tini does the same). No terminal: nothing.
  bool take_terminal = false;
  // Becomes the child's stdout and stderr (dockerd's output goes to the entrypoint's stderr);
  // unset: both are inherited. The descriptor stays the caller's.
  std::optional<int> output_fd;
  std::optional<std::string> working_directory;
};

// Starts the child and returns its pid; the caller owns reaping it (ProcessSupervisor::Watch).
// A program that is not found, not executable or not runnable is kBadInput (exit 2): it came
// from the command line. Out of processes or memory is kEnvironment.
Result<pid_t> Launch(const LaunchSpec& spec);

// How a child ended, from its wait status.
struct ExitStatus {
  pid_t pid = 0;
  int code = 0;    // the exit code when it exited, else 0
  int signal = 0;  // the signal that killed it, else 0

  static ExitStatus FromWaitStatus(pid_t pid, int wait_status);

  bool killed() const { return signal != 0; }
  // What a shell would put in $?: the code, or 128 + the signal. The entrypoint exits with it.
  int ShellStatus() const { return killed() ? 128 + signal : code; }
  // "exited with status 7", "killed by signal 9 (SIGKILL)"
  std::string Describe() const;
};

}  // namespace dind::process

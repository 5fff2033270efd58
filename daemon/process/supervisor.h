// SPDX-License-Identifier: Apache-2.0
// Being PID 1 (what tini does), on the daemon's Asio loop, for both long-running commands:
//  * every exited process is reaped: the children this process started, and the orphans the
//    kernel re-parents to it (containerd after dockerd died, a CI job's daemonized helpers).
//    When it is not PID 1 (tests, `docker run --init`) the entrypoint makes itself a child
//    subreaper so those orphans still come to it rather than to the real init; `run`, which
//    starts no children of its own, does not (SupervisorOptions::become_subreaper);
//  * the signals it handles (docker stop's SIGTERM, a terminal's SIGINT, and for the entrypoint
//    SIGHUP, SIGWINCH, …) are reported to the owner and, once a target is set, forwarded to the
//    CI command's process group;
//  * children are stopped gracefully (SIGTERM, then SIGKILL after a timeout), and the end of
//    every last descendant can be awaited.
//
// There is one per process (a second aborts). It must be the only code calling waitpid(-1, …)
// and the only SIGCHLD handler. Code that waits for its own child synchronously on the loop's
// thread (RunAndCapture, the traffic proof) is unaffected.
//
// Single-threaded: create, use and destroy it on the thread that runs the io_context. Every
// callback runs from the loop, never from inside the call that registered it, and may call back
// into the supervisor or destroy it. Destroying it drops the callbacks not yet run, puts the
// default signal dispositions and the subreaper flag back, and leaves the children running.
// Nothing here throws; failures are returned or, where the loop cannot act on them, logged.
#pragma once

#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/process/child_process.h"

namespace dind::process {

// Whom StopGracefully signals: the process alone, or the process group it leads (dockerd and
// whatever it started in its group). A group that is gone falls back to the process.
enum class StopScope { kProcess, kProcessGroup };

// What Start takes on besides SIGCHLD. The defaults are the entrypoint's.
struct SupervisorOptions {
  // The signals handled: reported to on_signal, and forwarded once a target is set. Any other
  // signal keeps its disposition (for `run`, SIGHUP still ends the process, as it always did).
  std::vector<int> signals;  // empty: ProcessSupervisor::kForwardedSignals
  // When not PID 1, become a child subreaper so orphans of descendants come here.
  bool become_subreaper = true;
};

class ProcessSupervisor {
 public:
  using ExitCallback = std::function<void(const ExitStatus&)>;
  using SignalCallback = std::function<void(int signal_number)>;
  // The pids of this process's children still alive at the timeout; empty when none is left.
  using NoChildrenCallback = std::function<void(const std::vector<pid_t>& still_running)>;

  // The signals forwarded (and reported to on_signal) unless SupervisorOptions names others.
  static constexpr std::array<int, 7> kForwardedSignals = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                                                           SIGUSR1, SIGUSR2, SIGWINCH};

  // Handles SIGCHLD and options.signals from now on, and becomes a child subreaper unless PID 1
  // or told not to (a failure there is logged: orphans then go to the real init, which reaps
  // them). `on_signal` (may be empty) hears every handled signal, whether a target is set or not.
  static Result<std::unique_ptr<ProcessSupervisor>> Start(boost::asio::io_context& io,
                                                          SignalCallback on_signal,
                                                          SupervisorOptions options = {});
  ~ProcessSupervisor();
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;

  // `on_exit` runs once, with its status, when `pid` is reaped. Call it right after Launch, in
  // the same loop turn: a child reaped before it was watched counts as an orphan, and Watch
  // then fails (as it does for a pid that is not a child of this process). Watching a pid
  // twice runs both callbacks.
  Status Watch(pid_t pid, ExitCallback on_exit);

  // Forwards kForwardedSignals to the process group `process_group` (kill(-pgid, sig)), until
  // another target is set or the group's leader is reaped (its pid may then be reused).
  // `process_group` must not be this process's own group, which would echo every signal back.
  void ForwardSignalsTo(pid_t process_group);

  // SIGTERM to `pid` (or its group), SIGKILL if it has not been reaped after `timeout`; `done`
  // runs when it is reaped. Watches `pid`, so fails as Watch does. Stopping a pid that is
  // already being stopped keeps the first deadline and adds `done`.
  Status StopGracefully(pid_t pid, std::chrono::milliseconds timeout, StopScope scope,
                        ExitCallback done);

  // `done` runs once this process has no child left at all, direct or re-parented orphan
  // (so "dockerd and its containerd are gone" can be awaited after dockerd exited: containerd
  // is re-parented here), with an empty list; or at `timeout` with the children still there,
  // read from /proc. Only waits: it signals nobody. Completes on the next loop turn when there
  // are no children now.
  void WaitForNoChildren(std::chrono::milliseconds timeout, NoChildrenCallback done);

  // Processes reaped that nobody watched: orphans, and children reaped before Watch.
  int reaped_orphans() const { return reaped_orphans_; }

 private:
  struct Watched {
    std::vector<ExitCallback> on_exit;
    std::unique_ptr<boost::asio::steady_timer> kill_timer;  // set while StopGracefully waits
    std::uint64_t stop_id = 0;  // tells a stale timer handler from the current stop's
  };
  struct NoChildrenWaiter {
    std::unique_ptr<boost::asio::steady_timer> timer;
    NoChildrenCallback done;
  };
  using Calls = std::vector<std::function<void()>>;

  ProcessSupervisor(boost::asio::io_context& io, SignalCallback on_signal);
  void WaitForSignals();
  void OnForwardedSignal(int signal_number);
  // Reaps every exited process and settles the state; returns the callbacks that are due,
  // which the caller runs last, touching nothing of `this` afterwards.
  Calls Reap();
  void ReapSoon();
  void OnKillDeadline(pid_t pid, StopScope scope, std::uint64_t stop_id);
  void OnNoChildrenDeadline(std::uint64_t waiter_id);

  boost::asio::io_context& io_;
  // Asio may have queued a completion, with success, before a callback destroyed the
  // supervisor; every handler checks this token before it touches `this`.
  std::shared_ptr<int> alive_ = std::make_shared<int>();
  boost::asio::signal_set signals_;
  boost::asio::steady_timer reap_soon_;
  SignalCallback on_signal_;
  std::map<pid_t, Watched> watched_;
  std::map<std::uint64_t, NoChildrenWaiter> no_children_waiters_;
  std::uint64_t next_id_ = 1;
  std::optional<pid_t> forward_target_;
  bool restore_subreaper_ = false;  // this supervisor turned the subreaper flag on
  int reaped_orphans_ = 0;
};

// "SIGTERM"; the number as text for a signal without a name.
std::string SignalName(int signal_number);

// This process's children according to /proc (entries whose PPid is `parent`), ascending.
std::vector<pid_t> ChildrenFromProc(pid_t parent);

}  // namespace dind::process

// SPDX-License-Identifier: Apache-2.0
#include "daemon/process/supervisor.h"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "common/files.h"
#include "common/log.h"
#include "daemon/asio/asio_support.h"

namespace dind::process {
namespace {

// Whether this process has any child, exited or running (waitid's ECHILD is the kernel's own
// answer, with no /proc race). Other errors count as "yes": the caller's deadline decides then.
bool HasChildren() {
  siginfo_t info{};
  while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) return errno != ECHILD;
  }
  return true;
}

// kill() to the group `pid` leads, or to the process alone; a group that is gone (or that
// `pid` does not lead) falls back to the process. A process that is gone is no error.
void SendStopSignal(pid_t pid, StopScope scope, int signal_number) {
  if (scope == StopScope::kProcessGroup && ::kill(-pid, signal_number) == 0) return;
  if (::kill(pid, signal_number) == 0 || errno == ESRCH) return;
  const int errnum = errno;
  log::Warn("sending " + SignalName(signal_number) + " to process " + std::to_string(pid) +
            " failed: " + std::strerror(errnum));
}

// `handler` without the error code, run only when the operation completed and its supervisor
// (whose token `alive` is) still exists.
template <typename Handler>
auto IfAlive(const std::shared_ptr<int>& alive, Handler handler) {
  return [alive = std::weak_ptr<int>(alive), handler = std::move(handler)](
             const boost::system::error_code& error, auto... results) {
    if (!error && !alive.expired()) handler(results...);
  };
}

void RunAll(std::vector<std::function<void()>>& calls) {
  for (auto& call : calls) call();
}

// Two supervisors would take each other's children with waitpid(-1).
std::atomic<bool> supervisor_exists{false};

}  // namespace

std::string SignalName(int signal_number) {
  const char* name = ::sigabbrev_np(signal_number);
  return name != nullptr ? "SIG" + std::string(name) : std::to_string(signal_number);
}

ProcessSupervisor::ProcessSupervisor(boost::asio::io_context& io, SignalCallback on_signal)
    : io_(io), signals_(io), reap_soon_(io), on_signal_(std::move(on_signal)) {
  DIND_CHECK(!supervisor_exists.exchange(true), "a second ProcessSupervisor in this process");
}

Result<std::unique_ptr<ProcessSupervisor>> ProcessSupervisor::Start(boost::asio::io_context& io,
                                                                    SignalCallback on_signal,
                                                                    SupervisorOptions options) {
  if (options.signals.empty()) {
    options.signals.assign(kForwardedSignals.begin(), kForwardedSignals.end());
  }
  std::unique_ptr<ProcessSupervisor> supervisor(new ProcessSupervisor(io, std::move(on_signal)));
  boost::system::error_code error;
  supervisor->signals_.add(SIGCHLD, error);
  for (const int signal_number : options.signals) {
    if (error) break;
    supervisor->signals_.add(signal_number, error);
  }
  if (error) {
    return asio_support::ErrorFromBoost("installing the signal handlers", error);
  }
  if (options.become_subreaper && ::getpid() != 1) {
    // Orphans go to the nearest subreaper ancestor instead of PID 1: to us, so "all of dockerd
    // is gone" can be observed and nothing is left a zombie under an init that does not reap.
    int already = 0;
    if (::prctl(PR_GET_CHILD_SUBREAPER, &already) == 0 && already == 0) {
      if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
        supervisor->restore_subreaper_ = true;
      } else {
        log::Warn(std::string("cannot become a child subreaper: ") + std::strerror(errno) +
                  "; orphaned processes are reaped by the container's init instead");
      }
    }
  }
  supervisor->WaitForSignals();
  // Children that ended before this handler was installed sent a SIGCHLD nobody will repeat.
  supervisor->ReapSoon();
  return supervisor;
}

ProcessSupervisor::~ProcessSupervisor() {
  if (restore_subreaper_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  supervisor_exists = false;
  // signals_ goes with its members: Asio puts the default dispositions back.
}

void ProcessSupervisor::WaitForSignals() {
  signals_.async_wait(IfAlive(alive_, [this](int signal_number) {
    WaitForSignals();
    if (signal_number != SIGCHLD) return OnForwardedSignal(signal_number);
    Calls due = Reap();
    RunAll(due);
  }));
}

void ProcessSupervisor::OnForwardedSignal(int signal_number) {
  if (forward_target_) {
    if (::kill(-*forward_target_, signal_number) != 0) {
      const int errnum = errno;
      // ESRCH: nobody is left in the group to tell.
      log::Write(errnum == ESRCH ? log::Level::kDebug : log::Level::kWarn,
                 "forwarding a signal failed",
                 {{"signal", SignalName(signal_number)},
                  {"process_group", std::to_string(*forward_target_)},
                  {"error", std::strerror(errnum)}});
    }
  }
  log::Debug("signal received",
             {{"signal", SignalName(signal_number)},
              {"forwarded_to",
               forward_target_ ? "process group " + std::to_string(*forward_target_) : "none"}});
  if (!on_signal_) return;
  const SignalCallback callback = on_signal_;  // it may destroy this supervisor
  callback(signal_number);
}

ProcessSupervisor::Calls ProcessSupervisor::Reap() {
  Calls due;
  while (true) {
    int wait_status = 0;
    const pid_t pid = ::waitpid(-1, &wait_status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;  // 0: the others still run; ECHILD: there are none
    const ExitStatus status = ExitStatus::FromWaitStatus(pid, wait_status);
    if (forward_target_ == pid) forward_target_.reset();
    const auto watched = watched_.find(pid);
    if (watched == watched_.end()) {
      ++reaped_orphans_;
      log::Debug("reaped an orphaned process",
                 {{"pid", std::to_string(pid)}, {"status", status.Describe()}});
      continue;
    }
    for (ExitCallback& on_exit : watched->second.on_exit) {
      due.push_back([on_exit = std::move(on_exit), status] { on_exit(status); });
    }
    watched_.erase(watched);  // a pending kill timer is cancelled with it
  }
  if (!no_children_waiters_.empty() && !HasChildren()) {
    for (auto& [id, waiter] : no_children_waiters_) {
      due.push_back([done = std::move(waiter.done)] { done({}); });
    }
    no_children_waiters_.clear();
  }
  return due;
}

void ProcessSupervisor::ReapSoon() {
  // Re-arming cancels a wait already pending: a single reap serves both requests.
  reap_soon_.expires_after(std::chrono::seconds(0));
  reap_soon_.async_wait(IfAlive(alive_, [this] {
    Calls due = Reap();
    RunAll(due);
  }));
}

Status ProcessSupervisor::Watch(pid_t pid, ExitCallback on_exit) {
  DIND_CHECK(pid > 0, "Watch of a pid that names no single process");
  if (const auto watched = watched_.find(pid); watched != watched_.end()) {
    watched->second.on_exit.push_back(std::move(on_exit));
    return OkStatus();
  }
  // WNOWAIT: only asks whether `pid` is our unreaped child (ECHILD if not); Reap collects it.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    const int errnum = errno;
    if (errnum == EINTR) continue;
    return Error::Environment("watching process " + std::to_string(pid), errnum,
                              "it is not a child of this process, or was reaped before it was "
                              "watched; watch a child right after launching it");
  }
  watched_[pid].on_exit.push_back(std::move(on_exit));
  if (info.si_pid == pid) ReapSoon();  // already ended, maybe before Start handled SIGCHLD
  return OkStatus();
}

void ProcessSupervisor::ForwardSignalsTo(pid_t process_group) {
  // kill(-1, …) would signal every process we may signal; our own group would echo back to us.
  DIND_CHECK(process_group > 1, "ForwardSignalsTo needs a process group id above 1");
  DIND_CHECK(process_group != ::getpgrp(), "ForwardSignalsTo of the supervisor's own group");
  forward_target_ = process_group;
}

Status ProcessSupervisor::StopGracefully(pid_t pid, std::chrono::milliseconds timeout,
                                         StopScope scope, ExitCallback done) {
  DIND_RETURN_IF_ERROR(Watch(pid, std::move(done)));
  Watched& watched = watched_[pid];
  if (watched.kill_timer) return OkStatus();
  SendStopSignal(pid, scope, SIGTERM);
  watched.stop_id = next_id_++;
  watched.kill_timer = std::make_unique<boost::asio::steady_timer>(io_, timeout);
  watched.kill_timer->async_wait(IfAlive(alive_, [this, pid, scope, stop_id = watched.stop_id] {
    OnKillDeadline(pid, scope, stop_id);
  }));
  return OkStatus();
}

void ProcessSupervisor::OnKillDeadline(pid_t pid, StopScope scope, std::uint64_t stop_id) {
  const auto watched = watched_.find(pid);
  // Reaped meanwhile, and maybe the pid reused by a child stopped since: not ours to kill.
  if (watched == watched_.end() || watched->second.stop_id != stop_id) return;
  log::Warn("process " + std::to_string(pid) + " did not stop after SIGTERM; sending SIGKILL");
  SendStopSignal(pid, scope, SIGKILL);
}

void ProcessSupervisor::WaitForNoChildren(std::chrono::milliseconds timeout,
                                          NoChildrenCallback done) {
  const std::uint64_t waiter_id = next_id_++;
  NoChildrenWaiter& waiter = no_children_waiters_[waiter_id];
  waiter.done = std::move(done);
  waiter.timer = std::make_unique<boost::asio::steady_timer>(io_, timeout);
  waiter.timer->async_wait(IfAlive(alive_, [this, waiter_id] { OnNoChildrenDeadline(waiter_id); }));
  ReapSoon();  // completes it on the next turn when there are no children now
}

void ProcessSupervisor::OnNoChildrenDeadline(std::uint64_t waiter_id) {
  // Exited children whose SIGCHLD is still queued are not "still running".
  Calls due = Reap();
  if (const auto waiter = no_children_waiters_.find(waiter_id);
      waiter != no_children_waiters_.end()) {
    due.push_back([done = std::move(waiter->second.done),
                   still_running = ChildrenFromProc(::getpid())] { done(still_running); });
    no_children_waiters_.erase(waiter);
  }
  RunAll(due);
}

std::vector<pid_t> ChildrenFromProc(pid_t parent) {
  std::vector<pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return children;
  while (const dirent* entry = ::readdir(proc)) {
    const std::string_view name = entry->d_name;
    pid_t pid = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (error != std::errc() || end != name.data() + name.size()) continue;
    // Gone since readdir: not a child any more.
    const auto status = ReadFile("/proc/" + std::string(name) + "/status");
    if (!status) continue;
    const std::size_t at = status->find("\nPPid:\t");
    if (at == std::string::npos) continue;
    const char* number = status->data() + at + 7;
    pid_t parent_pid = 0;
    std::from_chars(number, status->data() + status->size(), parent_pid);
    if (parent_pid == parent) children.push_back(pid);
  }
  ::closedir(proc);
  std::sort(children.begin(), children.end());
  return children;
}

}  // namespace dind::process

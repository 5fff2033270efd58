// SPDX-License-Identifier: Apache-2.0
#include "daemon/process/process_lifecycle.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "common/log.h"
#include "daemon/process/systemd_notify.h"

namespace dind::process {

ProcessLifecycle::ProcessLifecycle(boost::asio::io_context& io,
                                   std::function<void(std::string)> on_stop)
    : signals_(io, SIGTERM, SIGINT), watchdog_timer_(io), on_stop_(std::move(on_stop)) {
  // As PID 1 the kernel ignores signals without a handler, so SIGTERM must be handled (it is),
  // and orphaned grandchildren become ours to reap.
  if (::getpid() == 1) signals_.add(SIGCHLD);
  WaitForSignal();
  if (const auto interval = SystemdWatchdogInterval()) {
    // Ping at half the interval, from the loop itself: a stuck loop stops the pings.
    watchdog_interval_ = *interval / 2;
    ScheduleWatchdog();
  }
}

void ProcessLifecycle::WaitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
    if (error) return;  // cancelled at shutdown
    if (signal_number == SIGCHLD) {
      ReapChildren();
    } else if (!stop_requested_) {
      stop_requested_ = true;
      on_stop_(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    WaitForSignal();
  });
}

void ProcessLifecycle::ReapChildren() {
  // Non-blocking: children the daemon waits for itself are waited for synchronously on this same
  // thread, so they are never taken from under it here.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) ++reaped_;
}

void ProcessLifecycle::ScheduleWatchdog() {
  NotifySystemd("WATCHDOG=1");
  watchdog_timer_.expires_after(*watchdog_interval_);
  watchdog_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && !stop_requested_) ScheduleWatchdog();
  });
}

void ProcessLifecycle::NotifyReady(const std::string& status) {
  if (ready_sent_) return NotifyStatus(status);
  ready_sent_ = true;
  last_status_ = status;
  NotifySystemd("READY=1\nSTATUS=" + status);
}

void ProcessLifecycle::NotifyStatus(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  NotifySystemd("STATUS=" + status);
}

void ProcessLifecycle::NotifyStopping() {
  watchdog_timer_.cancel();
  NotifySystemd("STOPPING=1");
}

}  // namespace dind::process

// SPDX-License-Identifier: Apache-2.0
// How `run` behaves as a process: an orderly stop on SIGTERM/SIGINT, zombies reaped when it is
// PID 1 of a container (orphans are re-parented to PID 1, and nothing else would reap them),
// and systemd's notify protocol (READY=1 once ready, WATCHDOG=1 while the loop turns).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace dind::process {

class ProcessLifecycle {
 public:
  // `on_stop` runs once, on the loop, with the name of the signal that asked for the stop.
  ProcessLifecycle(boost::asio::io_context& io, std::function<void(std::string)> on_stop);
  ProcessLifecycle(const ProcessLifecycle&) = delete;
  ProcessLifecycle& operator=(const ProcessLifecycle&) = delete;

  // Tells systemd (when started by it with Type=notify) that the daemon is ready, once.
  void NotifyReady(const std::string& status);
  // A one-line status systemd shows in `systemctl status`; repeated lines are not re-sent.
  void NotifyStatus(const std::string& status);
  void NotifyStopping();
  // Children reaped so far (when PID 1).
  int reaped() const { return reaped_; }

 private:
  void WaitForSignal();
  void ReapChildren();
  void ScheduleWatchdog();

  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_timer_;
  std::optional<std::chrono::microseconds> watchdog_interval_;
  std::function<void(std::string)> on_stop_;
  bool stop_requested_ = false;
  bool ready_sent_ = false;
  std::string last_status_;
  int reaped_ = 0;
};

}  // namespace dind::process

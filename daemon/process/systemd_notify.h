// SPDX-License-Identifier: Apache-2.0
// systemd's notify protocol (sd_notify(3)): one datagram of "KEY=value" lines to the unix
// socket named by $NOTIFY_SOCKET, and the watchdog interval from $WATCHDOG_USEC/$WATCHDOG_PID.
// Written here instead of linking libsystemd, which loads five compression and crypto
// libraries into every start of a binary that CI pods start thousands of times a day.
// SystemdNotifier is what `run` says with it (signals and reaping are ProcessSupervisor's).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dind::process {

struct NotifyAddress {
  sockaddr_un address{};
  socklen_t length = 0;
};

// $NOTIFY_SOCKET's value: an absolute path, or "@name" for the abstract namespace. nullopt
// when empty, relative or too long for a unix socket address.
std::optional<NotifyAddress> ParseNotifySocket(std::string_view value);

// The interval systemd expects pings within: $WATCHDOG_USEC when set and positive, and
// $WATCHDOG_PID (when set) names `self`. nullopt when no watchdog is asked of this process.
std::optional<std::chrono::microseconds> ParseWatchdogInterval(const char* watchdog_usec,
                                                               const char* watchdog_pid,
                                                               pid_t self);

// Sends `state` to $NOTIFY_SOCKET. A no-op outside systemd; a failed send is not an error the
// daemon can act on, so it returns whether the datagram went out.
bool NotifySystemd(std::string_view state);

// ParseWatchdogInterval on this process's environment.
std::optional<std::chrono::microseconds> SystemdWatchdogInterval();

// A daemon's side of Type=notify on its Asio loop: READY=1 once ready, a STATUS line when it
// changes, STOPPING=1, and WATCHDOG=1 at half the interval systemd asks for, sent from the loop
// itself so a stuck loop stops the pings. Outside systemd every call is a no-op.
class SystemdNotifier {
 public:
  // Starts the watchdog pings when $WATCHDOG_USEC asks this process for them.
  explicit SystemdNotifier(boost::asio::io_context& io);
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // READY=1 with `status` the first time; later calls are NotifyStatus.
  void NotifyReady(const std::string& status);
  // A one-line status systemd shows in `systemctl status`; repeated lines are not re-sent.
  void NotifyStatus(const std::string& status);
  // STOPPING=1, and no watchdog ping after it.
  void NotifyStopping();

 private:
  void ScheduleWatchdog();

  boost::asio::steady_timer watchdog_timer_;
  std::optional<std::chrono::microseconds> watchdog_interval_;
  bool stopping_ = false;
  bool ready_sent_ = false;
  std::string last_status_;
};

}  // namespace dind::process

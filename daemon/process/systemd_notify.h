// SPDX-License-Identifier: Apache-2.0
// systemd's notify protocol (sd_notify(3)): one datagram of "KEY=value" lines to the unix
// socket named by $NOTIFY_SOCKET, and the watchdog interval from $WATCHDOG_USEC/$WATCHDOG_PID.
// Written here instead of linking libsystemd, which loads five compression and crypto
// libraries into every start of a binary that CI pods start thousands of times a day.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
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

}  // namespace dind::process

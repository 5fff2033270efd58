// SPDX-License-Identifier: Apache-2.0
#include "daemon/process/systemd_notify.h"

#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/scoped_fd.h"

namespace dind::process {
namespace {
template <typename Number>
std::optional<Number> ParseWhole(const char* text) {
  if (text == nullptr) return std::nullopt;
  const std::string_view view(text);
  Number value{};
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec != std::errc() || end != view.data() + view.size() || view.empty()) return std::nullopt;
  return value;
}
}  // namespace

std::optional<NotifyAddress> ParseNotifySocket(std::string_view value) {
  NotifyAddress notify;
  notify.address.sun_family = AF_UNIX;
  const bool abstract = value.starts_with('@');
  if (value.size() < 2 || (!abstract && !value.starts_with('/')) ||
      value.size() > sizeof(notify.address.sun_path)) {
    return std::nullopt;
  }
  std::memcpy(notify.address.sun_path, value.data(), value.size());
  if (abstract) notify.address.sun_path[0] = '\0';
  // An abstract name is exactly its bytes; a path is NUL-terminated when there is room.
  notify.length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() +
                             (!abstract && value.size() < sizeof(notify.address.sun_path)));
  return notify;
}

std::optional<std::chrono::microseconds> ParseWatchdogInterval(const char* watchdog_usec,
                                                               const char* watchdog_pid,
                                                               pid_t self) {
  const auto usec = ParseWhole<std::uint64_t>(watchdog_usec);
  if (!usec || *usec == 0) return std::nullopt;
  if (watchdog_pid != nullptr && ParseWhole<pid_t>(watchdog_pid) != self) return std::nullopt;
  return std::chrono::microseconds(*usec);
}

bool NotifySystemd(std::string_view state) {
  const char* value = std::getenv("NOTIFY_SOCKET");
  if (value == nullptr) return false;
  const std::optional<NotifyAddress> target = ParseNotifySocket(value);
  if (!target) return false;
  const ScopedFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  const auto* address = reinterpret_cast<const sockaddr*>(&target->address);
  return ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, address, target->length) ==
         static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> SystemdWatchdogInterval() {
  return ParseWatchdogInterval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                               ::getpid());
}

SystemdNotifier::SystemdNotifier(boost::asio::io_context& io) : watchdog_timer_(io) {
  if (const auto interval = SystemdWatchdogInterval()) {
    // Ping at half the interval, from the loop itself: a stuck loop stops the pings.
    watchdog_interval_ = *interval / 2;
    ScheduleWatchdog();
  }
}

void SystemdNotifier::ScheduleWatchdog() {
  NotifySystemd("WATCHDOG=1");
  watchdog_timer_.expires_after(*watchdog_interval_);
  watchdog_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && !stopping_) ScheduleWatchdog();
  });
}

void SystemdNotifier::NotifyReady(const std::string& status) {
  if (ready_sent_) return NotifyStatus(status);
  ready_sent_ = true;
  last_status_ = status;
  NotifySystemd("READY=1\nSTATUS=" + status);
}

void SystemdNotifier::NotifyStatus(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  NotifySystemd("STATUS=" + status);
}

void SystemdNotifier::NotifyStopping() {
  stopping_ = true;
  watchdog_timer_.cancel();
  NotifySystemd("STOPPING=1");
}

}  // namespace dind::process

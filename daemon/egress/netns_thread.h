// SPDX-License-Identifier: Apache-2.0
// Doing things in another network namespace without moving the daemon: a short-lived thread
// enters the namespace (setns applies to the calling thread only), does one thing and ends.
// What it made stays tied to that namespace: a socket keeps the namespace it was created in,
// and a namespace lives as long as a descriptor refers to it.
//
// Each call blocks its caller for the life of one thread (tens of microseconds plus the work),
// which the daemon's single event loop tolerates; nothing here waits on the network.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "common/result.h"
#include "common/scoped_fd.h"

namespace dind::egress {

namespace detail {
Status EnterNetns(int netns_fd);
}  // namespace detail

// Runs `work` on a new thread inside the namespace behind `netns_fd` and returns its result.
// The thread never returns to the caller's namespace, so nothing can run there by mistake.
template <typename T>
Result<T> RunInNetns(int netns_fd, const std::function<Result<T>()>& work) {
  std::optional<Result<T>> result;
  try {
    std::thread worker([&] {
      if (auto entered = detail::EnterNetns(netns_fd); !entered.ok()) {
        result.emplace(entered.error());
        return;
      }
      try {
        result.emplace(work());
      } catch (const std::exception& error) {  // never let a thread take the daemon down
        result.emplace(
            Error::Environment(std::string("in a network namespace thread: ") + error.what()));
      }
    });
    worker.join();
  } catch (const std::system_error& error) {  // no thread: out of memory or of thread limits
    return Error::Environment("starting a thread to enter a network namespace",
                              error.code().value(),
                              "the process may have hit its thread limit (ulimit -u, pids.max)");
  }
  if (!result) return Error::Environment("a network namespace thread ended without a result");
  return std::move(*result);
}

// A new, empty network namespace (only a down `lo`) that lives while the descriptor is open.
// Needs CAP_SYS_ADMIN; the Permission error says so.
Result<ScopedFd> CreateNetns();

// A descriptor for an existing namespace: "/var/run/netns/NAME", "/proc/PID/ns/net".
Result<ScopedFd> OpenNetns(const std::string& path);

// The calling thread's own namespace.
Result<ScopedFd> OpenCurrentNetns();

// A socket (socket(2) arguments; SOCK_CLOEXEC is added) created inside `netns_fd`.
Result<ScopedFd> OpenSocketIn(int netns_fd, int domain, int type, int protocol);

}  // namespace dind::egress

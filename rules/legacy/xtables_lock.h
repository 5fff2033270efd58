// SPDX-License-Identifier: Apache-2.0
// The xtables lock: the flock every iptables-legacy writer takes before it reads, edits and
// replaces a table, so two writers never overwrite each other's changes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dind::rules::legacy {

inline constexpr std::string_view kDefaultXtablesLockPath = "/run/xtables.lock";
// How long a writer waits for the lock by default (--xtables-wait): kube-proxy gives iptables
// the same 5 s (`iptables -w 5`).
inline constexpr std::chrono::milliseconds kDefaultXtablesWait{5000};

class XtablesLock {
 public:
  // $XTABLES_LOCKFILE when set and not empty, else /run/xtables.lock: the file iptables uses.
  static std::string DefaultPath();

  // Takes an exclusive flock on `path` (creating the file like iptables does), polling for up
  // to `wait`. On timeout the error names the file and, when /proc/locks shows it, the PID and
  // command of the holder.
  static Result<XtablesLock> Acquire(const std::string& path, std::chrono::milliseconds wait);

  XtablesLock(XtablesLock&& other) noexcept;
  XtablesLock& operator=(XtablesLock&& other) noexcept;
  XtablesLock(const XtablesLock&) = delete;
  XtablesLock& operator=(const XtablesLock&) = delete;
  ~XtablesLock();  // closing the file releases the lock

 private:
  explicit XtablesLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The PID holding a flock on the file with this device and inode, from the text of
// /proc/locks; nullopt when nobody visible holds one (waiters, "->" lines, are skipped).
std::optional<pid_t> FindFlockHolder(std::string_view proc_locks, unsigned device_major,
                                     unsigned device_minor, std::uint64_t inode);

// FindFlockHolder on the live /proc/locks for the file at `path`.
std::optional<pid_t> FindFlockHolderOf(const std::string& path);

}  // namespace dind::rules::legacy

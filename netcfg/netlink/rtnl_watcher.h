// SPDX-License-Identifier: Apache-2.0
// Kernel notifications about links, addresses and routes (libnl subscriptions to the
// RTNLGRP_* multicast groups), so the daemon reacts to a docker bridge appearing or going and
// to the uplink's MTU changing instead of polling.
#pragma once

#include "common/result.h"
#include "netcfg/netlink/libnl_ptr.h"

namespace dind::netcfg {

class RtnlWatcher {
 public:
  // Subscribes in the calling thread's network namespace.
  static Result<RtnlWatcher> Open();

  // Non-blocking; wait for readability (the event loop does), then call Drain().
  int fd() const;
  // Reads every queued notification and returns how many arrived. When the kernel dropped some
  // (ENOBUFS: the socket buffer overflowed), it returns at least 1: the caller re-reads the
  // whole state anyway, so a lost message is only a reason to look again.
  Result<int> Drain();

 private:
  explicit RtnlWatcher(LibnlPtr<nl_sock> socket) : socket_(std::move(socket)) {}
  LibnlPtr<nl_sock> socket_;
};

}  // namespace dind::netcfg

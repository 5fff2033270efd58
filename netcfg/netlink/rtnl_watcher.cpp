// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/rtnl_watcher.h"

#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>

#include <cerrno>

namespace dind::netcfg {
namespace {

int CountMessage(nl_msg* /*message*/, void* count) {
  ++*static_cast<int*>(count);
  return NL_OK;
}

}  // namespace

Result<RtnlWatcher> RtnlWatcher::Open() {
  LibnlPtr<nl_sock> socket(nl_socket_alloc());
  if (!socket) return Error::Environment("netlink: allocating a socket failed", ENOMEM);
  // Notifications carry no sequence numbers of ours.
  nl_socket_disable_seq_check(socket.get());
  if (const int rc = nl_connect(socket.get(), NETLINK_ROUTE); rc < 0) {
    return Error::Environment(std::string("netlink: connecting to NETLINK_ROUTE failed: ") +
                              nl_geterror(rc));
  }
  if (const int rc =
          nl_socket_add_memberships(socket.get(), RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                                    RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, 0);
      rc < 0) {
    return Error::Environment(std::string("netlink: subscribing to link, address and route "
                                          "changes failed: ") +
                              nl_geterror(rc));
  }
  if (const int rc = nl_socket_set_nonblocking(socket.get()); rc < 0) {
    return Error::Environment(std::string("netlink: making the socket non-blocking failed: ") +
                              nl_geterror(rc));
  }
  return RtnlWatcher(std::move(socket));
}

int RtnlWatcher::fd() const {
  return nl_socket_get_fd(socket_.get());
}

Result<int> RtnlWatcher::Drain() {
  int count = 0;
  nl_socket_modify_cb(socket_.get(), NL_CB_VALID, NL_CB_CUSTOM, CountMessage, &count);
  for (;;) {
    const int rc = nl_recvmsgs_default(socket_.get());
    if (rc >= 0) continue;
    if (rc == -NLE_AGAIN) return count;
    if (rc == -NLE_NOMEM) return count + 1;  // ENOBUFS: notifications lost, state must be re-read
    return Error::Environment(std::string("netlink: reading change notifications failed: ") +
                              nl_geterror(rc));
  }
}

}  // namespace dind::netcfg

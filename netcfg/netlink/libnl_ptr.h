// SPDX-License-Identifier: Apache-2.0
// Owning handles for libnl objects, so every early return releases what libnl allocated.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <memory>

namespace dind::netcfg {

struct LibnlDeleter {
  void operator()(nl_sock* socket) const { nl_socket_free(socket); }
  void operator()(nl_cache* cache) const { nl_cache_free(cache); }
  void operator()(nl_addr* address) const { nl_addr_put(address); }
  void operator()(nl_msg* message) const { nlmsg_free(message); }
  void operator()(nl_object* object) const { nl_object_put(object); }
  void operator()(rtnl_link* link) const { rtnl_link_put(link); }
  void operator()(rtnl_addr* address) const { rtnl_addr_put(address); }
  void operator()(rtnl_route* route) const { rtnl_route_put(route); }
};

template <typename T>
using LibnlPtr = std::unique_ptr<T, LibnlDeleter>;

}  // namespace dind::netcfg
